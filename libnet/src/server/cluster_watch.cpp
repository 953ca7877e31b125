// SPDX-License-Identifier: BSL-1.0
// The directory's I/O (its rules: cluster_replica.cpp): records from the watch, claims
// and releases published and acknowledged, heartbeats and disconnect advisories.

#include "cluster_link.hpp"

namespace libnet::detail {

namespace {

constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);

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

namespace nats_callbacks {

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
        self->on_strand([self, id = std::move(key->id), taken, actual,
                         error = std::move(error)]() mutable {
            if (taken)
                return self->dir.on_claim_refused(id, actual);
            if (self->events.cluster_logging()) {
                auto const text = "cluster: claim of " + id + " failed: " + error;
                log_field const fields[] = {{"id", id}, {"reason", error}};
                self->events.cluster_log({log_level::warn, "cluster.claim_failed", text, fields});
            }
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
                if (!self->events.cluster_logging())
                    return;
                auto const text = "cluster: release record of " + id + " failed";
                log_field const fields[] = {{"id", id}};
                self->events.cluster_log({log_level::warn, "cluster.release_failed", text, fields});
            });
    }
    natsMsg_Destroy(m);
}

} // namespace nats_callbacks

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

} // namespace libnet::detail
