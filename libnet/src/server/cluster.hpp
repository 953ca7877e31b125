// SPDX-License-Identifier: BSL-1.0
#ifndef LIBNET_SRC_SERVER_CLUSTER_HPP
#define LIBNET_SRC_SERVER_CLUSTER_HPP

#include <libnet/error.hpp>
#include <libnet/log.hpp>
#include <libnet/messages.hpp>
#include <libnet/server_options.hpp>

#include <boost/asio/any_io_executor.hpp>

#include <chrono>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>

namespace libnet::detail {

/// What a node's cluster link tells the server. Directory changes come in the KV stream's
/// order, one at a time, on the link's strand; frames come on NATS's delivery thread, in
/// the order NATS delivered them, and the server handles them as it would a session's.
class cluster_events {
public:
    /// A client of this node holds its id at `revision` (its join_seq). False when the
    /// session is gone meanwhile: the link gives the id back.
    virtual bool cluster_claimed(const std::string& id, std::uint64_t revision) = 0;
    /// A client of this node did not get its id: id_taken, or cluster_unavailable.
    virtual void cluster_claim_failed(const std::string& id, error_code ec) = 0;
    /// A client of another node joined.
    virtual void cluster_joined(const std::string& id, std::uint64_t revision,
                                const std::string& node, const std::string& endpoint) = 0;
    /// The claim of client `id` at `revision` ended (on any node): the client left.
    virtual void cluster_left(const std::string& id, std::uint64_t revision,
                              msg::leave_reason reason) = 0;
    /// A frame from client `from` on node `from_node`: for local client `to`, or, with `to`
    /// empty, a BROADCAST for every local client.
    virtual void cluster_frame(std::string_view to, std::string_view from,
                               std::string_view from_node, std::span<const std::uint8_t> f) = 0;
    /// Whether cluster_log() goes anywhere: when not, callers skip building its strings.
    virtual bool cluster_logging() const noexcept = 0;
    /// A log record (docs/guide.md §11.4); any thread.
    virtual void cluster_log(const log_record& r) = 0;

    // Mailboxes, with cluster::keep_mailboxes(); on libnats's threads.
    /// A store() is answered: an empty code once the stream holds the message, else
    /// queue_full (the mailbox is at its limit) or store_failed.
    virtual void cluster_stored(std::uint64_t token, error_code ec) = 0;
    /// Mailbox `id`, opened as `feed`, is being read: `delivered` messages have been
    /// handed over, and `pending` more are on their way. `ec` when
    /// it could not be opened.
    virtual void cluster_mailbox_opened(const std::string& id, std::uint64_t feed,
                                        std::uint64_t delivered, std::uint64_t pending,
                                        error_code ec) = 0;
    /// A message of mailbox `id` at stream sequence `seq`, stored at `stored_at` (ms since
    /// the Unix epoch), with `pending` more after it then; `record` as cluster_names says.
    virtual void cluster_mail(const std::string& id, std::uint64_t feed, std::uint64_t seq,
                              std::uint64_t pending, std::int64_t stored_at,
                              std::span<const std::uint8_t> record) = 0;

protected:
    ~cluster_events() = default;
};

/// The limits of a cluster's mailbox stream.
struct mail_limits {
    std::uint64_t max_messages = 0;       // per mailbox
    std::chrono::milliseconds max_age{0}; // 0: none
    std::uint32_t max_message_size = 0;   // a record
};

/// A server's membership in a cluster of servers on NATS (docs/architecture.md §11): the
/// directory kept in a JetStream KV bucket and replicated on every node, ids claimed there
/// first-come-first-served, frames forwarded to the node of their recipient, and nodes
/// watching each other's heartbeats.
///
/// @par Thread safety
/// claim(), release(), send() and broadcast() may be called from any thread.
class cluster {
public:
    /// `port`: the server's, to name the node when the options do not.
    cluster(boost::asio::any_io_executor ex, const cluster_options& options, std::uint16_t port,
            cluster_events& events);
    ~cluster();
    cluster(const cluster&) = delete;
    cluster& operator=(const cluster&) = delete;

    /// Keeps mailboxes in the cluster's stream (created by connect()); before connect().
    void keep_mailboxes(const mail_limits& limits);
    /// Connects to NATS, opens the bucket (creating it: three replicas when NATS runs a
    /// cluster of three or more, else one) and waits until the directory's records have
    /// arrived (they become events once the executor runs, before any claim). Blocks;
    /// throws std::runtime_error with the reason.
    void connect();
    /// Starts the heartbeat.
    void start();
    /// Gives back what is still held, waits for NATS to confirm it, and disconnects.
    void stop();

    const std::string& node() const noexcept;
    /// Whether NATS is reachable now: registrations need it.
    bool available() const noexcept;

    /// Claims `id` for a client of this node: cluster_claimed() or cluster_claim_failed()
    /// follows.
    void claim(const std::string& id, const std::string& endpoint);
    /// Gives back `id`, held at `revision`, unless someone holds it at a later one.
    void release(const std::string& id, std::uint64_t revision, msg::leave_reason reason);
    /// Forwards a frame from local client `from` to client `to` on `node`.
    bool send(std::string_view node, std::string_view to, std::string_view from,
              std::span<const std::uint8_t> frame);
    /// Forwards a BROADCAST from local client `from` to every other node.
    bool broadcast(std::string_view from, std::span<const std::uint8_t> frame);

    // Mailboxes: see cluster_mail.
    bool store(std::string_view to, std::span<const std::uint8_t> record, std::uint64_t token);
    void open_mailbox(const std::string& id, std::uint64_t feed);
    void close_mailbox(const std::string& id);
    void ack_mailbox(const std::string& id, std::uint64_t seq);
    void drop_mail(std::uint64_t seq);

    struct impl; // the NATS side (cluster.cpp); public for libnats's callbacks

private:
    std::shared_ptr<impl> impl_;
};

/// Whether this build of libnet has clusters (LIBNET_WITH_NATS).
bool cluster_supported() noexcept;

} // namespace libnet::detail

#endif
