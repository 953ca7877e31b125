// SPDX-License-Identifier: BSL-1.0
#ifndef LIBNET_SRC_CLIENT_PEER_LINK_HPP
#define LIBNET_SRC_CLIENT_PEER_LINK_HPP

#include "../wire/connection.hpp"
#include "pending.hpp"

#include <libnet/client_options.hpp>
#include <libnet/event.hpp>

#include <deque>
#include <string>

namespace libnet::detail {

class client_core;

/// A direct link to another client (docs/protocol.md §15). Its state is the core's: every
/// member is touched on the client's strand only.
class peer_link final : public connection {
public:
    enum class state {
        handshake, ///< PEER_HELLO / PEER_WELCOME not yet exchanged.
        syncing,   ///< Verified; our switch marker is on its way through the server.
        up,        ///< Messages from route::automatic and route::direct go here.
    };

    /// A message sent on the link and not yet acknowledged: re-sent through the server
    /// if the link drops.
    struct unacked_message {
        std::uint64_t seq;
        std::uint16_t type; // 0: text
        std::string body;
    };

    /// A send waiting for the link (syncing, or the window is full).
    struct waiter {
        std::uint16_t type;
        std::string body;
        route how;
        pending<> op;
    };

    peer_link(transport stream, const client_options& o, client_core* core, bool dialer);

    using connection::clear_deadline;
    using connection::input_pending;
    using connection::resume_reading;
    using connection::set_deadline;
    using connection::set_heartbeat;

    bool verified() const noexcept { return st != state::handshake; }

    const bool dialer;
    state st = state::handshake;
    std::string peer; // the dialed id, then the proven one
    std::uint64_t id = 0;
    std::string expect_proof; // dialer: what PEER_WELCOME must carry
    std::string dialer_key;   // acceptor over TLS: the link key the dialer's certificate has

    // Sending side.
    std::uint64_t next_seq = 1;
    std::deque<unacked_message> unacked;
    std::size_t unacked_bytes = 0;
    std::deque<waiter> waiting;

    // Receiving side.
    std::uint64_t delivered = 0; // highest link seq received
    std::uint64_t acked = 0;     // highest we acknowledged
    std::size_t unacked_in = 0;  // bytes of messages received since our last ACK
    bool ack_posted = false;
    bool sync_pending = false; // the peer's marker came before we were verified

    bool gone = false; // on_closing ran

private:
    void on_frame(frame_view f) override;
    void on_closing(error_code reason) override;
    bool want_read() override;

    client_core* core_; // outlives the link's run (the run holds the core)
};

} // namespace libnet::detail

#endif
