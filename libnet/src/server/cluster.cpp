// The cluster link over libnats. libnats calls back on its own threads: directory records,
// heartbeats and publish acknowledgements are posted to the link's strand, which owns all
// of the link's state; forwarded frames go straight to the server, whose routing is
// thread-safe, from the one delivery thread (so they keep NATS's order).

#include "cluster.hpp"
#include "cluster_names.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ip/host_name.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <nats/nats.h>

#include <atomic>
#include <charconv>
#include <condition_variable>
#include <mutex>
#include <random>
#include <stdexcept>
#include <unordered_map>

namespace libnet::detail {

namespace asio = boost::asio;
namespace names = cluster_names;
using clock = std::chrono::steady_clock;

namespace {

constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);

std::string random_epoch() {
    std::random_device rd;
    std::uint64_t const v = (std::uint64_t{rd()} << 32) ^ rd();
    char buf[17];
    auto [end, ec] = std::to_chars(buf, buf + 16, v, 16);
    return std::string(buf, end);
}

std::string default_node(std::uint16_t port) {
    std::string node;
    for (char c : asio::ip::host_name())
        node += names::valid_name(std::string_view(&c, 1)) ? c : '-';
    return node.substr(0, 40) + "-" + std::to_string(port);
}

void check(natsStatus s, const char* what) {
    if (s != NATS_OK)
        throw std::runtime_error(std::string("cluster: ") + what + ": " +
                                 nats_GetLastError(nullptr));
}

// "wrong last sequence: N" (JetStream's answer to a compare-and-set that lost): N.
std::uint64_t wrong_last_sequence(const char* text) {
    std::string_view t = text ? text : "";
    auto const at = t.rfind(": ");
    std::uint64_t n = 0;
    if (at != std::string_view::npos)
        std::from_chars(t.data() + at + 2, t.data() + t.size(), n);
    return n;
}

} // namespace

struct cluster::impl : std::enable_shared_from_this<impl> {
    impl(asio::any_io_executor ex, const cluster_options& o, std::uint16_t port,
         cluster_events& ev)
        : strand(asio::make_strand(ex)), options(o), events(ev),
          node(o.node_id.empty() ? default_node(port) : o.node_id), epoch(random_epoch()),
          bucket(names::bucket(o.name)), key_prefix("$KV." + bucket + "."),
          broadcast_subject(names::broadcast_subject(o.name)), beat_timer(strand) {}

    ~impl() { close(); }

    // A client's record, as the bucket last said.
    struct entry {
        std::uint64_t revision = 0;
        names::record record;
        bool releasing = false; // a tombstone for this revision is on its way
    };
    struct claim_state {
        std::string endpoint;
        std::uint64_t wait_for = 0; // a lost compare-and-set: decide when the watch gets here
    };
    struct peer_node {
        std::string epoch;
        clock::time_point seen;
    };

    asio::strand<asio::any_io_executor> strand;
    cluster_options options;
    cluster_events& events;
    std::string node, epoch, bucket, key_prefix, broadcast_subject;

    natsOptions* nopts = nullptr;
    natsConnection* nc = nullptr;
    jsCtx* js = nullptr;
    natsSubscription* watch_sub = nullptr;
    natsSubscription* message_sub = nullptr;
    natsSubscription* broadcast_sub = nullptr;
    natsSubscription* beat_sub = nullptr;
    natsSubscription* advisory_sub = nullptr;
    std::atomic<bool> up{false};

    // Strand.
    std::unordered_map<std::string, entry> replica;
    std::unordered_map<std::string, claim_state> claims;
    std::unordered_map<std::string, peer_node> nodes;
    asio::steady_timer beat_timer;
    bool stopped = false;
    // The directory has loaded: set by NATS's thread, waited for by connect().
    std::mutex load_mutex;
    std::condition_variable load_cv;
    bool loaded = false;
    clock::time_point started;

