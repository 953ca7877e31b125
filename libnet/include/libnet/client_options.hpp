// SPDX-License-Identifier: BSL-1.0
#ifndef LIBNET_CLIENT_OPTIONS_HPP
#define LIBNET_CLIENT_OPTIONS_HPP

#include <libnet/event.hpp>
#include <libnet/frame.hpp>
#include <libnet/tls_options.hpp>
#include <libnet/udp_options.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <string>

namespace libnet {

/// Reconnecting after the connection to the server is lost (client_options::reconnect,
/// docs/guide.md §3).
///
/// The delay before attempt n is initial_delay · multiplier^(n-1), at most max_delay,
/// scaled by a random factor in [1 - jitter, 1 + jitter] so that clients cut off together
/// do not come back together.
struct reconnect_policy {
    /// Off by default: a lost connection ends the session, as without this policy.
    bool enabled = false;
    /// Delay before the first attempt.
    std::chrono::milliseconds initial_delay{100};
    /// Longest delay between attempts.
    std::chrono::milliseconds max_delay{5000};
    /// Growth of the delay from one attempt to the next (at least 1).
    double multiplier = 2.0;
    /// Spread of each delay, as a fraction of it (0 to 1).
    double jitter = 0.2;
    /// Attempts before the client gives up and the session ends with the last attempt's
    /// error (about five minutes with the other defaults).
    unsigned max_attempts = 60;
};

/// Settings of a libnet::client. Every limit has a finite default.
///
/// @par Hooks
/// app_handlers, on_message and on_directory_change run on the client's strand as frames
/// arrive, before anything reaches async_receive. They must not block, and may start
/// client operations. A hook that throws ends the session with error::hook_failed.
struct client_options {
    /// Id to register under; empty lets the server assign one (the client's ip:port).
    std::string id;
    /// Listen for direct links from peers on "[host:]port" (port 0: ephemeral; no host:
    /// all interfaces); empty: don't listen.
    std::string listen;
    /// Endpoint ("host:port") advertised in the directory for direct links. Empty while
    /// listening: the listening address, or, when listening on every interface, the local
    /// address of the connection to the server; with the listening port either way.
    std::string advertise;
    /// Link with every other client that listens: on each directory change this client
    /// dials those that joined after it, so every pair gets exactly one link.
    bool mesh = false;
    /// Direct links run over TLS 1.3: this client gets a key pair and a self-signed
    /// certificate, peers pin its digest through the server, and the server binds the
    /// dialer's into each token (docs/protocol.md §15.3). false: links are plain TCP (and
    /// the tokens are bearer tokens), for peers that can't do TLS.
    bool encrypt_links = true;
    /// Credentials sent in HELLO: the id's secret on a server with secrets
    /// (server_options::secrets); empty: none.
    std::string credentials;
    /// Pull mode (docs/guide.md §10.4): the server keeps this client's messages in its
    /// mailbox until async_fetch asks for them.
    bool pull = false;
    /// Receive the directory: the snapshot at registration and a peer_joined / peer_left
    /// for every change. false opts out of presence (for large deployments): this client
    /// is listed for the others and reachable as usual, but gets no snapshot and no
    /// changes, so client::directory() stays empty; client::async_lookup asks about one id.
    /// Direct links follow the directory, so such a client does not dial them
    /// (async_connect_peer fails with no_peer_link) and should not listen for them.
    bool directory = true;
    /// Mailbox messages up to this id were already handed to the application by an earlier
    /// session (client::last_delivered() of it): the server forgets them and this client
    /// drops them if they come again.
    std::uint64_t resume_after = 0;
    /// TLS to the server (docs/guide.md §12); by default plain TCP.
    client_tls tls;
    /// Reach the server over UDP (docs/guide.md §13), as a host given as "udp://HOST" also
    /// asks. Not with `tls`: async_connect fails with operation_not_supported.
    bool over_udp = false;
    /// The UDP session's settings.
    udp_transport udp;

    /// Reconnect after a lost connection, re-register under the same id and resume the
    /// mailbox (docs/guide.md §3, "Reconnecting"); off by default.
    reconnect_policy reconnect;

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

    // Hooks. They run on the client's strand as frames arrive, before anything reaches
    // async_receive; they must not block, and may start client operations.

    /// Called for each application-type message of that type instead of queuing it as
    /// an event.
    std::map<std::uint16_t, std::function<void(const message&)>> app_handlers;
    /// Called for every message not claimed by an app handler; return true to consume it
    /// (false: it is queued as an event as usual).
    std::function<bool(const message&)> on_message;
    /// Called with each peer_joined / peer_left as it arrives (the event is still queued).
    std::function<void(const event&)> on_directory_change;
};

} // namespace libnet

#endif
