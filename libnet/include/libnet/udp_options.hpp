// SPDX-License-Identifier: BSL-1.0
#ifndef LIBNET_UDP_OPTIONS_HPP
#define LIBNET_UDP_OPTIONS_HPP

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>

namespace libnet {

/// How a session runs over UDP (docs/protocol.md §17, docs/guide.md §13): the same frames as
/// over TCP, in numbered packets that are acknowledged, retransmitted and put back in order.
/// Both ends take their own settings; nothing here has to match the peer's.
struct udp_transport {
    /// Largest datagram sent, headers included: 1,200 bytes passes any path that carries
    /// IPv6 and the usual tunnels. Frames larger than a packet go in fragments. 256-65,507.
    std::size_t max_datagram = 1200;
    /// Packets received beyond the next one expected that this side holds (its window);
    /// bounds the memory a session may take for received data. At least 2.
    std::uint16_t window = 256;
    /// Retransmission timeout before the first round-trip time is measured (RFC 6298) ...
    std::chrono::milliseconds initial_rto{1000};
    /// ... and its bounds once it is: at least this ...
    std::chrono::milliseconds min_rto{200};
    /// ... and at most this.
    std::chrono::milliseconds max_rto{10'000};
    /// Timeouts in a row, each twice as long as the one before, after which the peer is
    /// given up for unreachable (error::unreachable).
    std::uint32_t max_timeouts = 8;
    /// Time received data may wait without progress for a missing packet or the rest of a
    /// fragmented frame; then the session ends with error::frame_timeout.
    std::chrono::milliseconds reassembly_timeout{60'000};
    /// Client: silence after which it sends an acknowledgement anyway, so a NAT between it
    /// and the server keeps the mapping (most forget after 30 s or more); 0: never.
    std::chrono::milliseconds keepalive{15'000};
};

/// The server's UDP endpoint (server_options::udp).
struct server_udp {
    /// Open a UDP endpoint beside the TCP one. Not with server_options::tls: UDP sessions
    /// travel in clear, and the server constructor throws std::invalid_argument.
    bool enabled = false;
    /// Address to bind; empty: server_options::host.
    std::string host;
    /// Port to bind; 0 picks an ephemeral port (server::udp_endpoint()).
    std::uint16_t port = 0;
    /// Lifetime of an address proof (cookie): a client must echo it within this time.
    std::chrono::seconds cookie_lifetime{10};
    /// The server's side of every UDP session.
    udp_transport transport;
};

} // namespace libnet

#endif