    void open();
    void close();
    void subscribe();
    void publish_record(const std::string& id, std::uint64_t expect, const names::record& r);
    void on_record(std::string id, std::uint64_t revision, std::optional<names::record> r);
    void set_loaded() {
        std::lock_guard lock(load_mutex);
        loaded = true;
        load_cv.notify_all();
    }
    void decide_claim(const std::string& id);
    void on_ack(std::string id, bool is_claim, std::uint64_t revision, bool wrong_sequence,
                std::uint64_t actual, std::string error);
    void on_beat(std::string node_name, std::string node_epoch);
    void on_disconnect_advisory(std::string node_name, std::string node_epoch);
    void find_dead();
    asio::awaitable<void> heartbeat();
    std::chrono::milliseconds grace() const {
        return options.heartbeat_interval * std::max<std::uint32_t>(options.heartbeat_misses, 1);
    }
    template <class F>
    void on_strand(F&& f) {
        asio::post(strand, [self = shared_from_this(), f = std::forward<F>(f)]() mutable {
            if (!self->stopped)
                f();
        });
    }
};

// ---- libnats callbacks (its threads) ----

namespace {

void on_watch_msg(natsConnection*, natsSubscription*, natsMsg* m, void* closure) {
    auto* self = static_cast<cluster::impl*>(closure);
    std::string_view const subject = natsMsg_GetSubject(m);
    jsMsgMetaData* meta = nullptr;
    if (natsMsg_GetMetaData(&meta, m) == NATS_OK &&
        subject.substr(0, self->key_prefix.size()) == self->key_prefix) {
        auto id = names::id_of_key(subject.substr(self->key_prefix.size()));
        const char* op = nullptr;
        bool const removed = natsMsgHeader_Get(m, "KV-Operation", &op) == NATS_OK;
        std::optional<names::record> r;
        if (removed) // a DEL or PURGE from outside libnet: the id is free
            r = names::record{};
        else
            r = names::decode_record(std::string_view(natsMsg_GetData(m),
                                                      static_cast<std::size_t>(
                                                          natsMsg_GetDataLength(m))));
        if (id)
            self->on_strand([self, id = std::move(*id), rev = meta->Sequence.Stream,
                             r = std::move(r)]() mutable {
                self->on_record(std::move(id), rev, std::move(r));
            });
        if (meta->NumPending == 0)
            self->set_loaded();
    }
    jsMsgMetaData_Destroy(meta);
    natsMsg_Destroy(m);
}

void on_message(natsConnection*, natsSubscription*, natsMsg* m, void* closure) {
    auto* self = static_cast<cluster::impl*>(closure);
    auto const* reply = natsMsg_GetReply(m);
    auto from = reply ? names::parse_message_subject(self->options.name, reply) : std::nullopt;
    std::span<const std::uint8_t> frame(reinterpret_cast<const std::uint8_t*>(natsMsg_GetData(m)),
                                        static_cast<std::size_t>(natsMsg_GetDataLength(m)));
    std::string_view const subject = natsMsg_GetSubject(m);
    if (from && subject == self->broadcast_subject) {
        self->events.cluster_frame({}, from->id, from->node, frame);
    } else if (from) {
        if (auto to = names::parse_message_subject(self->options.name, subject))
            self->events.cluster_frame(to->id, from->id, from->node, frame);
    }
    natsMsg_Destroy(m);
}

void on_beat_msg(natsConnection*, natsSubscription*, natsMsg* m, void* closure) {
    auto* self = static_cast<cluster::impl*>(closure);
    if (auto n = names::parse_heartbeat_subject(self->options.name, natsMsg_GetSubject(m))) {
        std::string e(natsMsg_GetData(m), static_cast<std::size_t>(natsMsg_GetDataLength(m)));
        self->on_strand([self, n = std::move(*n), e = std::move(e)]() mutable {
            self->on_beat(std::move(n), std::move(e));
        });
    }
    natsMsg_Destroy(m);
}

// A $SYS client_disconnect advisory (JSON): the connection's name says which node's run ended.
void on_advisory_msg(natsConnection*, natsSubscription*, natsMsg* m, void* closure) {
    auto* self = static_cast<cluster::impl*>(closure);
    std::string_view const body(natsMsg_GetData(m),
                                static_cast<std::size_t>(natsMsg_GetDataLength(m)));
    auto const head = "\"name\":\"libnet/" + self->options.name + "/";
    if (auto at = body.find(head); at != std::string_view::npos) {
        auto const from = at + 8;
        auto const end = body.find('"', from);
        if (auto i = names::parse_connection_name(self->options.name, body.substr(from, end - from)))
            self->on_strand([self, i = std::move(*i)]() mutable {
                self->on_disconnect_advisory(std::move(i.node), std::move(i.epoch));
            });
    }
    natsMsg_Destroy(m);
}

void on_publish_ack(jsCtx*, natsMsg* m, jsPubAck* pa, jsPubAckErr* pae, void* closure) {
    auto* self = static_cast<cluster::impl*>(closure);
    std::string_view const subject = natsMsg_GetSubject(m);
    auto id = subject.substr(0, self->key_prefix.size()) == self->key_prefix
                  ? names::id_of_key(subject.substr(self->key_prefix.size()))
                  : std::nullopt;
    bool const is_claim = natsMsg_GetDataLength(m) > 0 && natsMsg_GetData(m)[0] == 'J';
    if (id) {
        std::uint64_t const revision = pa ? pa->Sequence : 0;
        bool const wrong = pae && pae->ErrCode == JSStreamWrongLastSequenceErr;
        std::uint64_t const actual = wrong ? wrong_last_sequence(pae->ErrText) : 0;
        std::string error = pae ? (pae->ErrText ? pae->ErrText : natsStatus_GetText(pae->Err)) : "";
        self->on_strand([=, id = std::move(*id), error = std::move(error)]() mutable {
            self->on_ack(std::move(id), is_claim, revision, wrong, actual, std::move(error));
        });
    }
    natsMsg_Destroy(m);
}

void on_disconnected(natsConnection*, void* closure) {
    auto* self = static_cast<cluster::impl*>(closure);
    self->up.store(false);
    self->on_strand([self] { self->events.cluster_log(log_level::warn, "cluster: NATS lost"); });
}

void on_reconnected(natsConnection*, void* closure) {
    auto* self = static_cast<cluster::impl*>(closure);
    self->up.store(true);
    self->on_strand(
        [self] { self->events.cluster_log(log_level::info, "cluster: NATS reconnected"); });
}

} // namespace

