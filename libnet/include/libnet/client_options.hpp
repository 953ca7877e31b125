#ifndef LIBNET_CLIENT_OPTIONS_HPP
#define LIBNET_CLIENT_OPTIONS_HPP

#include <libnet/frame.hpp>

#include <chrono>
#include <cstdint>
#include <string>

namespace libnet {

/// Settings of a libnet::client. Every limit has a finite default.
struct client_options {
    /// Id to register under; empty lets the server assign one (the client's ip:port).
    std::string id;
    /// Endpoint ("host:port") advertised in the directory for direct links; empty: none.
    std::string advertise;
    /// Opaque credentials sent in HELLO; empty: none.
    std::string credentials;

    /// Largest frame value accepted from the server.
    std::uint32_t max_frame = default_max_frame_size;
    /// Bytes the outbound queue may hold; sends beyond it wait for room.
    std::size_t max_queue_bytes = 8u << 20;
    /// Received events held for the application; beyond it the client stops reading
    /// (the server then sees a slow consumer if it lasts).
    std::size_t max_events = 65'536;
    /// Time for TCP connect, WELCOME and the directory snapshot together.
    std::chrono::milliseconds connect_timeout{10'000};
    /// Time a closing connection gets to flush and see the server close.
    std::chrono::milliseconds close_timeout{2000};
};

} // namespace libnet

#endif
