// The cluster link over libnats. libnats calls back on its own threads: directory records,
// heartbeats and publish acknowledgements are posted to the link's strand, which owns all
// of the link's state; forwarded frames go straight to the server, whose routing is
// thread-safe, from the one delivery thread (so they keep NATS's order).

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

// ---- libnats callbacks (its threads) ----

namespace {

void on_watch_msg(natsConnection*, natsSubscription*, natsMsg* m, void* closure) {
    auto* self = static_cast<cluster::impl*>(closure);
    std::string_view const subject = natsMsg_GetSubject(m);
    std::string_view const value(natsMsg_GetData(m),
                                 static_cast<std::size_t>(natsMsg_GetDataLength(m)));
    jsMsgMetaData* meta = nullptr;
    std::optional<names::key_name> key;
    if (subject.substr(0, self->key_prefix.size()) == self->key_prefix)
        key = names::parse_key(subject.substr(self->key_prefix.size()));
    const char* op = nullptr;
    bool const removed = natsMsgHeader_Get(m, "KV-Operation", &op) == NATS_OK;
    if (key && natsMsg_GetMetaData(&meta, m) == NATS_OK) {
        auto const rev = meta->Sequence.Stream;
        if (key->claim && removed) { // a DEL or PURGE from outside libnet frees the id
            self->on_strand([self, id = std::move(key->id), rev]() mutable {
                self->dir.on_claim_marker(id, rev);
            });
        } else if (key->claim) {
            if (auto c = names::decode_claim(value))
                self->on_strand([self, id = std::move(key->id), rev, c = std::move(*c)]() mutable {
                    self->dir.on_claim(id, rev, std::move(c));
                });
        } else if (!removed) {
            if (auto r = names::decode_release(value))
                self->on_strand([self, id = std::move(key->id), r = *r]() mutable {
                    self->dir.on_release(id, r);
                });
        }
        if (meta->NumPending == 0)
            self->set_loaded();
    }
    if (meta)
        jsMsgMetaData_Destroy(meta);
    natsMsg_Destroy(m);
}

void on_drop(natsConnection*, natsSubscription*, natsMsg* m, void*) {
    natsMsg_Destroy(m);
}

// A batch of frames for this node's clients, or a broadcast.
void on_message(natsConnection*, natsSubscription*, natsMsg* m, void* closure) {
    auto* self = static_cast<cluster::impl*>(closure);
    auto const* reply = natsMsg_GetReply(m);
    auto from_node = reply ? names::parse_node_subject(self->options.name, reply) : std::nullopt;
    std::span<const std::uint8_t> batch(reinterpret_cast<const std::uint8_t*>(natsMsg_GetData(m)),
                                        static_cast<std::size_t>(natsMsg_GetDataLength(m)));
    std::shared_lock alive(self->life);
    if (from_node && !self->stopped) {
        bool const ok = names::for_each_record(batch, [&](const names::record_view& r) {
            self->events.cluster_frame(r.to, r.from, *from_node, r.frame);
        });
        if (!ok)
            self->events.cluster_log(log_level::warn,
                                     "cluster: malformed batch from node " + *from_node);
    }
    natsMsg_Destroy(m);
}

void on_beat_msg(natsConnection*, natsSubscription*, natsMsg* m, void* closure) {
    auto* self = static_cast<cluster::impl*>(closure);
    if (auto n = names::parse_heartbeat_subject(self->options.name, natsMsg_GetSubject(m))) {
        std::string e(natsMsg_GetData(m), static_cast<std::size_t>(natsMsg_GetDataLength(m)));
        self->on_strand([self, n = std::move(*n), e = std::move(e)]() mutable {
            self->dir.on_beat(n, std::move(e));
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
        if (auto i =
                names::parse_connection_name(self->options.name, body.substr(from, end - from)))
            self->on_strand([self, i = std::move(*i)]() mutable {
                self->dir.on_disconnect_advisory(i.node, std::move(i.epoch));
            });
    }
    natsMsg_Destroy(m);
}

void on_publish_ack(jsCtx*, natsMsg* m, jsPubAck*, jsPubAckErr* pae, void* closure) {
    auto* self = static_cast<cluster::impl*>(closure);
    std::string_view const subject = natsMsg_GetSubject(m);
    std::optional<names::key_name> key;
    if (subject.substr(0, self->key_prefix.size()) == self->key_prefix)
        key = names::parse_key(subject.substr(self->key_prefix.size()));
    if (key && key->claim && pae) { // a claim that won shows up in the watch
        bool const taken = pae->ErrCode == JSStreamWrongLastSequenceErr;
        std::uint64_t const actual = taken ? wrong_last_sequence(pae->ErrText) : 0;
        std::string error = pae->ErrText ? pae->ErrText : natsStatus_GetText(pae->Err);
        self->on_strand(
            [self, id = std::move(key->id), taken, actual, error = std::move(error)]() mutable {
                if (taken)
                    return self->dir.on_claim_refused(id, actual);
                self->events.cluster_log(log_level::warn,
                                         "cluster: claim of " + id + " failed: " + error);
                self->dir.fail_claim(id, error::cluster_unavailable);
            });
    } else if (key) {
        // The release record is in the stream: only now does the claim go, so that every
        // watcher sees the release before any later claim of the id.
        std::string_view const value(natsMsg_GetData(m),
                                     static_cast<std::size_t>(natsMsg_GetDataLength(m)));
        std::shared_lock alive(self->life);
        if (auto r = names::decode_release(value); r && !self->stopped)
            self->delete_claim(r->claim);
        if (pae)
            self->on_strand([self, id = std::move(key->id)] {
                self->events.cluster_log(log_level::warn,
                                         "cluster: release record of " + id + " failed");
            });
    }
    natsMsg_Destroy(m);
}

void on_disconnected(natsConnection*, void* closure) {
    auto* self = static_cast<cluster::impl*>(closure);
    self->up.store(false);
    if (self->stopped)
        return; // closing
    self->on_strand([self] { self->events.cluster_log(log_level::warn, "cluster: NATS lost"); });
}

// The last callback libnats makes for a connection: close() waits for it, so no callback
// can run after the link is gone.
void on_closed(natsConnection*, void* closure) {
    auto* self = static_cast<cluster::impl*>(closure);
    std::lock_guard lock(self->load_mutex);
    self->closed = true;
    self->load_cv.notify_all();
}

void on_reconnected(natsConnection* nc, void* closure) {
    auto* self = static_cast<cluster::impl*>(closure);
    self->max_payload.store(static_cast<std::size_t>(natsConnection_GetMaxPayload(nc)));
    self->up.store(true);
    self->on_strand([self] {
        // Heartbeats missed while we were cut off say nothing about the others: judge
        // them afresh from now.
        self->dir.restart_clock();
        self->events.cluster_log(log_level::info, "cluster: NATS reconnected");
    });
}

} // namespace

// ---- set-up ----

void cluster::impl::open() {
    check(natsOptions_Create(&nopts), "options");
    // Tried in the order given (the first reachable one is this node's), then all of them
    // again whenever the connection is lost.
    std::vector<std::string> servers;
    for (std::size_t at = 0; at <= options.servers.size();) {
        auto const comma = std::min(options.servers.find(',', at), options.servers.size());
        auto url = options.servers.substr(at, comma - at);
        url.erase(0, url.find_first_not_of(" \t"));
        url.erase(url.find_last_not_of(" \t") + 1);
        if (!url.empty())
            servers.push_back(std::move(url));
        at = comma + 1;
    }
    std::vector<const char*> list;
    for (auto const& u : servers)
        list.push_back(u.c_str());
    check(natsOptions_SetServers(nopts, list.data(), static_cast<int>(list.size())), "servers");
    check(natsOptions_SetNoRandomize(nopts, true), "servers");
    auto const name = names::connection_name(options.name, node, epoch);
    check(natsOptions_SetName(nopts, name.c_str()), "name");
    check(natsOptions_SetNoEcho(nopts, true), "no echo");
    check(natsOptions_SetSendAsap(nopts, true), "send asap");
    // One delivery thread for every subscription: frames keep their order across subjects.
    check(natsOptions_UseGlobalMessageDelivery(nopts, true), "delivery");
    check(natsOptions_SetMaxReconnect(nopts, -1), "reconnect");
    check(natsOptions_SetReconnectWait(nopts, 100), "reconnect wait");
    check(natsOptions_SetTimeout(nopts, options.connect_timeout.count()), "timeout");
    check(natsOptions_SetDisconnectedCB(nopts, on_disconnected, this), "callback");
    check(natsOptions_SetReconnectedCB(nopts, on_reconnected, this), "callback");
    check(natsOptions_SetClosedCB(nopts, on_closed, this), "callback");
    check(natsConnection_Connect(&nc, nopts), ("connect to " + options.servers).c_str());
    max_payload.store(static_cast<std::size_t>(natsConnection_GetMaxPayload(nc)));

    jsOptions jo;
    jsOptions_Init(&jo);
    jo.Wait = options.connect_timeout.count();
    jo.PublishAsync.AckHandler = on_publish_ack;
    jo.PublishAsync.AckHandlerClosure = this;
    jo.PublishAsync.MaxPending = 65536;
    check(natsConnection_JetStream(&js, nc, &jo), "JetStream");

    // The directory lives as long as its clients' sessions: in memory, replicated when
    // NATS can. It is a KV bucket (tools read it as one) whose claims can be deleted by
    // revision, which js_CreateKeyValue forbids. Nodes starting together may both create
    // it: an identical configuration is accepted.
    auto const stream = "KV_" + bucket;
    auto const subjects = key_prefix + ">";
    const char* subject_list[] = {subjects.c_str()};
    jsStreamConfig sc;
    jsStreamConfig_Init(&sc);
    sc.Name = stream.c_str();
    sc.Subjects = subject_list;
    sc.SubjectsLen = 1;
    sc.MaxMsgsPerSubject = 1;
    sc.Discard = js_DiscardNew;
    sc.Storage = js_MemoryStorage;
    sc.AllowRollup = true;
    sc.AllowDirect = true;
    sc.Replicas = 3;
    jsStreamInfo* si = nullptr;
    jsErrCode jerr = static_cast<jsErrCode>(0);
    if (js_AddStream(&si, js, &sc, nullptr, &jerr) != NATS_OK) {
        sc.Replicas = 1;
        if (js_AddStream(&si, js, &sc, nullptr, &jerr) != NATS_OK)
            check(js_GetStreamInfo(&si, js, stream.c_str(), nullptr, &jerr),
                  ("bucket " + bucket).c_str());
    }
    jsStreamInfo_Destroy(si);
    if (keep_mail) {
        mail = std::make_unique<cluster_mail>(
            nc, options.name, *keep_mail,
            std::max(options.connect_timeout / 2, std::chrono::milliseconds(500)), events, life,
            stopped);
        mail->create();
    }
    up.store(true);
}

void cluster::impl::subscribe() {
    jsErrCode jerr = static_cast<jsErrCode>(0);
    jsStreamInfo* si = nullptr;
    auto const stream = "KV_" + bucket;
    check(js_GetStreamInfo(&si, js, stream.c_str(), nullptr, &jerr), "bucket info");
    bool const empty = si->State.Msgs == 0;
    jsStreamInfo_Destroy(si);

    check(natsConnection_Subscribe(&message_sub, nc, own_subject.c_str(), on_message, this),
          "subscribe");
    check(natsConnection_Subscribe(&broadcast_sub, nc, broadcast_subject.c_str(), on_message, this),
          "subscribe");
    auto const beats = names::heartbeat_filter(options.name);
    check(natsConnection_Subscribe(&beat_sub, nc, beats.c_str(), on_beat_msg, this), "subscribe");
    // Seen only where the NATS account imports its $SYS disconnect advisories (the guide
    // shows how); heartbeats find dead nodes without them, a little later.
    natsConnection_Subscribe(&advisory_sub, nc, "$SYS.ACCOUNT.*.DISCONNECT", on_advisory_msg, this);

    jsSubOptions so;
    jsSubOptions_Init(&so);
    so.Stream = stream.c_str();
    so.Ordered = true;
    so.Config.DeliverPolicy = js_DeliverLastPerSubject;
    // The watch is an ordered consumer on one NATS server; should that server die, the
    // missing heartbeats make libnats recreate it elsewhere (from where it stopped). The
    // libnats default, 5 s, would leave the directory stale that long.
    so.Config.Heartbeat = std::chrono::nanoseconds(std::max(options.heartbeat_interval * 2,
                                                            std::chrono::milliseconds(250)))
                              .count();
    natsInbox* inbox = nullptr;
    check(natsInbox_Create(&inbox), "inbox");
    api_inbox = inbox;
    natsInbox_Destroy(inbox);
    check(natsConnection_Subscribe(&api_sub, nc, api_inbox.c_str(), on_drop, nullptr), "subscribe");
    auto const keys = key_prefix + ">";
    check(js_Subscribe(&watch_sub, js, keys.c_str(), on_watch_msg, this, nullptr, &so, &jerr),
          "watch");
    if (empty)
        set_loaded();
}

void cluster::impl::close() {
    mail.reset();
    for (auto* s : {watch_sub, message_sub, broadcast_sub, beat_sub, advisory_sub, api_sub})
        if (s)
            natsSubscription_Unsubscribe(s);
    for (auto* s : {watch_sub, message_sub, broadcast_sub, beat_sub, advisory_sub, api_sub})
        if (s)
            natsSubscription_Destroy(s);
    watch_sub = message_sub = broadcast_sub = beat_sub = advisory_sub = api_sub = nullptr;
    if (js)
        jsCtx_Destroy(js);
    js = nullptr;
    if (nc) {
        natsConnection_Close(nc);
        std::unique_lock lock(load_mutex);
        load_cv.wait_for(lock, std::chrono::seconds(5), [this] { return closed; });
        lock.unlock();
        natsConnection_Destroy(nc);
    }
    nc = nullptr;
    if (nopts)
        natsOptions_Destroy(nopts);
    nopts = nullptr;
}

// ---- the directory's I/O (its rules: cluster_replica.cpp) ----

void cluster::impl::publish(const std::string& key, const std::string& value, bool must_be_new) {
    natsMsg* m = nullptr;
    auto const subject = key_prefix + key;
    if (natsMsg_Create(&m, subject.c_str(), nullptr, value.data(),
                       static_cast<int>(value.size())) != NATS_OK)
        return;
    if (must_be_new)
        natsMsgHeader_Set(m, "Nats-Expected-Last-Subject-Sequence", "0");
    // Without a deadline an acknowledgement lost in a NATS outage would leave its claim
    // unanswered.
    jsPubOptions po;
    jsPubOptions_Init(&po);
    po.MaxWait = std::max<std::int64_t>(options.connect_timeout.count() / 2, 500);
    if (js_PublishMsgAsync(js, &m, &po) != NATS_OK) {
        natsMsg_Destroy(m);
        if (must_be_new) {
            auto const k = names::parse_key(key);
            if (k)
                dir.fail_claim(k->id, error::cluster_unavailable);
        }
    }
}

void cluster::impl::delete_claim(std::uint64_t revision) {
    auto const subject = "$JS.API.STREAM.MSG.DELETE.KV_" + bucket;
    auto const body = "{\"seq\":" + std::to_string(revision) + ",\"no_erase\":true}";
    natsConnection_PublishRequest(nc, subject.c_str(), api_inbox.c_str(), body.data(),
                                  static_cast<int>(body.size()));
}

void cluster::impl::after(cluster_replica::clock::duration delay, std::function<void()> f) {
    auto timer = std::make_shared<asio::steady_timer>(strand, delay);
    timer->async_wait([self = shared_from_this(), timer, f = std::move(f)](auto) {
        std::shared_lock alive(self->life);
        if (!self->stopped)
            f();
    });
}

asio::awaitable<void> cluster::impl::heartbeat() {
    auto const subject = names::heartbeat_subject(options.name, node);
    for (;;) {
        {
            std::shared_lock alive(life);
            if (stopped)
                co_return;
            natsConnection_Publish(nc, subject.c_str(), epoch.data(),
                                   static_cast<int>(epoch.size()));
            dir.find_dead();
        }
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
    s.dir.restart_clock();
    s.open();
    s.subscribe();
    std::unique_lock lock(s.load_mutex);
    if (!s.load_cv.wait_for(lock, s.options.connect_timeout, [&s] { return s.loaded; }))
        throw std::runtime_error("cluster: the directory did not load within the timeout");
}

void cluster::start() {
    asio::co_spawn(
        impl_->strand,
        [](std::shared_ptr<impl> s) -> asio::awaitable<void> {
            co_await s->heartbeat();
        }(impl_),
        asio::detached);
    impl_->on_strand([s = impl_.get()] {
        s->events.cluster_log(log_level::info, "cluster " + s->options.name + ": node " + s->node +
                                                   " joined (" + std::to_string(s->dir.size()) +
                                                   " records)");
    });
}

void cluster::stop() {
    auto& s = *impl_;
    if (s.stopped)
        return;
    if (s.js && s.up.load()) { // cut off from NATS, nothing would be acknowledged
        jsPubOptions po;
        jsPubOptions_Init(&po);
        po.MaxWait = 2000;
        if (s.mail)
            s.mail->drain(std::chrono::milliseconds(2000)); // stores are answered
        js_PublishAsyncComplete(s.js, &po);                 // our releases reach the bucket ...
        natsConnection_FlushTimeout(s.nc, 2000);            // ... and the deletes that follow them
    }
    {
        std::unique_lock quiet(s.life); // waits for a callback into the server to finish
        s.stopped = true;
    }
    asio::post(s.strand, [self = impl_] { self->beat_timer.cancel(); });
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
        self->dir.claim(id, endpoint);
    });
}

void cluster::release(const std::string& id, std::uint64_t revision, msg::leave_reason reason) {
    impl_->on_strand(
        [self = impl_.get(), id, revision, reason] { self->dir.release(id, revision, reason); });
}

bool cluster::send(std::string_view node, std::string_view to, std::string_view from,
                   std::span<const std::uint8_t> frame) {
    auto& s = *impl_;
    return s.up.load(std::memory_order_relaxed) &&
           s.batches.add(node, from, to, frame, s.max_payload.load(std::memory_order_relaxed));
}

bool cluster::broadcast(std::string_view from, std::span<const std::uint8_t> frame) {
    auto& s = *impl_;
    if (!s.up.load(std::memory_order_relaxed))
        return false;
    s.batches.flush_all(); // what the sender sent before goes first
    std::vector<std::uint8_t> record;
    cluster_names::append_record(record, from, {}, frame);
    return natsConnection_PublishRequest(s.nc, s.broadcast_subject.c_str(), s.own_subject.c_str(),
                                         record.data(), static_cast<int>(record.size())) == NATS_OK;
}

void cluster::keep_mailboxes(const mail_limits& limits) {
    impl_->keep_mail = limits;
}

bool cluster::store(std::string_view to, std::span<const std::uint8_t> record,
                    std::uint64_t token) {
    auto& s = *impl_;
    return s.mail && s.up.load(std::memory_order_relaxed) && s.mail->store(to, record, token);
}

void cluster::open_mailbox(const std::string& id, std::uint64_t feed) {
    if (impl_->mail)
        impl_->mail->open(id, feed);
}

void cluster::close_mailbox(const std::string& id) {
    if (impl_->mail)
        impl_->mail->close(id);
}

void cluster::ack_mailbox(const std::string& id, std::uint64_t seq) {
    if (impl_->mail)
        impl_->mail->ack(id, seq);
}

void cluster::drop_mail(std::uint64_t seq) {
    if (impl_->mail)
        impl_->mail->drop(seq);
}

bool cluster_supported() noexcept {
    return true;
}

} // namespace libnet::detail