// ---- set-up ----

void cluster::impl::open() {
    check(natsOptions_Create(&nopts), "options");
    check(natsOptions_SetURL(nopts, options.servers.c_str()), "servers");
    auto const name = names::connection_name(options.name, node, epoch);
    check(natsOptions_SetName(nopts, name.c_str()), "name");
    check(natsOptions_SetNoEcho(nopts, true), "no echo");
    // One delivery thread for every subscription: frames keep their order across subjects.
    check(natsOptions_UseGlobalMessageDelivery(nopts, true), "delivery");
    check(natsOptions_SetMaxReconnect(nopts, -1), "reconnect");
    check(natsOptions_SetReconnectWait(nopts, 100), "reconnect wait");
    check(natsOptions_SetTimeout(nopts, options.connect_timeout.count()), "timeout");
    check(natsOptions_SetDisconnectedCB(nopts, on_disconnected, this), "callback");
    check(natsOptions_SetReconnectedCB(nopts, on_reconnected, this), "callback");
    check(natsConnection_Connect(&nc, nopts), ("connect to " + options.servers).c_str());

    jsOptions jo;
    jsOptions_Init(&jo);
    jo.Wait = options.connect_timeout.count();
    jo.PublishAsync.AckHandler = on_publish_ack;
    jo.PublishAsync.AckHandlerClosure = this;
    jo.PublishAsync.MaxPending = 65536;
    check(natsConnection_JetStream(&js, nc, &jo), "JetStream");

    // The directory lives as long as its clients' sessions: in memory, replicated when
    // NATS can. Several nodes may create it at once: the same configuration is accepted.
    kvStore* kv = nullptr;
    kvConfig kc;
    kvConfig_Init(&kc);
    kc.Bucket = bucket.c_str();
    kc.History = 1;
    kc.StorageType = js_MemoryStorage;
    kc.Replicas = 3;
    if (js_CreateKeyValue(&kv, js, &kc) != NATS_OK) {
        kc.Replicas = 1;
        if (js_CreateKeyValue(&kv, js, &kc) != NATS_OK)
            check(js_KeyValue(&kv, js, bucket.c_str()), ("bucket " + bucket).c_str());
    }
    kvStore_Destroy(kv);
    up.store(true);
}

