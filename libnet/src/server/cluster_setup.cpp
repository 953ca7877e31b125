// SPDX-License-Identifier: BSL-1.0
// The set-up of a node's NATS connection: options, the directory stream, subscriptions,
// and the connection's own callbacks.

#include "cluster_link.hpp"

namespace libnet::detail {

namespace {

void check(natsStatus s, const char* what) {
    if (s != NATS_OK)
        throw std::runtime_error(std::string("cluster: ") + what + ": " +
                                 nats_GetLastError(nullptr));
}

} // namespace

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

namespace nats_callbacks {

void on_disconnected(natsConnection*, void* closure) {
    auto* self = static_cast<cluster::impl*>(closure);
    self->up.store(false);
    if (self->stopped)
        return; // closing
    self->on_strand([self] {
        self->events.cluster_log({log_level::warn, "cluster.link_lost", "cluster: NATS lost", {}});
    });
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
        self->events.cluster_log(
            {log_level::info, "cluster.link_restored", "cluster: NATS reconnected", {}});
    });
}

} // namespace nats_callbacks

using namespace nats_callbacks;

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

} // namespace libnet::detail
