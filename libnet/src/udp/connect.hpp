// SPDX-License-Identifier: BSL-1.0
#ifndef LIBNET_SRC_UDP_CONNECT_HPP
#define LIBNET_SRC_UDP_CONNECT_HPP

#include "stream.hpp"

#include <libnet/error.hpp>

#include <chrono>

namespace libnet::detail::udp {

/// How connect() ended: on success, the stream and the address of this host that reaches
/// the server.
struct connected {
    error_code ec;
    std::shared_ptr<udp::stream> stream;
    boost::asio::ip::address local;
};

/// The client's side of the handshake (docs/protocol.md §17.3) with the server at `to`:
/// INIT, COOKIE, INIT with the cookie, ACCEPT, each resent with a doubling timeout until
/// `deadline`. On success the stream runs over a socket of its own, on `ex` (a strand).
boost::asio::awaitable<connected> connect(boost::asio::any_io_executor ex,
                                          boost::asio::ip::udp::endpoint to, udp_transport options,
                                          std::chrono::steady_clock::time_point deadline);

} // namespace libnet::detail::udp

#endif
