// SPDX-License-Identifier: BSL-1.0
// Mailboxes in a cluster: every copy of a message for a mailbox goes into the cluster's
// stream (cluster_mail.cpp), from whichever node its sender is on, and the node where the
// id is claimed reads the mailbox back into memory, where mailbox.cpp delivers it as on a
// single server. Acknowledgements and expiry remove messages from the stream.

#include "cluster_names.hpp"
#include "core.hpp"

#include <libnet/codec.hpp>

#include <boost/asio/post.hpp>

namespace libnet::detail {

namespace asio = boost::asio;

namespace {

// `m` as a stored record: a frame, from `from`, whose flags are those of its delivery
// and whose ttl counts from the stream's timestamp. Reuses the thread's buffer.
std::span<const std::uint8_t> mail_record(std::string_view from, std::string_view to,
                                          std::uint16_t type, std::string_view body,
                                          std::uint16_t flags, std::uint32_t ttl_ms,
                                          std::uint64_t link, std::uint64_t link_seq) {
    thread_local std::vector<std::uint8_t> frame, record;
    auto encode = [](const auto& message) {
        frame.resize(msg::encoded_size(message));
        msg::encode_into(message, std::span<std::uint8_t>(frame.data(), frame.size()));
    };
    if (type == 0)
        encode(msg::send{to, body, 0, link, link_seq, flags, ttl_ms});
    else
        encode(msg::app{type, to, {}, body, 0, 0, link, link_seq, flags, ttl_ms});
    record.clear();
    cluster_names::append_record(record, from, to, frame);
    return record;
}

// The mail a stored record holds; nullopt when it is not one.
std::optional<mail> read_record(std::span<const std::uint8_t> record, std::uint64_t seq,
                                std::int64_t stored_at, std::uint32_t max_frame) {
    std::optional<mail> out;
    auto one = [&](const cluster_names::record_view& r) {
        auto const f = decode_frame(r.frame, max_frame + 1024);
        if (f.status != decode_status::ok || out)
            return;
        mail x{seq, std::string(r.from), {}, 0, 0, 0, 0, 0, 0};
        std::uint32_t ttl = 0;
        msg::send s;
        msg::app a;
        if (f.frame.core_type() == frame_type::send && !msg::decode(f.frame, s)) {
            x.body = s.body;
            x.flags = s.flags;
            ttl = s.ttl_ms;
            x.link = s.link;
            x.link_seq = s.link_seq;
        } else if (is_app_type(f.frame.type) && !msg::decode(f.frame, a)) {
            x.type = a.type;
            x.body = a.body;
            x.flags = a.flags;
            ttl = a.ttl_ms;
            x.link = a.link;
            x.link_seq = a.link_seq;
        } else {
            return;
        }
        x.flags &= msg::flag_broadcast | msg::flag_link_sync;
        x.expires_at = ttl != 0 ? stored_at + ttl : 0;
        out = std::move(x);
    };
    if (!cluster_names::for_each_record(record, one))
        return std::nullopt;
    return out;
}

} // namespace

void server_core::store_shared(std::unique_lock<std::mutex>& lock, server_session& from,
                               std::string_view to, const outgoing& m, std::uint16_t flags,
                               const std::shared_ptr<store_group>& group) {
    auto const token = next_store_++;
    stores_.emplace(token, store_wait{group, std::string(to)});
    ++group->remaining;
    auto const now = unix_now_ms();
    auto const expires = expiry(m.ttl_ms, now);
    auto const ttl = static_cast<std::uint32_t>(expires != 0 ? expires - now : 0);
    auto const record = mail_record(from.id_, to, m.type, m.body, flags, ttl, m.link, m.link_seq);
    // NATS may make us wait for room, and its answers take the lock.
    lock.unlock();
    bool const sent = cluster_->store(to, record, token);
    lock.lock();
    if (!sent && stores_.erase(token) != 0)
        answer_store(*group, to, error::cluster_unavailable);
}

void server_core::broadcast_shared(std::unique_lock<std::mutex>& lock, server_session& from,
                                   const msg::broadcast& b, const outgoing& o) {
    auto const type = static_cast<std::uint16_t>(frame_type::broadcast);
    std::vector<std::string> to;
    std::uint32_t offline = 0;
    for (auto const& [id, mb] : mailboxes_)
        if (id != from.id_) {
            to.push_back(id);
            offline += !mb.session && !directory_.find_remote(id) ? 1 : 0;
        }
    broadcasts_.fetch_add(1, std::memory_order_relaxed);
    bool const answer = (b.flags & msg::flag_confirm) != 0 || offline != 0;
    if (to.empty()) {
        if (answer)
            from.enqueue_message(msg::stored{b.ref, {}, 0, 0});
        return;
    }
    auto g = std::make_shared<store_group>(
        store_group{from.self(), b.ref, type, {}, offline, 0, 0, answer});
    ++g->remaining; // held until every copy is out, so that no answer comes early
    for (auto const& id : to)
        store_shared(lock, from, id, o, msg::flag_broadcast, g);
    settle(*g);
}

void server_core::answer_store(store_group& g, std::string_view recipient, error_code ec) {
    if (!ec)
        ++g.stored;
    else if (auto s = g.from.lock())
        s->send_error(wire_code(ec), g.ref_type, g.ref, recipient);
    settle(g);
}

// One copy less to wait for; after the last, the sender's answer.
void server_core::settle(store_group& g) {
    if (--g.remaining != 0 || !g.answer)
        return;
    auto const s = g.from.lock();
    if (!s)
        return;
    if (g.stored != 0)
        s->enqueue_message(msg::stored{g.ref, g.to, g.offline, msg::stored_durable});
    else if (g.to.empty()) // a broadcast whose every copy failed: as on a single server
        s->enqueue_message(msg::stored{g.ref, {}, 0, 0});
}

void server_core::cluster_stored(std::uint64_t token, error_code ec) {
    std::lock_guard lock(mutex_);
    auto it = stores_.find(token);
    if (it == stores_.end())
        return;
    auto w = std::move(it->second);
    stores_.erase(it);
    if (!ec)
        stored_.fetch_add(1, std::memory_order_relaxed);
    answer_store(*w.group, w.recipient, ec);
    if (!leaving_.empty())
        close_answered();
}

void server_core::load_mailbox(mailbox& mb) {
    close_shared(mb);
    mb.feed = ++feeds_;
    cluster_->open_mailbox(mb.id, mb.feed);
}

// Forgets what was read of `mb` and stops reading it; the stream keeps it.
void server_core::close_shared(mailbox& mb) {
    if (mb.feed != 0)
        cluster_->close_mailbox(mb.id);
    pending_mail_ -= mb.mails.size();
    mb.mails.clear();
    mb.bytes = 0;
    mb.last_seq = mb.acked = mb.sent = 0;
    mb.feed = 0;
    mb.feed_open = mb.caught_up = false;
    mb.load_until = mb.fed = 0;
}

void server_core::cluster_mailbox_opened(const std::string& id, std::uint64_t feed,
                                         std::uint64_t delivered, std::uint64_t pending,
                                         error_code ec) {
    std::unique_lock lock(mutex_);
    auto box = mailboxes_.find(id);
    if (box == mailboxes_.end() || box->second.feed != feed)
        return;
    auto& mb = box->second;
    if (ec) {
        auto c = claims_.find(id);
        if (c == claims_.end())
            return;
        auto session = std::move(c->second.session);
        cluster_->release(id, c->second.revision, msg::leave_reason::closed);
        claims_.erase(c);
        close_shared(mb);
        lock.unlock();
        asio::post(session->get_executor(), [session, ec] { session->on_claim(ec); });
        return;
    }
    mb.feed_open = true;
    mb.load_until = pending == 0 ? delivered : std::numeric_limits<std::uint64_t>::max();
    mailbox_loaded(lock, mb);
}

void server_core::cluster_mail(const std::string& id, std::uint64_t feed, std::uint64_t seq,
                               std::uint64_t pending, std::int64_t stored_at,
                               std::span<const std::uint8_t> record) {
    std::unique_lock lock(mutex_);
    auto box = mailboxes_.find(id);
    if (box == mailboxes_.end() || box->second.feed != feed)
        return;
    auto& mb = box->second;
    ++mb.fed;
    if (pending == 0)
        mb.caught_up = true;
    if (seq > mb.last_seq) {
        if (auto m = read_record(record, seq, stored_at, options_.max_frame)) {
            mb.last_seq = seq;
            mb.bytes += m->body.size();
            mb.mails.push_back(std::move(*m));
            ++pending_mail_;
        } else {
            if (logging())
                log(log_level::warn, "cluster.unreadable_message",
                    "cluster: unreadable message in the mailbox of " + id, {{"id", id}});
        }
    }
    if (mb.session)
        pump(mb);
    else
        mailbox_loaded(lock, mb);
}

void server_core::mailbox_loaded(std::unique_lock<std::mutex>& lock, mailbox& mb) {
    if (mb.session || !mb.feed_open || (!mb.caught_up && mb.fed < mb.load_until))
        return;
    auto c = claims_.find(mb.id);
    if (c == claims_.end() || c->second.revision == 0)
        return;
    auto session = std::move(c->second.session);
    auto const cl = std::move(c->second);
    claims_.erase(c);
    if (stopping_ || session->closing()) {
        cluster_->release(mb.id, cl.revision, msg::leave_reason::closed);
        close_shared(mb);
        return;
    }
    // What was read is what the mailbox holds: everything before it was acknowledged.
    mb.acked = mb.sent = mb.mails.empty() ? 0 : mb.mails.front().seq - 1;
    msg::hello h;
    h.id = mb.id;
    h.flags = cl.flags;
    h.seq = cl.seq;
    admit(*session, mb.id, cl.endpoint, cl.flags, &h, cl.revision);
    lock.unlock();
    registered(*session);
    asio::post(session->get_executor(), [session] { session->on_claim({}); });
}

} // namespace libnet::detail
