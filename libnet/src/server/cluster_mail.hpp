// SPDX-License-Identifier: BSL-1.0
#ifndef LIBNET_SRC_SERVER_CLUSTER_MAIL_HPP
#define LIBNET_SRC_SERVER_CLUSTER_MAIL_HPP

#include "cluster.hpp"

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <shared_mutex>
#include <span>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>

struct __natsConnection;
struct __natsSubscription;
struct __jsCtx;

namespace libnet::detail {

/// A cluster's mailboxes on NATS (docs/architecture.md §11): one JetStream stream, a subject
/// per client id. Any node stores into any mailbox; the node where the id is online reads
/// it with an ordered consumer of its own, and acknowledgements purge the subject.
///
/// @par Thread safety
/// Every member may be called from any thread. Consumers are created and removed on a
/// thread of the stream's own, since libnats blocks for them; messages and answers come on
/// libnats's threads, while `life` is held shared and `stopped` is false.
class cluster_mail {
public:
    cluster_mail(__natsConnection* nc, std::string_view cluster_name, const mail_limits& limits,
                 std::chrono::milliseconds wait, cluster_events& events, std::shared_mutex& life,
                 const std::atomic<bool>& stopped);
    ~cluster_mail(); // removes every consumer; call before the connection closes
    cluster_mail(const cluster_mail&) = delete;
    cluster_mail& operator=(const cluster_mail&) = delete;

    /// Creates the stream (three replicas where NATS can, else one) or accepts the one there.
    /// Blocks; throws std::runtime_error with the reason.
    void create();
    /// Stores `record` in the mailbox of `to`: cluster_stored(token, ...) follows, unless
    /// this returns false (nothing was sent).
    bool store(std::string_view to, std::span<const std::uint8_t> record, std::uint64_t token);
    /// Starts reading `id`'s mailbox from its first message: cluster_mailbox_opened(), and
    /// cluster_mail() for each message, all tagged `feed`.
    void open(const std::string& id, std::uint64_t feed);
    /// Stops reading `id`'s mailbox.
    void close(const std::string& id);
    /// Removes `id`'s messages up to stream sequence `seq`.
    void ack(const std::string& id, std::uint64_t seq);
    /// Removes the message at stream sequence `seq` (it expired).
    void drop(std::uint64_t seq);
    /// Waits up to `timeout` for the stream to answer every store().
    void drain(std::chrono::milliseconds timeout);

    struct reader; // one open mailbox; public for libnats's callbacks
    cluster_events& events;
    std::shared_mutex& life;
    const std::atomic<bool>& stopped;

private:
    void run(); // the worker thread
    void post(std::function<void()> job);
    void api(const std::string& subject, const std::string& body);

    __natsConnection* nc_;
    __jsCtx* js_ = nullptr;
    __natsSubscription* api_sub_ = nullptr;
    std::string name_, stream_, api_inbox_;
    mail_limits limits_;
    std::chrono::milliseconds wait_;

    std::unordered_map<std::string, __natsSubscription*> readers_; // the worker's
    std::mutex mutex_;
    std::condition_variable wake_;
    std::deque<std::function<void()>> jobs_;
    bool done_ = false;
    std::thread worker_;
};

} // namespace libnet::detail

#endif