void cluster::impl::subscribe() {
    jsErrCode jerr = static_cast<jsErrCode>(0);
    jsStreamInfo* si = nullptr;
    auto const stream = "KV_" + bucket;
    check(js_GetStreamInfo(&si, js, stream.c_str(), nullptr, &jerr), "bucket info");
    bool const empty = si->State.Msgs == 0;
    jsStreamInfo_Destroy(si);

    auto const message_filter = names::message_filter(options.name, node);
    check(natsConnection_Subscribe(&message_sub, nc, message_filter.c_str(), on_message, this),
          "subscribe");
    check(natsConnection_Subscribe(&broadcast_sub, nc, broadcast_subject.c_str(), on_message,
                                   this),
          "subscribe");
    auto const beats = names::heartbeat_filter(options.name);
    check(natsConnection_Subscribe(&beat_sub, nc, beats.c_str(), on_beat_msg, this), "subscribe");
    // Seen only where the NATS account imports its $SYS disconnect advisories (the guide
    // shows how); heartbeats find dead nodes without them, a little later.
    natsConnection_Subscribe(&advisory_sub, nc, "$SYS.ACCOUNT.*.DISCONNECT", on_advisory_msg,
                             this);

    jsSubOptions so;
    jsSubOptions_Init(&so);
    so.Stream = stream.c_str();
    so.Ordered = true;
    so.Config.DeliverPolicy = js_DeliverLastPerSubject;
    auto const keys = key_prefix + "c.>";
    check(js_Subscribe(&watch_sub, js, keys.c_str(), on_watch_msg, this, nullptr, &so, &jerr),
          "watch");
    if (empty)
        set_loaded();
}

void cluster::impl::close() {
    for (auto* s : {watch_sub, message_sub, broadcast_sub, beat_sub, advisory_sub})
        if (s)
            natsSubscription_Unsubscribe(s);
    for (auto* s : {watch_sub, message_sub, broadcast_sub, beat_sub, advisory_sub})
        if (s)
            natsSubscription_Destroy(s);
    watch_sub = message_sub = broadcast_sub = beat_sub = advisory_sub = nullptr;
    if (js)
        jsCtx_Destroy(js);
    js = nullptr;
    if (nc) {
        natsConnection_Close(nc);
        natsConnection_Destroy(nc);
    }
    nc = nullptr;
    if (nopts)
        natsOptions_Destroy(nopts);
    nopts = nullptr;
}

// ---- the directory ----

void cluster::impl::publish_record(const std::string& id, std::uint64_t expect,
                                   const names::record& r) {
    natsMsg* m = nullptr;
    auto const subject = key_prefix + names::key(id);
    auto const value = names::encode_record(r);
    if (natsMsg_Create(&m, subject.c_str(), nullptr, value.data(),
                       static_cast<int>(value.size())) != NATS_OK)
        return;
    // Compare-and-set on the key's last revision (0: the key must not exist): a claim
    // wins only over a free id, a release only over the holder it releases.
    natsMsgHeader_Set(m, "Nats-Expected-Last-Subject-Sequence", std::to_string(expect).c_str());
    if (js_PublishMsgAsync(js, &m, nullptr) != NATS_OK) {
        natsMsg_Destroy(m);
        if (r.live)
            on_strand([this, id] { on_ack(id, true, 0, false, 0, "cluster unreachable"); });
    }
}

