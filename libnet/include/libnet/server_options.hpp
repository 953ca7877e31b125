#ifndef LIBNET_SERVER_OPTIONS_HPP
#define LIBNET_SERVER_OPTIONS_HPP

#include <libnet/frame.hpp>
#include <libnet/log.hpp>

#include <chrono>
#include <cstdint>
#include <string>

namespace libnet {

/// Settings of a libnet::server. Every limit has a finite default; where 0 means "off"
/// the member says so.
struct server_options {
    /// Address to bind: an IP address or a host name resolved at construction.
    std::string host = "127.0.0.1";
    /// Port to bind; 0 picks an ephemeral port (read it back with local_endpoint()).
    std::uint16_t port = 0;

    /// Largest frame value accepted from clients, announced in WELCOME.
    std::uint32_t max_frame = default_max_frame_size;
    /// Bytes a client's outbound queue may hold before it is dropped as a slow consumer.
    std::size_t max_queue_bytes = 8u << 20;
    /// Registered clients at most; further HELLOs get ERROR(server_full).
    std::size_t max_clients = 10'000;
    /// Time a new connection has to send HELLO.
    std::chrono::milliseconds hello_timeout{5000};
    /// Silence after which the server PINGs a client; 0 turns heartbeats off.
    std::chrono::milliseconds heartbeat_interval{5000};
    /// Unanswered PINGs after which a client is dropped as lost.
    std::uint32_t heartbeat_misses = 3;
    /// Time a closing connection gets to flush and see the peer close before it is cut.
    std::chrono::milliseconds close_timeout{2000};

    // Termination policies. When one fires, every client gets TERM and the server stops.
    /// A client's TERM stops the server; when false it is refused with ERROR(not_permitted).
    bool allow_client_term = true;
    /// Stop once this many clients have registered (counting all registrations); 0: off.
    std::size_t teardown_at = 0;
    /// Stop once this many clients have registered and all of them have left; 0: off.
    std::size_t expect = 0;
    /// Stop when a registered client leaves.
    bool exit_on_disconnect = false;
    /// Stop after this long with no client registered; 0: off.
    std::chrono::milliseconds idle_timeout{0};

    /// Where log lines go; empty: nowhere.
    log_function log;
};

} // namespace libnet

#endif
