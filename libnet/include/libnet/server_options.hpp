// SPDX-License-Identifier: BSL-1.0
#ifndef LIBNET_SERVER_OPTIONS_HPP
#define LIBNET_SERVER_OPTIONS_HPP

#include <libnet/frame.hpp>
#include <libnet/log.hpp>
#include <libnet/messages.hpp>
#include <libnet/server_hooks.hpp>
#include <libnet/store.hpp>
#include <libnet/tls_options.hpp>
#include <libnet/udp_options.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>

namespace libnet {

/// Limits on guessing secrets and on connections that do not register (docs/guide.md
/// §10.1). Failed secret checks are counted in token buckets per source address and per
/// id; a HELLO whose check they would exceed gets ERROR(rate_limited) and is closed,
/// without its secret being checked.
struct guess_limits {
    /// Failed checks one address may make at once; then one more per `refill`.
    std::uint32_t address_burst = 5;
    /// Failed checks of one id's secret, from all addresses that have failed before; then
    /// one more per `refill`. An address without a recent failure is never held back by
    /// it, so a client with the right secret gets in while its id is being guessed at.
    std::uint32_t id_burst = 20;
    /// Time for one token to come back to a bucket; 0: tokens never come back.
    std::chrono::milliseconds refill{2000};
    /// Connections from one address that have not registered yet; more are answered with
    /// ERROR(rate_limited) and closed. 0 (the default): no limit, since a join storm from
    /// one address (clients behind a NAT, a load generator) opens many at once; the HELLO
    /// deadline bounds how long each may wait.
    std::size_t unregistered_per_address = 0;
};

/// Several servers forming one service over NATS (docs/guide.md §11). Each server of a
/// cluster is a node; they share one directory and one id space and forward messages to
/// each other's clients.
struct cluster_options {
    /// NATS servers, comma-separated: "nats://[user:pass@]host:port,...". Empty: no cluster,
    /// the server stands alone.
    std::string servers;
    /// The service's name: nodes with the same name (on the same NATS) form one cluster.
    /// Letters, digits, '-' and '_'.
    std::string name = "libnet";
    /// This node's name, unique in the cluster (letters, digits, '-' and '_'); empty: the
    /// host name and the server's port.
    std::string node_id;
    /// Nodes tell each other they are alive this often ...
    std::chrono::milliseconds heartbeat_interval{200};
    /// ... and a node silent for this many intervals is taken for dead: its clients leave
    /// (LEFT lost) everywhere and their ids are free again.
    std::uint32_t heartbeat_misses = 4;
    /// Time to reach NATS and load the directory at start-up.
    std::chrono::milliseconds connect_timeout{5000};
};

/// Settings of a libnet::server. Every limit has a finite default; where 0 means "off"
/// the member says so.
///
/// @par Hooks
/// on_accept, on_register, on_leave, on_route and the app_handlers run on the calling
/// session's strand (on_accept: on the accepting strand), outside the server's locks, so
/// with a multi-threaded io_context they may run concurrently and must be thread-safe.
/// They must not block; they may call server::stop() and keep app_responder objects for
/// later. `log`, too, may be called from several threads at once (see log_function).
struct server_options {
    /// Address to bind: an IP address or a host name resolved at construction.
    std::string host = "127.0.0.1";
    /// Port to bind; 0 picks an ephemeral port (read it back with local_endpoint()).
    std::uint16_t port = 0;

