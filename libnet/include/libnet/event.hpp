// SPDX-License-Identifier: BSL-1.0
#ifndef LIBNET_EVENT_HPP
#define LIBNET_EVENT_HPP

#include <libnet/messages.hpp>

#include <chrono>
#include <cstdint>
#include <string>
#include <system_error>
#include <variant>
#include <vector>

namespace libnet {

/// A client in the directory.
struct peer_info {
    std::string id;             ///< The client's registered id.
    std::uint64_t join_seq = 0; ///< Join order: smaller joined earlier.
    std::string endpoint;       ///< Advertised direct-link endpoint, empty if none.

    /// Equal when every member is.
    friend bool operator==(const peer_info&, const peer_info&) = default;
};

/// How a message travels (client::async_send) or travelled (message::via).
enum class route {
    automatic, ///< Over a direct link when one is up, else through the server.
    direct,    ///< Over a direct link only (error::no_peer_link when there is none).
    server,    ///< Through the server.
};

/// A message delivered to this client.
struct message {
    std::string from;          ///< The sender's id: stamped by the server or proven on the link;
                               ///< empty for a reply from a server-side handler.
    std::string body;          ///< The message's bytes, as the sender gave them.
    std::uint64_t seq = 0;     ///< Server sequence number (link sequence number when direct).
    bool broadcast = false;    ///< Sent with async_broadcast, to every client.
    std::uint16_t type = 0;    ///< 0 for a text message, else the application type.
    route via = route::server; ///< route::direct or route::server.
    /// From this client's mailbox (docs/guide.md §10): `seq` is its message id, and the
    /// client acknowledges it to the server once the application has it.
    bool mailbox = false;
};

/// A client registered.
struct peer_joined {
    peer_info peer; ///< Its directory entry.
};

/// A client left.
struct peer_left {
    std::string id;                                    ///< The id it held.
    msg::leave_reason reason = msg::leave_reason::bye; ///< Why it left.
};

/// The server reported an error about something this client sent; the connection stays up.
struct server_error {
    error_code code;            ///< What went wrong (error::no_such_client, ...).
    std::string text;           ///< The server's explanation, for people.
    std::uint64_t ref = 0;      ///< The ref of the frame it refers to, 0 if none.
    std::uint16_t ref_type = 0; ///< The type of that frame.
    std::string id;             ///< The client it is about (no_such_client: the recipient).
};

/// The session was terminated (TERM). The last event; receive then fails with
/// error::terminated.
struct terminated {
    msg::term_reason reason = msg::term_reason::shutdown; ///< Why the session ends.
    std::string by;   ///< The client that asked, for term_reason::requested.
    std::string text; ///< The text given with the request or by server::stop.
};

/// A direct link to `id` is up: both sides proved who they are and route::automatic now
/// uses it.
struct link_up {
    std::string id; ///< The peer at the other end.
};

/// A direct link is down (or could not be set up); messages to `id` go through the
/// server again, including any the link had not confirmed.
struct link_down {
    std::string id;    ///< The peer at the other end.
    error_code reason; ///< Why the link ended or could not be set up.
};

/// The server stored a message of ours for recipients that are offline; they get it when
/// they log in. (A confirmed send reports this in its receipt instead.)
struct stored {
    std::string to;            ///< The recipient; empty for a broadcast.
    std::uint32_t offline = 0; ///< Recipients it waits for.
    std::uint64_t ref = 0;     ///< The ref of the SEND or BROADCAST.
};

/// The connection to the server was lost and the client will try again after `delay`
/// (client_options::reconnect); one per attempt. Sends wait meanwhile; receiving goes on.
struct reconnecting {
    error_code reason;               ///< Why the connection ended, or why the last attempt failed.
    unsigned attempt = 1;            ///< The attempt about to be made, from 1.
    std::chrono::milliseconds delay; ///< How long the client waits before it.
};

/// The client is registered again under the same id. The peer_joined and peer_left events
/// that follow it bring the directory up to date with what changed meanwhile; the mailbox
/// resumes after the last message the application took, and what was not yet written to
/// the old connection is sent on the new one.
struct reconnected {
    unsigned attempts = 1; ///< Attempts it took.
};

/// What the server said of a confirmed send (client::async_send_confirmed).
struct receipt {
    std::uint32_t offline = 0; ///< Recipients that were offline: their copy waits for them.
    bool durable = false;      ///< Committed to a durable store before the server answered.
    /// A broadcast: recipients whose mailbox was full (they don't get it).
    std::vector<std::string> refused;
};

/// Everything client::async_receive hands over: one of the structs above. Visit it, or
/// test for the kinds the application cares about with std::get_if.
using event = std::variant<message, peer_joined, peer_left, server_error, terminated, link_up,
                           link_down, stored, reconnecting, reconnected>;

} // namespace libnet

#endif
