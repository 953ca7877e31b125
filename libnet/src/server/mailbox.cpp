// SPDX-License-Identifier: BSL-1.0
// Mailboxes: access control, store-and-forward, acknowledgements, GET, expiry, and the
// writes to the message store (docs/protocol.md §16). Unless a function says otherwise it
// runs under server_core::mutex_.

#include "core.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <algorithm>
#include <limits>

namespace libnet::detail {

namespace asio = boost::asio;

namespace {

// The first mail after seq `after`.
auto first_after(std::deque<mail>& mails, std::uint64_t after) {
    return std::upper_bound(mails.begin(), mails.end(), after,
                            [](std::uint64_t s, const mail& m) { return s < m.seq; });
}

} // namespace

mailbox& server_core::mailbox_of(const std::string& id) {
    auto& mb = mailboxes_[id];
    mb.id = id;
    return mb;
}

// Constructor time: nothing runs yet, no lock needed.
void server_core::load_store() {
    auto const rules = std::make_shared<const access_rules>(options_.allow_ids, options_.secrets);
    access_.store(rules);
    options_.secrets.clear(); // only the digests stay in memory
    store_ = options_.store ? options_.store : make_memory_store();
    durable_ = store_->durable();
    // With a durable store any named client may get a mailbox; otherwise only listed ids.
    has_mailboxes_ = durable_ || !options_.allow_ids.empty();
    for (auto const& id : rules->allow)
        mailbox_of(id);
    if (!rules->allow.empty())
        for (auto const& [id, digest] : rules->digests)
            mailbox_of(id);
    if (!durable_)
        return;
    auto contents = store_->load();
    for (auto& u : contents.users) {
        auto& mb = mailbox_of(u.id);
        mb.last_seq = std::max({mb.last_seq, u.last_seq, u.acked});
        mb.acked = std::max(mb.acked, u.acked);
    }
    for (auto& m : contents.messages) {
        auto& mb = mailbox_of(m.recipient);
        if (m.seq <= mb.acked || (!mb.mails.empty() && m.seq <= mb.mails.back().seq))
            continue;
        mb.last_seq = std::max(mb.last_seq, m.seq);
        mb.bytes += m.body.size();
        mb.mails.push_back(
            {m.seq, std::move(m.from), std::move(m.body), m.type, m.flags, m.expires_at, 0, 0, 0});
        ++pending_mail_;
    }
    for (auto& [id, mb] : mailboxes_)
        mb.sent = mb.acked;
    if (logging()) {
        auto const boxes = std::to_string(contents.users.size());
        auto const waiting = std::to_string(pending_mail_);
        log(log_level::info, "store.loaded",
            "store: " + boxes + " mailboxes, " + waiting + " messages waiting",
            {{"mailboxes", boxes}, {"messages", waiting}});
    }
}

std::int64_t server_core::expiry(std::uint32_t ttl_ms, std::int64_t now) const {
    auto ttl = static_cast<std::int64_t>(options_.message_ttl.count());
    if (ttl_ms != 0 && (ttl == 0 || ttl_ms < ttl))
        ttl = ttl_ms;
    return ttl > 0 ? now + ttl : 0;
}

error_code server_core::store_mail(mailbox& mb, std::string_view from, const outgoing& m,
                                   std::uint16_t flags, std::int64_t now) {
    bool const marker = (flags & msg::flag_link_sync) != 0;
    auto full = [&] {
        return mb.mails.size() >= options_.mailbox_max_messages ||
               mb.bytes + m.body.size() > options_.mailbox_max_bytes;
    };
    if (!marker && full()) {
        drop_expired(mb, now);
        if (full())
            return error::queue_full;
    }
    mail x{++mb.last_seq,
           std::string(from),
           std::string(m.body),
           m.type,
           flags,
           expiry(m.ttl_ms, now),
           0,
           m.link,
           m.link_seq};
    if (durable_) {
        if (!marker) {
            changes_.push_back(store_change::put{
                {mb.id, x.seq, x.from, x.body, x.type, x.flags, now, x.expires_at}});
            x.commit = batch_;
        } else {
            // Not stored (links end with the process), but after every message before it.
            x.commit = changes_.empty() ? batch_ - 1 : batch_;
        }
    }
    mb.bytes += x.body.size();
    mb.mails.push_back(std::move(x));
    ++pending_mail_;
    if (!marker) {
        stored_.fetch_add(1, std::memory_order_relaxed);
        if (!mb.session)
            stored_offline_.fetch_add(1, std::memory_order_relaxed);
    }
    pump(mb);
    return {};
}

void server_core::drop_expired(mailbox& mb, std::int64_t now) {
    auto const before = mb.mails.size();
    std::erase_if(mb.mails, [&](const mail& m) {
        if (m.expires_at == 0 || m.expires_at > now)
            return false;
        mb.bytes -= m.body.size();
        forget(mb, m.seq);
        return true;
    });
    auto const n = before - mb.mails.size();
    pending_mail_ -= n;
    expired_.fetch_add(n, std::memory_order_relaxed);
}

void server_core::pump(mailbox& mb) {
    // A joiner's mail waits for its snapshot: announce() pumps it.
    if (mb.session && mb.push && mb.session->announced_.load(std::memory_order_relaxed))
        send_mail(mb, std::numeric_limits<std::size_t>::max());
}

void server_core::pump(server_session& s) { // from the session's strand, without the lock
    std::lock_guard lock(mutex_);
    if (s.registered_ && s.mailbox_ && s.mailbox_->session.get() == &s)
        pump(*s.mailbox_);
    commit(); // expired mail met on the way
}

// Queues mailbox messages after mb.sent to the session: committed ones, while its queue
// has room (half its bound, so mail alone never makes it a slow consumer).
std::size_t server_core::send_mail(mailbox& mb, std::size_t max) {
    auto& s = *mb.session;
    auto const room = options_.max_queue_bytes / 2;
    auto const now = unix_now_ms();
    std::size_t n = 0;
    auto it = first_after(mb.mails, mb.sent);
    while (it != mb.mails.end() && n < max) {
        auto& m = *it;
        if (durable_ && m.commit > committed_)
            break;
        if (m.expires_at != 0 && m.expires_at <= now) {
            mb.bytes -= m.body.size();
            forget(mb, m.seq);
            expired_.fetch_add(1, std::memory_order_relaxed);
            --pending_mail_;
            it = mb.mails.erase(it);
            continue;
        }
        if (s.queued_bytes() >= room) {
            // Flag first, then look again: a write finishing in between sees the flag.
            s.mail_waits_room_.store(true);
            if (s.queued_bytes() >= room)
                break;
            s.mail_waits_room_.store(false);
        }
        auto const flags = static_cast<std::uint16_t>(m.flags | msg::flag_mailbox);
        bool const queued =
            m.type == 0
                ? s.enqueue_message(msg::deliver{m.from, m.body, m.seq, flags, m.link, m.link_seq})
                : s.enqueue_message(
                      msg::app{m.type, {}, m.from, m.body, 0, m.seq, m.link, m.link_seq, flags, 0});
        if (!queued)
            break; // closing: the rest waits for the next login
        mb.sent = m.seq;
        ++n;
        ++it;
    }
    return n;
}

void server_core::open_mailbox(server_session& s, const msg::hello& h) {
    auto it = mailboxes_.find(s.id_);
    if (it == mailboxes_.end()) {
        // With a durable store every named client gets a mailbox; assigned ids are
        // addresses, not users.
        if (!durable_ || h.id.empty())
            return;
        it = mailboxes_.emplace(s.id_, mailbox{}).first;
        it->second.id = s.id_;
    }
    auto& mb = it->second;
    s.mailbox_ = &mb;
    mb.session = s.self();
    mb.push = (h.flags & msg::hello_pull) == 0;
    mb.sent = mb.acked;
    if (h.seq > mb.acked) { // the client saw these before: an ACK
        mb.sent = std::min(h.seq, mb.last_seq);
        ack_upto(mb, mb.sent);
    }
    if (durable_)
        changes_.push_back(store_change::login{mb.id, unix_now_ms()});
}

void server_core::ack_upto(mailbox& mb, std::uint64_t seq) {
    if (seq <= mb.acked)
        return;
    std::uint64_t n = 0;
    while (!mb.mails.empty() && mb.mails.front().seq <= seq) {
        mb.bytes -= mb.mails.front().body.size();
        mb.mails.pop_front();
        ++n;
    }
    pending_mail_ -= n;
    acked_.fetch_add(n, std::memory_order_relaxed);
    mb.acked = seq;
    if (durable_)
        changes_.push_back(store_change::ack{mb.id, seq});
    if (shared_mail_)
        cluster_->ack_mailbox(mb.id, seq);
}

// An expired message leaves the store.
void server_core::forget(mailbox& mb, std::uint64_t seq) {
    if (durable_)
        changes_.push_back(store_change::drop{mb.id, seq});
    if (shared_mail_)
        cluster_->drop_mail(seq);
}

void server_core::ack(server_session& from, const msg::ack& a) {
    std::unique_lock lock(mutex_);
    if (!from.mailbox_) {
        lock.unlock();
        return from.send_error(error::unexpected_frame,
                               static_cast<std::uint16_t>(frame_type::ack));
    }
    ack_upto(*from.mailbox_, std::min(a.seq, from.mailbox_->sent)); // only what it was sent
    commit();
}

void server_core::get(server_session& from, const msg::get& g) {
    auto const type = static_cast<std::uint16_t>(frame_type::get);
    std::unique_lock lock(mutex_);
    auto* mb = from.mailbox_;
    if (!mb) {
        lock.unlock();
        return from.send_error(error::unexpected_frame, type, g.ref);
    }
    auto const n = send_mail(*mb, std::min(g.count, options_.max_get));
    auto const pending = std::distance(first_after(mb->mails, mb->sent), mb->mails.end());
    from.enqueue(make_frame(
        msg::fetched{static_cast<std::uint32_t>(n), static_cast<std::uint32_t>(pending), g.ref}));
    commit();
}

void server_core::confirm(server_session& from, std::uint64_t ref, std::uint16_t ref_type,
                          std::string_view to, std::uint32_t offline) {
    if (!durable_ || changes_.empty()) {
        from.enqueue_message(msg::stored{ref, to, offline, 0});
        return;
    }
    confirmations_.push_back({batch_, from.self(), ref, ref_type, std::string(to), offline});
}

// Hands the changes made so far to the store; their confirmations and mail wait for it.
void server_core::commit() {
    if (!durable_ || changes_.empty())
        return;
    auto const batch = batch_++;
    auto const start = std::chrono::steady_clock::now();
    store_->write(std::move(changes_), [w = weak_from_this(), batch, start](error_code ec) {
        auto self = w.lock();
        if (!self)
            return;
        if (!ec)
            self->commit_latency_.record(std::chrono::steady_clock::now() - start);
        asio::post(self->strand_, [self, batch, ec] { self->committed(batch, ec); });
    });
    changes_.clear();
}

// On strand_, without the lock: the store committed `batch` (or failed to).
void server_core::committed(std::uint64_t batch, error_code ec) {
    if (ec) {
        store_failures_.fetch_add(1, std::memory_order_relaxed);
        if (logging()) {
            auto const why = ec.message();
            log(log_level::error, "store.failed", "store: commit failed: " + why,
                {{"reason", why}});
        }
    }
    std::lock_guard lock(mutex_);
    committed_ = std::max(committed_, batch);
    while (!confirmations_.empty() && confirmations_.front().batch <= batch) {
        auto c = std::move(confirmations_.front());
        confirmations_.pop_front();
        auto s = c.to.lock();
        if (!s)
            continue;
        if (ec)
            s->send_error(error::store_failed, c.ref_type, c.ref, c.recipient);
        else
            s->enqueue(make_frame(msg::stored{c.ref, c.recipient, c.offline, msg::stored_durable}));
    }
    close_answered();
    // What failed to commit is still delivered from memory: it is lost only if the server
    // dies before its recipient acknowledges it, and its sender was told.
    announce(); // a joiner's mail follows its snapshot
    for (auto const& m : directory_.members())
        if (m->mailbox_)
            pump(*m->mailbox_);
    commit();
}

asio::awaitable<void> server_core::expiry_watch() {
    for (;;) {
        expiry_timer_.expires_after(std::chrono::seconds(1));
        co_await expiry_timer_.async_wait(asio::as_tuple(asio::use_awaitable));
        std::lock_guard lock(mutex_);
        if (stopping_)
            co_return;
        auto const now = unix_now_ms();
        for (auto& [id, mb] : mailboxes_)
            drop_expired(mb, now);
        commit();
    }
}

} // namespace libnet::detail
