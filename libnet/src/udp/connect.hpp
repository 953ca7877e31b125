// SPDX-License-Identifier: BSL-1.0
#ifndef LIBNET_SRC_UDP_CONNECT_HPP
#define LIBNET_SRC_UDP_CONNECT_HPP

#include "stream.hpp"

#include <libnet/error.hpp>

#include <chrono>
#include <utility>

namespace libnet::detail::udp {

/// The client's side of the handshake (docs/protocol.md §16.3) with the server at `to`:
/// INIT, COOKIE, INIT with the cookie, ACCEPT, each resent with a doubling timeout until
/// `deadline`. On success the stream runs over a socket of its own, on `ex` (a strand).
boost::asio::awaitable<std::pair<error_code, std::shared_ptr<stream>>>
connect(boost::asio::any_io_executor ex, boost::asio::ip::udp::endpoint to, udp_transport options,
        std::chrono::steady_clock::time_point deadline);

} // namespace libnet::detail::udp

#endif