    /// Largest frame value accepted from clients, announced in WELCOME; at least
    /// min_max_frame_size (1024), or the server constructor throws std::invalid_argument.
    std::uint32_t max_frame = default_max_frame_size;
    /// Bytes a client's outbound queue may hold before it is dropped as a slow consumer.
    std::size_t max_queue_bytes = 8u << 20;
    /// Registered clients at most; further HELLOs get ERROR(server_full). The directory
    /// snapshot must also fit in one frame of `max_frame` bytes (about 30,000 clients with
    /// short ids and no endpoints in 1 MiB): a registration that would not fit is refused
    /// the same way.
    std::size_t max_clients = 100'000;
    /// Time a new connection has to send HELLO.
    std::chrono::milliseconds hello_timeout{5000};
    /// Silence after which the server PINGs a client; 0 turns heartbeats off.
    std::chrono::milliseconds heartbeat_interval{5000};
    /// Unanswered PINGs after which a client is dropped as lost.
    std::uint32_t heartbeat_misses = 3;
    /// Time a closing connection gets to flush and see the peer close before it is cut.
    std::chrono::milliseconds close_timeout{2000};
    /// Time a frame has, once its first bytes arrived, to arrive whole; after it the
    /// connection gets ERROR(frame_timeout) and is closed. 0: no limit.
    std::chrono::milliseconds frame_timeout{30'000};
    /// Connections the kernel may hold waiting to be accepted (listen()'s backlog; Linux
    /// caps it at net.core.somaxconn).
    int backlog = 4096;

    // Termination policies. When one fires, every client gets TERM and the server stops.
    /// A client's TERM stops the server; when false it is refused with ERROR(not_permitted).
    bool allow_client_term = true;
    /// When not empty, only clients registered under these ids may TERM the server (with
    /// allow_client_term); the others get ERROR(not_permitted). Empty: any client may.
    std::set<std::string> term_ids;
    /// Stop once this many clients have registered (counting all registrations); 0: off.
    std::size_t teardown_at = 0;
    /// Stop once this many clients have registered and all of them have left; 0: off.
    std::size_t expect = 0;
    /// The barrier: until this many clients are online at once, registrants get WELCOME but
    /// no directory, their SEND, BROADCAST, routed application frames and INTRO_REQUEST get
    /// ERROR(not_ready), and nobody hears of joins and leaves; when the N-th registers,
    /// everyone online gets the directory at once and the barrier stays open for good.
    /// 0: off. Not with a cluster (the constructor throws std::invalid_argument).
    std::size_t barrier = 0;
    /// Stop when a registered client leaves.
    bool exit_on_disconnect = false;
    /// Stop after this long with no client registered; 0: off.
    std::chrono::milliseconds idle_timeout{0};

    /// How long a peer-link token from INTRODUCTION stays valid (docs/protocol.md §15.2).
    /// The accepting client checks the expiry with its own clock, so the clocks of
    /// clients that link must agree to well within this.
    std::chrono::milliseconds peer_token_ttl{30'000};

    // Access control (docs/guide.md §10.1).
    /// When not empty, only these ids (and those in `secrets`) may register; others get
    /// ERROR(not_allowed) and are closed. Every id on the list has a mailbox.
    std::set<std::string> allow_ids;
    /// Per-id secrets: a client registering under one of these ids must send its secret as
    /// HELLO.credentials, or gets ERROR(auth_failed) after `auth_failure_delay` and is
    /// closed. With an allow list, these ids are allowed too. The server keeps only a
    /// digest of each and never logs them.
    std::map<std::string, std::string> secrets;
    /// How long a failed secret check waits before its ERROR and close.
    std::chrono::milliseconds auth_failure_delay{1000};
    /// Limits on guessing secrets and on unregistered connections per address.
    guess_limits guesses;

    // Mailboxes and store-and-forward (docs/guide.md §10). Ids on the allow list have a
    // mailbox; with a durable store so does every id that ever registered by name.
    /// Where mailboxes are kept; null: in memory only (make_memory_store()). In a cluster
    /// it must stay null: the mailboxes of the allow list's ids live in a JetStream stream
    /// (docs/guide.md §11), and the constructor throws std::invalid_argument otherwise.
    std::shared_ptr<message_store> store;
    /// Messages one mailbox may hold (delivered but unacknowledged ones count); beyond it
    /// senders get ERROR(queue_full).
    std::size_t mailbox_max_messages = 10'000;
    /// Bytes of message bodies one mailbox may hold; beyond it senders get ERROR(queue_full).
    /// Not applied in a cluster, whose stream counts messages only.
    std::size_t mailbox_max_bytes = 16u << 20;
    /// How long a stored message waits before it is dropped unread; 0: forever. A SEND may
    /// ask for less (SEND.ttl_ms), not more.
    std::chrono::milliseconds message_ttl{0};
    /// Messages one GET returns at most.
    std::uint32_t max_get = 1000;

    /// TLS on the port (docs/guide.md §12); by default plain TCP.
    server_tls tls;
    /// A UDP endpoint beside the TCP one (docs/guide.md §13); off by default. Its clients
    /// are ordinary clients; TLS does not cover it.
    server_udp udp;

    /// Join a cluster of servers on NATS; by default the server stands alone. Needs libnet
    /// built with NATS (LIBNET_WITH_NATS); otherwise the server refuses to start.
    cluster_options cluster;

    /// Where log lines go; empty: nowhere.
    log_function log;

    // Hooks and handlers. They run on the calling session's strand (on_accept: on the
    // accepting strand), outside the server's locks, so with a multi-threaded io_context they may
    // run concurrently and must be thread-safe. They must not block; they may call server::stop()
    // and keep app_responders for later.

    /// A TCP connection arrived, or a UDP client proved its address (its address and port
    /// given as a TCP endpoint); false closes it at once (a UDP client gets a RESET).
    std::function<bool(const boost::asio::ip::tcp::endpoint&)> on_accept;
    /// A client asks to register (its id well-formed; whether it is free is checked
    /// after); a refusal answers ERROR(not_permitted, reason) and closes the connection.
    std::function<refusal(const registration&)> on_register;
    /// A registered client left.
    std::function<void(std::string_view id, msg::leave_reason)> on_leave;
    /// A SEND, BROADCAST or application frame is about to be routed; a refusal drops it
    /// and answers the sender with ERROR(not_permitted, reason).
    std::function<refusal(const routed_message&)> on_route;
    /// Server-side handlers of application types (0x8000-0xFFFF). A handled type is not
    /// routed; an unhandled one is routed like SEND when it names a recipient (`to`), and
    /// answered with ERROR(unknown_type) when it does not.
    std::map<std::uint16_t, app_handler> app_handlers;
};

} // namespace libnet

#endif
