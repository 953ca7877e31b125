// SPDX-License-Identifier: BSL-1.0
// The server's side of a cluster: ids settled by the cluster, clients of other nodes in the
// directory, and frames to and from other nodes. The cluster link (cluster.cpp) calls in.

#include "core.hpp"

#include <libnet/codec.hpp>

#include <boost/asio/post.hpp>

namespace libnet::detail {

namespace asio = boost::asio;

namespace {

// Encodes `m` into a buffer reused by the thread: forwarding allocates nothing per message.
template <class Message>
std::span<const std::uint8_t> encode_scratch(const Message& m) {
    thread_local std::vector<std::uint8_t> buf;
    auto const n = msg::encoded_size(m);
    buf.resize(n);
    msg::encode_into(m, std::span<std::uint8_t>(buf.data(), n));
    return {buf.data(), n};
}

// "cluster: WHAT frame from ID": a frame from another node that this one drops.
void log_bad_frame(const server_core& core, std::string_view what, std::string_view from,
                   std::string_view node) {
    if (!core.logging())
        return;
    core.log(log_level::warn, "cluster.bad_frame",
             "cluster: " + std::string(what) + " frame from " + std::string(from),
             {{"from", from}, {"node", node}, {"reason", what}});
}

// "cluster: ID TEXT": a change in who holds a client's id.
void log_id(const server_core& core, log_level level, std::string_view event, const std::string& id,
            std::string_view text) {
    if (core.logging())
        core.log(level, event, "cluster: " + id + std::string(text), {{"id", id}});
}

} // namespace

bool server_core::cluster_claimed(const std::string& id, std::uint64_t revision) {
    std::unique_lock lock(mutex_);
    auto c = claims_.find(id);
    if (c == claims_.end())
        return false;
    auto session = std::move(c->second.session);
    auto const endpoint = std::move(c->second.endpoint);
    auto const flags = c->second.flags;
    auto const seq = c->second.seq;
    bool const again = c->second.again;
    claims_.erase(c);
    if (stopping_ || session->closing())
        return false;
    if (again) { // the client stayed online here: it holds its id at the new revision
        session->join_seq_ = revision;
        lock.unlock();
        log_id(*this, log_level::info, "cluster.reclaimed", id, " claimed again");
        return true;
    }
    if (auto box = mailboxes_.find(id); shared_mail_ && box != mailboxes_.end()) {
        // Welcomed once its mailbox has been read: WELCOME counts what waits in it.
        claims_.emplace(id, claim{std::move(session), endpoint, flags, seq, revision});
        load_mailbox(box->second);
        return true;
    }
    admit(*session, id, endpoint, flags, nullptr, revision);
    lock.unlock();
    registered(*session);
    asio::post(session->get_executor(), [session] { session->on_claim({}); });
    return true;
}

void server_core::cluster_claim_failed(const std::string& id, error_code ec) {
    std::unique_lock lock(mutex_);
    auto c = claims_.find(id);
    if (c == claims_.end())
        return;
    auto session = std::move(c->second.session);
    bool const again = c->second.again;
    claims_.erase(c);
    if (again) // online here all along, but the id may be someone else's now
        return fence(lock, *session);
    lock.unlock();
    asio::post(session->get_executor(), [session, ec] { session->on_claim(ec); });
}

void server_core::cluster_joined(const std::string& id, std::uint64_t revision,
                                 const std::string& node, const std::string& endpoint) {
    std::unique_lock lock(mutex_);
    if (auto* local = directory_.find(id)) {
        // The bucket's compare-and-set lets no one claim an id we hold; one we were claiming
        // again, after another node released it, went elsewhere first.
        if (!claiming_again(id, local))
            return;
        claims_.erase(id);
        fence(lock, *local);
        lock.lock();
    }
    if (directory_.add_remote(id, {node, endpoint, revision}))
        announce_soon();
}

bool server_core::claiming_again(std::string_view id, const server_session* s) const {
    auto c = claims_.find(id);
    return c != claims_.end() && c->second.again && c->second.session.get() == s;
}

void server_core::fence(std::unique_lock<std::mutex>& lock, server_session& s) {
    auto const hold = s.self();
    if (directory_.remove(s, msg::leave_reason::lost, false))
        announce_soon();
    leaves_.fetch_add(1, std::memory_order_release);
    lock.unlock();
    log_id(*this, log_level::warn, "cluster.fenced", s.id_,
           " is held on another node now; closing it here");
    s.close(error::id_taken, make_frame(msg::error{static_cast<std::uint16_t>(error::id_taken),
                                                   "this id was taken on another server while "
                                                   "this one was cut off from its cluster",
                                                   0, 0, s.id_}));
}

void server_core::cluster_left(const std::string& id, std::uint64_t revision,
                               msg::leave_reason reason) {
    std::unique_lock lock(mutex_);
    if (directory_.remove_remote(id, reason))
        announce_soon();
    leaves_.fetch_add(1, std::memory_order_release);
    auto* local = directory_.find(id);
    if (!local || local->join_seq_ != revision || claiming_again(id, local))
        return;
    // Another node released our client's id (it took this node for dead) and every other
    // node has seen the client leave. It stays online here while this node claims the id
    // again: won, the others see it join again; lost, it is closed here (fence()).
    log_id(*this, log_level::warn, "cluster.released", id,
           " was released by another node; claiming it again");
    claims_.emplace(id, claim{local->self(), local->endpoint_, 0, 0, 0, true});
    lock.unlock();
    cluster_->claim(id, local->endpoint_);
}

bool server_core::forward(server_session& from, const outgoing& m) {
    // As recipient(): the node of the last recipient holds while no client has left.
    auto& cache = from.remote_cache_;
    auto const epoch = leaves_.load(std::memory_order_acquire);
    if (cache.epoch != epoch || cache.id != m.to || cache.node.empty()) {
        std::lock_guard lock(mutex_);
        auto* r = directory_.find_remote(m.to);
        if (!r)
            return false;
        cache.id = m.to;
        cache.node = r->node;
        cache.epoch = leaves_.load(std::memory_order_relaxed);
    }
    auto const& node = cache.node;
    bool sent;
    if (m.type == 0)
        sent = cluster_->send(
            node, m.to, from.id_,
            encode_scratch(msg::send{m.to, m.body, m.ref, m.link, m.link_seq, m.flags, m.ttl_ms}));
    else
        sent = cluster_->send(
            node, m.to, from.id_,
            encode_scratch(msg::app{
                m.type, m.to, {}, m.body, m.ref, 0, m.link, m.link_seq, m.flags, m.ttl_ms}));
    auto const type = m.type != 0 ? m.type : static_cast<std::uint16_t>(frame_type::send);
    if (!sent)
        from.send_error(error::cluster_unavailable, type, m.ref, m.to);
    else
        routed_.fetch_add(1, std::memory_order_relaxed);
    return true;
}

void server_core::reply_remote(std::string_view node, std::string_view to, std::string_view about,
                               const shared_frame& f) {
    cluster_->send(node, to, about, {f.data.get(), f.size});
}

// A frame from another node. Routing is thread-safe, so this runs on NATS's delivery
// thread, which hands frames over in the order the sending node published them.
void server_core::cluster_frame(std::string_view to, std::string_view from,
                                std::string_view from_node, std::span<const std::uint8_t> bytes) {
    auto const r = decode_frame(bytes, options_.max_frame + 1024);
    if (r.status != decode_status::ok || r.consumed != bytes.size()) {
        log_bad_frame(*this, "undecodable", from, from_node);
        return;
    }
    if (to.empty()) {
        msg::broadcast b;
        if (r.frame.core_type() == frame_type::broadcast && !msg::decode(r.frame, b))
            fan_out(from, b.body, nullptr);
        return;
    }
    deliver_remote(to, from, from_node, r.frame);
}

// The local client `id`, or null. Called on NATS's delivery thread only, which keeps the
// sessions it found while no client has left (leaves_ unchanged): a batch of frames for a
// few recipients takes the server's lock once per recipient, not once per frame.
std::shared_ptr<server_session> server_core::remote_recipient(std::string_view id) {
    auto const epoch = leaves_.load(std::memory_order_acquire);
    if (remote_recipients_epoch_ != epoch) {
        remote_recipients_.clear();
        remote_recipients_epoch_ = epoch;
    }
    if (auto it = remote_recipients_.find(id); it != remote_recipients_.end())
        return it->second;
    std::lock_guard lock(mutex_);
    announce();
    auto* s = directory_.find(id);
    if (!s)
        return nullptr;
    if (remote_recipients_.size() > 4096)
        remote_recipients_.clear();
    remote_recipients_.emplace(std::string(id), s->self());
    remote_recipients_epoch_ = leaves_.load(std::memory_order_relaxed);
    return s->self();
}

void server_core::deliver_remote(std::string_view to_id, std::string_view from,
                                 std::string_view from_node, frame_view f) {
    auto const to = remote_recipient(to_id);
    auto const type = f.core_type();
    if (type == frame_type::intro_request) { // our client is the one to be dialed
        msg::intro_request r;
        if (msg::decode(f, r))
            return;
        auto const answer = to ? introduction(from, r.link_key, *to, r.ref)
                               : make_error_frame(error::no_such_client, f.type, r.ref, to_id);
        return reply_remote(from_node, from, to_id, answer);
    }
    if (type == frame_type::stored || type == frame_type::error ||
        type == frame_type::introduction) { // an answer to our client
        if (to) {
            auto p =
                std::make_shared_for_overwrite<std::uint8_t[]>(frame_header_size + f.value.size());
            write_header(p.get(), f.type, static_cast<std::uint32_t>(f.value.size()));
            std::copy(f.value.begin(), f.value.end(), p.get() + frame_header_size);
            to->enqueue({std::move(p), frame_header_size + f.value.size(), 1});
        }
        return;
    }
    outgoing m{};
    msg::send s;
    msg::app a;
    if (type == frame_type::send && !msg::decode(f, s))
        m = {0, s.to, s.body, s.ref, s.flags, s.ttl_ms, s.link, s.link_seq};
    else if (is_app_type(f.type) && !msg::decode(f, a))
        m = {a.type, a.to, a.body, a.ref, a.flags, a.ttl_ms, a.link, a.link_seq};
    else
        return log_bad_frame(*this, "unexpected", from, from_node);
    auto const ref_type = m.type != 0 ? m.type : static_cast<std::uint16_t>(frame_type::send);
    if (!to) { // left or moved meanwhile: the sender hears of it
        if ((m.flags & msg::flag_link_sync) == 0 || !m.body.empty())
            reply_remote(from_node, from, to_id,
                         make_error_frame(error::no_such_client, ref_type, m.ref, to_id));
        return;
    }
    bool const sync = m.type == 0 && m.body.empty() && (m.flags & msg::flag_link_sync) != 0;
    auto const mark = static_cast<std::uint16_t>(sync ? msg::flag_link_sync : 0);
    bool const queued = to->enqueue_numbered(next_msg_seq_, [&](std::uint64_t seq, auto&& put) {
        if (m.type == 0)
            return put(msg::deliver{from, m.body, seq, mark, m.link, m.link_seq});
        put(msg::app{m.type, {}, from, m.body, 0, seq, m.link, m.link_seq, 0, 0});
    });
    if (queued && !sync && (m.flags & msg::flag_confirm) != 0)
        reply_remote(from_node, from, to_id, make_frame(msg::stored{m.ref, to_id, 0, 0}));
}

} // namespace libnet::detail
