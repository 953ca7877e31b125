// SPDX-License-Identifier: BSL-1.0
#ifndef LIBNET_SRC_UDP_COOKIE_HPP
#define LIBNET_SRC_UDP_COOKIE_HPP

#include "datagram.hpp"

#include <boost/asio/ip/udp.hpp>

#include <chrono>
#include <string>

namespace libnet::detail::udp {

/// Stateless address proofs (docs/protocol.md §17.3): a cookie is the time it was made and
/// an HMAC-SHA256, under a key of this process, over that time, the client's address and
/// port and the nonce of its INIT. Only the holder of the address can echo it back, and
/// the server keeps nothing until it does.
class cookie_jar {
public:
    using clock = std::chrono::steady_clock;

    explicit cookie_jar(std::chrono::seconds lifetime);

    cookie_bytes make(const boost::asio::ip::udp::endpoint& from, std::uint64_t nonce,
                      clock::time_point now) const;

    enum class verdict { valid, forged, expired };
    verdict check(const cookie_bytes& c, const boost::asio::ip::udp::endpoint& from,
                  std::uint64_t nonce, clock::time_point now) const;

    std::chrono::seconds lifetime() const noexcept { return lifetime_; }

private:
    std::uint32_t seconds(clock::time_point t) const;
    cookie_bytes mac(std::uint32_t time, const boost::asio::ip::udp::endpoint& from,
                     std::uint64_t nonce) const;

    std::string key_;
    clock::time_point epoch_;
    std::chrono::seconds lifetime_;
};

} // namespace libnet::detail::udp

#endif
