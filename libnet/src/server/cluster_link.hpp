// SPDX-License-Identifier: BSL-1.0
#ifndef LIBNET_SRC_SERVER_CLUSTER_LINK_HPP
#define LIBNET_SRC_SERVER_CLUSTER_LINK_HPP

// The NATS side of a cluster (cluster::impl), shared by its parts: the set-up
// (cluster_setup.cpp), the directory's I/O (cluster_watch.cpp) and the handle with the
// frames between nodes (cluster.cpp). libnats calls back on its own threads: directory
// records, heartbeats and publish acknowledgements are posted to the link's strand, which
// owns all of the link's state; forwarded frames go straight to the server, whose routing
// is thread-safe, from the one delivery thread (so they keep NATS's order).

#include "cluster.hpp"
#include "cluster_mail.hpp"
#include "cluster_names.hpp"
#include "cluster_replica.hpp"
#include "outboxes.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ip/host_name.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <algorithm>
#include <atomic>
#include <charconv>
#include <condition_variable>
#include <mutex>
#include <nats/nats.h>
#include <optional>
#include <random>
#include <shared_mutex>
#include <stdexcept>
#include <unordered_map>
#include <vector>

namespace libnet::detail {

namespace asio = boost::asio;
namespace names = cluster_names;

/// A fresh run's epoch: 64 random bits in hex.
std::string random_epoch();
/// The node id when none is given: the host name and the server's port.
std::string default_node(std::uint16_t port);

struct cluster::impl final : std::enable_shared_from_this<impl>, cluster_replica::link {
    impl(asio::any_io_executor ex, const cluster_options& o, std::uint16_t port, cluster_events& ev)
        : strand(asio::make_strand(ex)), options(o), events(ev),
          node(o.node_id.empty() ? default_node(port) : o.node_id), epoch(random_epoch()),
          bucket(names::bucket(o.name)), key_prefix("$KV." + bucket + "."),
          broadcast_subject(names::broadcast_subject(o.name)),
          own_subject(names::node_subject(o.name, node)),
          batches(
              o.name,
              [this](const std::string& subject, std::span<const std::uint8_t> batch) {
                  natsConnection_PublishRequest(nc, subject.c_str(), own_subject.c_str(),
                                                batch.data(), static_cast<int>(batch.size()));
              },
              [this](std::function<void()> flush) {
                  asio::post(strand.get_inner_executor(),
                             [self = shared_from_this(), flush = std::move(flush)] {
                                 std::shared_lock alive(self->life);
                                 if (!self->stopped)
                                     flush();
                             });
              }),
          dir(node, epoch, o.heartbeat_interval, o.heartbeat_misses, ev, *this),
          beat_timer(strand) {}

    ~impl() { close(); }

    asio::strand<asio::any_io_executor> strand;
    cluster_options options;
    cluster_events& events;
    std::string node, epoch, bucket, key_prefix, broadcast_subject, own_subject;

    outboxes batches;
    std::atomic<std::size_t> max_payload{0}; // NATS's, from the server we are connected to

    natsOptions* nopts = nullptr;
    natsConnection* nc = nullptr;
    jsCtx* js = nullptr;
    natsSubscription* watch_sub = nullptr;
    natsSubscription* message_sub = nullptr;
    natsSubscription* broadcast_sub = nullptr;
    natsSubscription* beat_sub = nullptr;
    natsSubscription* advisory_sub = nullptr;
    natsSubscription* api_sub = nullptr; // answers to our deletes, which need none
    std::string api_inbox;
    std::atomic<bool> up{false};
    std::optional<mail_limits> keep_mail;
    std::unique_ptr<cluster_mail> mail;

    cluster_replica dir; // on the strand
    asio::steady_timer beat_timer;
    // Set by stop(), under `life` held exclusively: no event reaches the server after it.
    // Everything that calls the server holds `life` shared and looks at `stopped` first.
    std::shared_mutex life;
    std::atomic<bool> stopped{false};
    // The directory has loaded: set by NATS's thread, waited for by connect().
    std::mutex load_mutex;
    std::condition_variable load_cv;
    bool loaded = false;
    bool closed = false; // libnats is done with the connection

    void open();
    void close();
    void subscribe();
    void publish(const std::string& key, const std::string& value, bool must_be_new);
    // cluster_replica::link
    void publish_claim(const std::string& id, const std::string& value) override {
        publish(names::claim_key(id), value, true);
    }
    void publish_release(const std::string& id, const std::string& value) override {
        publish(names::release_key(id), value, false);
    }
    void delete_claim(std::uint64_t revision) override;
    void after(cluster_replica::clock::duration delay, std::function<void()> f) override;
    bool connected() const override { return up.load(); }
    void set_loaded() {
        std::lock_guard lock(load_mutex);
        loaded = true;
        load_cv.notify_all();
    }
    asio::awaitable<void> heartbeat();
    template <class F>
    void on_strand(F&& f) {
        asio::post(strand, [self = shared_from_this(), f = std::forward<F>(f)]() mutable {
            std::shared_lock alive(self->life);
            if (!self->stopped)
                f();
        });
    }
};

/// libnats's callbacks, on its threads; `closure` is the cluster::impl.
namespace nats_callbacks {
void on_watch_msg(natsConnection*, natsSubscription*, natsMsg* m, void* closure);
void on_drop(natsConnection*, natsSubscription*, natsMsg* m, void* closure);
void on_message(natsConnection*, natsSubscription*, natsMsg* m, void* closure);
void on_beat_msg(natsConnection*, natsSubscription*, natsMsg* m, void* closure);
void on_advisory_msg(natsConnection*, natsSubscription*, natsMsg* m, void* closure);
void on_publish_ack(jsCtx*, natsMsg* m, jsPubAck*, jsPubAckErr* pae, void* closure);
void on_disconnected(natsConnection*, void* closure);
void on_closed(natsConnection*, void* closure);
void on_reconnected(natsConnection* nc, void* closure);
} // namespace nats_callbacks

} // namespace libnet::detail

#endif