void cluster::impl::on_record(std::string id, std::uint64_t revision,
                              std::optional<names::record> r) {
    if (!r) {
        events.cluster_log(log_level::warn, "cluster: unreadable record for " + id);
        r = names::record{};
    }
    auto& e = replica[id];
    if (revision <= e.revision)
        return; // a watch restarted after a reconnect replays what we know
    auto const was = std::move(e);
    e = entry{revision, *r, false};
    if (was.record.live)
        events.cluster_left(id, revision, r->live ? msg::leave_reason::closed : r->reason);
    if (r->live) {
        if (r->node == node && r->epoch == epoch) {
            claims.erase(id);
            if (!events.cluster_claimed(id, revision)) { // gone while it claimed
                e.releasing = true;
                publish_record(id, revision, {false, {}, {}, {}, msg::leave_reason::closed});
            }
        } else {
            events.cluster_joined(id, revision, r->node, r->endpoint);
        }
    }
    // A claim that lost to a write the watch had not shown yet decides now.
    if (auto c = claims.find(id); c != claims.end() && c->second.wait_for != 0 &&
                                  revision >= c->second.wait_for)
        decide_claim(id);
}

void cluster::impl::decide_claim(const std::string& id) {
    auto c = claims.find(id);
    if (c == claims.end())
        return;
    auto const it = replica.find(id);
    if (it != replica.end() && it->second.record.live) {
        claims.erase(c);
        events.cluster_claim_failed(id, error::id_taken);
        return;
    }
    c->second.wait_for = 0;
    names::record r{true, node, epoch, c->second.endpoint};
    publish_record(id, it == replica.end() ? 0 : it->second.revision, r);
}

void cluster::impl::on_ack(std::string id, bool is_claim, std::uint64_t, bool wrong_sequence,
                           std::uint64_t actual, std::string error) {
    if (!is_claim || error.empty())
        return; // a claim that won shows up in the watch; a release that lost was not needed
    auto c = claims.find(id);
    if (c == claims.end())
        return;
    if (wrong_sequence) {
        // Someone wrote the key after the revision we knew: decide once the watch has it.
        auto const known = replica.count(id) ? replica[id].revision : 0;
        if (actual > known) {
            c->second.wait_for = actual;
            return;
        }
        claims.erase(c);
        events.cluster_claim_failed(id, error::id_taken);
        return;
    }
    claims.erase(c);
    events.cluster_log(log_level::warn, "cluster: claim of " + id + " failed: " + error);
    events.cluster_claim_failed(id, error::cluster_unavailable);
}

// ---- liveness ----

void cluster::impl::on_beat(std::string n, std::string e) {
    nodes[n] = {std::move(e), clock::now()};
}

void cluster::impl::on_disconnect_advisory(std::string n, std::string e) {
    auto it = nodes.find(n);
    if (it != nodes.end() && it->second.epoch == e)
        it->second.seen = clock::time_point{}; // gone now, not after the grace
    else if (it == nodes.end())
        nodes[n] = {std::move(e), clock::time_point{}};
    find_dead();
}

// Releases the ids held by runs of nodes that stopped beating. Every node does it; the
// compare-and-set lets one tombstone through per record and never touches an id that was
// claimed again since.
void cluster::impl::find_dead() {
    auto const now = clock::now();
    bool const settled = now - started > grace();
    for (auto& [id, e] : replica) {
        if (!e.record.live || e.releasing)
            continue;
        bool dead;
        if (e.record.node == node) {
            dead = e.record.epoch != epoch; // an earlier run of this node
        } else {
            auto n = nodes.find(e.record.node);
            if (n == nodes.end())
                dead = settled;
            else if (n->second.epoch != e.record.epoch)
                dead = settled || n->second.seen == clock::time_point{};
            else
                dead = now - n->second.seen > grace();
        }
        if (!dead)
            continue;
        e.releasing = true;
        publish_record(id, e.revision, {false, {}, {}, {}, msg::leave_reason::lost});
    }
}

