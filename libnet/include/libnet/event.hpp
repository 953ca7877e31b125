#ifndef LIBNET_EVENT_HPP
#define LIBNET_EVENT_HPP

#include <libnet/messages.hpp>

#include <cstdint>
#include <string>
#include <system_error>
#include <variant>

namespace libnet {

/// A client in the directory.
struct peer_info {
    std::string id;
    std::uint64_t join_seq = 0; ///< Join order: smaller joined earlier.
    std::string endpoint;       ///< Advertised direct-link endpoint, empty if none.

    friend bool operator==(const peer_info&, const peer_info&) = default;
};

/// A message delivered to this client.
struct message {
    std::string from; ///< The sender's registered id, as stamped by the server.
    std::string body;
    std::uint64_t seq = 0; ///< Server sequence number.
    bool broadcast = false;
};

/// A client registered.
struct peer_joined {
    peer_info peer;
};

/// A client left.
struct peer_left {
    std::string id;
    msg::leave_reason reason = msg::leave_reason::bye;
};

/// The server reported an error about something this client sent; the connection stays up.
struct server_error {
    error_code code;
    std::string text;
    std::uint64_t ref = 0;      ///< The ref of the frame it refers to, 0 if none.
    std::uint16_t ref_type = 0; ///< The type of that frame.
    std::string id;             ///< The client it is about (no_such_client: the recipient).
};

/// The session was terminated (TERM). The last event; receive then fails with
/// error::terminated.
struct terminated {
    msg::term_reason reason = msg::term_reason::shutdown;
    std::string by; ///< The client that asked, for term_reason::requested.
    std::string text;
};

using event = std::variant<message, peer_joined, peer_left, server_error, terminated>;

} // namespace libnet

#endif
