// SPDX-License-Identifier: BSL-1.0
#include "cluster_mail.hpp"
#include "cluster_names.hpp"

#include <charconv>
#include <cstring>
#include <nats/nats.h>
#include <stdexcept>

namespace libnet::detail {

namespace names = cluster_names;

struct cluster_mail::reader {
    cluster_mail* owner;
    std::string id;
    std::uint64_t feed;
};

namespace {

constexpr const char* token_header = "Libnet-Token";

void on_complete(void* closure) {
    delete static_cast<cluster_mail::reader*>(closure);
}

void on_ignored(natsConnection*, natsSubscription*, natsMsg* m, void*) {
    natsMsg_Destroy(m);
}

void on_mail(natsConnection*, natsSubscription*, natsMsg* m, void* closure) {
    auto* r = static_cast<cluster_mail::reader*>(closure);
    jsMsgMetaData* meta = nullptr;
    if (natsMsg_GetMetaData(&meta, m) == NATS_OK) {
        std::span<const std::uint8_t> record(
            reinterpret_cast<const std::uint8_t*>(natsMsg_GetData(m)),
            static_cast<std::size_t>(natsMsg_GetDataLength(m)));
        auto& owner = *r->owner;
        std::shared_lock alive(owner.life);
        if (!owner.stopped)
            owner.events.cluster_mail(r->id, r->feed, meta->Sequence.Stream, meta->NumPending,
                                      meta->Timestamp / 1'000'000, record);
        jsMsgMetaData_Destroy(meta);
    }
    natsMsg_Destroy(m);
}

void on_stored(jsCtx*, natsMsg* m, jsPubAck*, jsPubAckErr* pae, void* closure) {
    auto& owner = *static_cast<cluster_mail*>(closure);
    const char* text = nullptr;
    std::uint64_t token = 0;
    if (natsMsgHeader_Get(m, token_header, &text) == NATS_OK)
        std::from_chars(text, text + std::strlen(text), token);
    error_code ec;
    if (pae) {
        std::string_view const why = pae->ErrText ? pae->ErrText : "";
        // A mailbox at its limit: the stream discards new messages per subject.
        ec = why.find("per subject") != std::string_view::npos ? error::queue_full
                                                               : error::store_failed;
        if (owner.events.cluster_logging()) {
            std::string const reason(why.empty() ? natsStatus_GetText(pae->Err) : why);
            auto const text = "cluster: store failed: " + reason;
            log_field const fields[] = {{"reason", reason},
                                        {"code", to_string(static_cast<error>(ec.value()))}};
            owner.events.cluster_log({log_level::warn, "cluster.store_failed", text, fields});
        }
    }
    {
        std::shared_lock alive(owner.life);
        if (!owner.stopped && token != 0)
            owner.events.cluster_stored(token, ec);
    }
    natsMsg_Destroy(m);
}

} // namespace

cluster_mail::cluster_mail(natsConnection* nc, std::string_view cluster_name,
                           const mail_limits& limits, std::chrono::milliseconds wait,
                           cluster_events& ev, std::shared_mutex& l, const std::atomic<bool>& s)
    : events(ev), life(l), stopped(s), nc_(nc), name_(cluster_name),
      stream_(names::mail_stream(cluster_name)), limits_(limits), wait_(wait) {
    jsOptions jo;
    jsOptions_Init(&jo);
    jo.Wait = wait_.count();
    jo.PublishAsync.AckHandler = on_stored;
    jo.PublishAsync.AckHandlerClosure = this;
    jo.PublishAsync.MaxPending = 65536;
    if (natsConnection_JetStream(&js_, nc_, &jo) != NATS_OK)
        throw std::runtime_error("cluster: mailboxes: JetStream unavailable");
    natsInbox* inbox = nullptr;
    if (natsInbox_Create(&inbox) != NATS_OK) {
        jsCtx_Destroy(js_);
        throw std::runtime_error("cluster: mailboxes: no inbox");
    }
    api_inbox_ = inbox;
    natsInbox_Destroy(inbox);
    natsConnection_Subscribe(&api_sub_, nc_, api_inbox_.c_str(), on_ignored, nullptr);
    worker_ = std::thread([this] { run(); });
}

cluster_mail::~cluster_mail() {
    {
        std::lock_guard lock(mutex_);
        done_ = true;
    }
    wake_.notify_all();
    worker_.join();
    for (auto& [id, sub] : readers_) {
        natsSubscription_Unsubscribe(sub);
        natsSubscription_Destroy(sub);
    }
    if (api_sub_) {
        natsSubscription_Unsubscribe(api_sub_);
        natsSubscription_Destroy(api_sub_);
    }
    jsCtx_Destroy(js_);
}

void cluster_mail::create() {
    // Files, not memory: a mailbox outlives every node that stored into it. The limit per
    // mailbox refuses new messages rather than dropping old ones.
    auto const filter = names::mail_filter(name_);
    const char* subjects[] = {filter.c_str()};
    jsStreamConfig sc;
    jsStreamConfig_Init(&sc);
    sc.Name = stream_.c_str();
    sc.Subjects = subjects;
    sc.SubjectsLen = 1;
    sc.Storage = js_FileStorage;
    sc.Discard = js_DiscardNew;
    sc.DiscardNewPerSubject = true;
    sc.MaxMsgsPerSubject = static_cast<std::int64_t>(limits_.max_messages);
    sc.MaxMsgSize = static_cast<std::int32_t>(limits_.max_message_size);
    sc.MaxAge = std::chrono::nanoseconds(limits_.max_age).count();
    sc.Replicas = 3;
    jsStreamInfo* si = nullptr;
    jsErrCode jerr = static_cast<jsErrCode>(0);
    if (js_AddStream(&si, js_, &sc, nullptr, &jerr) != NATS_OK) {
        sc.Replicas = 1;
        if (js_AddStream(&si, js_, &sc, nullptr, &jerr) != NATS_OK &&
            js_GetStreamInfo(&si, js_, stream_.c_str(), nullptr, &jerr) != NATS_OK)
            throw std::runtime_error("cluster: mailbox stream " + stream_ + ": " +
                                     nats_GetLastError(nullptr));
        // Another node made it first, perhaps with other limits: theirs apply.
    }
    jsStreamInfo_Destroy(si);
}

bool cluster_mail::store(std::string_view to, std::span<const std::uint8_t> record,
                         std::uint64_t token) {
    natsMsg* m = nullptr;
    auto const subject = names::mail_subject(name_, to);
    if (natsMsg_Create(&m, subject.c_str(), nullptr, reinterpret_cast<const char*>(record.data()),
                       static_cast<int>(record.size())) != NATS_OK)
        return false;
    auto const t = std::to_string(token);
    natsMsgHeader_Set(m, token_header, t.c_str());
    jsPubOptions po;
    jsPubOptions_Init(&po);
    po.MaxWait = wait_.count();
    if (js_PublishMsgAsync(js_, &m, &po) != NATS_OK) {
        natsMsg_Destroy(m);
        return false;
    }
    return true;
}

void cluster_mail::open(const std::string& id, std::uint64_t feed) {
    post([this, id, feed] {
        if (auto it = readers_.find(id); it != readers_.end()) { // a stale one
            natsSubscription_Unsubscribe(it->second);
            natsSubscription_Destroy(it->second);
            readers_.erase(it);
        }
        auto const subject = names::mail_subject(name_, id);
        jsSubOptions so;
        jsSubOptions_Init(&so);
        so.Stream = stream_.c_str();
        so.Ordered = true;
        so.Config.DeliverPolicy = js_DeliverAll;
        so.Config.Heartbeat = std::chrono::nanoseconds(std::chrono::seconds(1)).count();
        auto* r = new reader{this, id, feed};
        natsSubscription* sub = nullptr;
        jsErrCode jerr = static_cast<jsErrCode>(0);
        jsConsumerInfo* ci = nullptr;
        if (js_Subscribe(&sub, js_, subject.c_str(), on_mail, r, nullptr, &so, &jerr) != NATS_OK) {
            delete r;
            if (events.cluster_logging()) {
                std::string const reason = nats_GetLastError(nullptr);
                auto const text = "cluster: mailbox of " + id + " not opened: " + reason;
                log_field const fields[] = {{"id", id}, {"reason", reason}};
                events.cluster_log({log_level::warn, "cluster.mailbox_failed", text, fields});
            }
            std::shared_lock alive(life);
            if (!stopped)
                events.cluster_mailbox_opened(id, feed, 0, 0, error::cluster_unavailable);
            return;
        }
        natsSubscription_SetOnCompleteCB(sub, on_complete, r);
        readers_.emplace(id, sub);
        // What the consumer had handed over when we asked, and what was still to come.
        std::uint64_t delivered = 0, pending = 0;
        if (natsSubscription_GetConsumerInfo(&ci, sub, nullptr, &jerr) == NATS_OK) {
            delivered = ci->Delivered.Consumer;
            pending = ci->NumPending;
            jsConsumerInfo_Destroy(ci);
        } else {
            pending = 1; // unknown: the first message that says none are left settles it
        }
        std::shared_lock alive(life);
        if (!stopped)
            events.cluster_mailbox_opened(id, feed, delivered, pending, {});
    });
}

void cluster_mail::close(const std::string& id) {
    post([this, id] {
        if (auto it = readers_.find(id); it != readers_.end()) {
            natsSubscription_Unsubscribe(it->second); // deletes the consumer
            natsSubscription_Destroy(it->second);
            readers_.erase(it);
        }
    });
}

void cluster_mail::ack(const std::string& id, std::uint64_t seq) {
    api("$JS.API.STREAM.PURGE." + stream_, "{\"filter\":\"" + names::mail_subject(name_, id) +
                                               "\",\"seq\":" + std::to_string(seq + 1) + "}");
}

void cluster_mail::drop(std::uint64_t seq) {
    api("$JS.API.STREAM.MSG.DELETE." + stream_,
        "{\"seq\":" + std::to_string(seq) + ",\"no_erase\":true}");
}

void cluster_mail::drain(std::chrono::milliseconds timeout) {
    jsPubOptions po;
    jsPubOptions_Init(&po);
    po.MaxWait = timeout.count();
    js_PublishAsyncComplete(js_, &po);
}

void cluster_mail::api(const std::string& subject, const std::string& body) {
    natsConnection_PublishRequest(nc_, subject.c_str(), api_inbox_.c_str(), body.data(),
                                  static_cast<int>(body.size()));
}

void cluster_mail::post(std::function<void()> job) {
    {
        std::lock_guard lock(mutex_);
        jobs_.push_back(std::move(job));
    }
    wake_.notify_one();
}

void cluster_mail::run() {
    std::unique_lock lock(mutex_);
    for (;;) {
        wake_.wait(lock, [this] { return done_ || !jobs_.empty(); });
        if (done_)
            return;
        auto job = std::move(jobs_.front());
        jobs_.pop_front();
        lock.unlock();
        job();
        lock.lock();
    }
}

} // namespace libnet::detail
