// SPDX-License-Identifier: BSL-1.0
// The handle on a node's cluster link, and the frames between nodes: batches for this
// node's clients and broadcasts, handed to the server on libnats's delivery thread.

#include "cluster_link.hpp"

namespace libnet::detail {

namespace nats_callbacks {

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
        if (!ok && self->events.cluster_logging()) {
            auto const text = "cluster: malformed batch from node " + *from_node;
            log_field const fields[] = {{"node", *from_node}};
            self->events.cluster_log({log_level::warn, "cluster.bad_batch", text, fields});
        }
    }
    natsMsg_Destroy(m);
}

} // namespace nats_callbacks

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
        if (!s->events.cluster_logging())
            return;
        auto const records = std::to_string(s->dir.size());
        auto const text = "cluster " + s->options.name + ": node " + s->node + " joined (" +
                          records + " records)";
        log_field const fields[] = {
            {"cluster", s->options.name}, {"node", s->node}, {"records", records}};
        s->events.cluster_log({log_level::info, "cluster.joined", text, fields});
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