asio::awaitable<void> cluster::impl::heartbeat() {
    auto const subject = names::heartbeat_subject(options.name, node);
    while (!stopped) {
        natsConnection_Publish(nc, subject.c_str(), epoch.data(), static_cast<int>(epoch.size()));
        find_dead();
        beat_timer.expires_after(options.heartbeat_interval);
        co_await beat_timer.async_wait(use_tuple);
    }
}

// ---- cluster ----

cluster::cluster(asio::any_io_executor ex, const cluster_options& options, std::uint16_t port,
                 cluster_events& events)
    : impl_(std::make_shared<impl>(ex, options, port, events)) {
    if (!names::valid_name(options.name))
        throw std::invalid_argument("cluster name \"" + options.name +
                                    "\": use letters, digits, '-' and '_'");
    if (!names::valid_name(impl_->node))
        throw std::invalid_argument("node id \"" + impl_->node +
                                    "\": use letters, digits, '-' and '_'");
}

cluster::~cluster() {
    stop();
}

void cluster::connect() {
    auto& s = *impl_;
    s.started = clock::now();
    s.open();
    s.subscribe();
    std::unique_lock lock(s.load_mutex);
    if (!s.load_cv.wait_for(lock, s.options.connect_timeout, [&s] { return s.loaded; }))
        throw std::runtime_error("cluster: the directory did not load within the timeout");
}

void cluster::start() {
    asio::co_spawn(
        impl_->strand,
        [](std::shared_ptr<impl> s) -> asio::awaitable<void> { co_await s->heartbeat(); }(impl_),
        asio::detached);
    impl_->on_strand([s = impl_.get()] {
        s->events.cluster_log(log_level::info, "cluster " + s->options.name + ": node " +
                                                   s->node + " joined (" +
                                                   std::to_string(s->replica.size()) +
                                                   " records)");
    });
}

void cluster::stop() {
    auto& s = *impl_;
    if (s.stopped)
        return;
    if (s.js) {
        jsPubOptions po;
        jsPubOptions_Init(&po);
        po.MaxWait = 2000;
        js_PublishAsyncComplete(s.js, &po); // our releases reach the bucket
    }
    asio::post(s.strand, [self = impl_] {
        self->stopped = true;
        self->beat_timer.cancel();
    });
    s.close();
}

const std::string& cluster::node() const noexcept {
    return impl_->node;
}

bool cluster::available() const noexcept {
    return impl_->up.load(std::memory_order_relaxed);
}

void cluster::claim(const std::string& id, const std::string& endpoint) {
    impl_->on_strand([self = impl_.get(), id, endpoint] {
        if (!self->up.load()) {
            self->events.cluster_claim_failed(id, error::cluster_unavailable);
            return;
        }
        self->claims[id] = {endpoint, 0};
        self->decide_claim(id);
    });
}

void cluster::release(const std::string& id, std::uint64_t revision, msg::leave_reason reason) {
    impl_->on_strand([self = impl_.get(), id, revision, reason] {
        auto& e = self->replica[id];
        if (e.revision > revision || e.releasing)
            return;
        e.releasing = true;
        self->publish_record(id, revision, {false, {}, {}, {}, reason});
    });
}

bool cluster::send(std::string_view node, std::string_view to, std::string_view from,
                   std::span<const std::uint8_t> frame) {
    auto& s = *impl_;
    auto const subject = names::message_subject(s.options.name, node, to);
    auto const reply = names::message_subject(s.options.name, s.node, from);
    return natsConnection_PublishRequest(s.nc, subject.c_str(), reply.c_str(), frame.data(),
                                         static_cast<int>(frame.size())) == NATS_OK;
}

bool cluster::broadcast(std::string_view from, std::span<const std::uint8_t> frame) {
    auto& s = *impl_;
    auto const reply = names::message_subject(s.options.name, s.node, from);
    return natsConnection_PublishRequest(s.nc, s.broadcast_subject.c_str(), reply.c_str(),
                                         frame.data(), static_cast<int>(frame.size())) == NATS_OK;
}

bool cluster_supported() noexcept {
    return true;
}

} // namespace libnet::detail
