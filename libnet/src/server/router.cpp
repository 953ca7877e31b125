// SPDX-License-Identifier: BSL-1.0
// Routing: SEND, BROADCAST and routed application frames, to live recipients and to
// mailboxes.

#include "core.hpp"

namespace libnet::detail {

bool server_core::deliverable(server_session& from, std::size_t size, std::uint16_t type,
                              std::uint64_t ref) {
    if (!barrier_open_.load(std::memory_order_acquire)) {
        from.send_error(error::not_ready, type, ref);
        return false;
    }
    // What is delivered is larger than what was sent; what fit may no longer fit.
    if (size - frame_header_size <= options_.max_frame)
        return true;
    from.send_error(error::frame_too_large, type, ref);
    return false;
}

bool server_core::allowed(server_session& from, const routed_message& m, std::uint64_t ref) {
    if (!options_.on_route)
        return true;
    auto why = options_.on_route(m);
    if (!why)
        return true;
    count_error(error::not_permitted);
    from.enqueue(make_frame(
        msg::error{static_cast<std::uint16_t>(error::not_permitted), *why, ref, m.type, m.to}));
    return false;
}

void server_core::route(server_session& from, const msg::send& m) {
    route_one(from, {0, m.to, m.body, m.ref, m.flags, m.ttl_ms, m.link, m.link_seq});
}

void server_core::route_one(server_session& from, const outgoing& m) {
    auto const type = m.type != 0 ? m.type : static_cast<std::uint16_t>(frame_type::send);
    // Peer-link fields pass through; the link switch marker is the clients' business only.
    bool const sync = m.type == 0 && m.body.empty() && (m.flags & msg::flag_link_sync) != 0;
    bool const confirm_wanted = !sync && (m.flags & msg::flag_confirm) != 0;
    auto const mark = static_cast<std::uint16_t>(sync ? msg::flag_link_sync : 0);
    // The largest form it can be delivered in: from a mailbox.
    std::size_t size;
    if (m.type == 0)
        size = msg::encoded_size(
            msg::deliver{from.id_, m.body, 1, msg::flag_mailbox, m.link, m.link_seq});
    else
        size = msg::encoded_size(
            msg::app{m.type, {}, from.id_, m.body, 0, 1, m.link, m.link_seq, msg::flag_mailbox, 0});
    if (!deliverable(from, size, type, m.ref))
        return;
    if (!sync && !allowed(from, {from.id_, m.to, type, m.body}, m.ref))
        return;
    if (!has_mailboxes_) {
        if (auto to = recipient(from, m.to))
            return deliver_live(from, *to, m, mark, confirm_wanted);
        if (cluster_ && forward(from, m))
            return;
        if (!sync)
            from.send_error(error::no_such_client, type, m.ref, m.to);
        return;
    }
    std::unique_lock lock(mutex_);
    announce(); // JOINED(sender) reaches every client before its messages do
    if (auto box = mailboxes_.find(m.to); box != mailboxes_.end()) {
        auto& mb = box->second;
        if (shared_mail_) {
            bool const offline = !mb.session && !directory_.find_remote(m.to);
            if (sync && offline)
                return;
            auto g = std::make_shared<store_group>(
                store_group{from.self(), m.ref, type, std::string(m.to), offline ? 1u : 0u, 0, 0,
                            !sync && (confirm_wanted || offline)});
            if (!sync)
                routed_.fetch_add(1, std::memory_order_relaxed);
            if (!sync && offline)
                stored_offline_.fetch_add(1, std::memory_order_relaxed);
            return store_shared(lock, from, m.to, m, mark, g);
        }
        if (sync && !mb.session)
            return; // a marker matters only to a peer that is online
        bool const offline = !mb.session;
        if (auto ec = store_mail(mb, from.id_, m, mark, unix_now_ms())) {
            commit();
            lock.unlock();
            return from.send_error(wire_code(ec), type, m.ref, m.to);
        }
        if (!sync) {
            routed_.fetch_add(1, std::memory_order_relaxed);
            if (confirm_wanted || offline)
                confirm(from, m.ref, type, m.to, offline ? 1 : 0);
        }
        commit();
        return;
    }
    if (auto* to = directory_.find(m.to)) {
        auto const hold = to->self(); // a recipient without a mailbox: as above
        lock.unlock();
        return deliver_live(from, *hold, m, mark, confirm_wanted);
    }
    lock.unlock();
    if (cluster_ && forward(from, m))
        return;
    if (!sync)
        from.send_error(error::no_such_client, type, m.ref, m.to);
}

void server_core::broadcast(server_session& from, const msg::broadcast& m) {
    auto const type = static_cast<std::uint16_t>(frame_type::broadcast);
    msg::deliver probe{from.id_, m.body, 1, msg::flag_broadcast | msg::flag_mailbox};
    if (!deliverable(from, msg::encoded_size(probe), type, m.ref))
        return;
    if (!allowed(from, {from.id_, {}, type, m.body}, m.ref))
        return;
    if (cluster_) { // one publish; each node fans it out to its own clients
        auto const f = make_frame(msg::broadcast{m.body, 0, 0, 0});
        if (!cluster_->broadcast(from.id_, {f.data.get(), f.size}))
            from.send_error(error::cluster_unavailable, type, m.ref);
    }
    fan_out(from.id_, m.body, &from);
    std::unique_lock lock(mutex_);
    // Every mailbox gets its copy, online or not: everyone gets every message they missed.
    outgoing const o{0, {}, m.body, m.ref, 0, m.ttl_ms, 0, 0};
    if (shared_mail_)
        return broadcast_shared(lock, from, m, o);
    auto const now = unix_now_ms();
    std::uint32_t stored = 0, offline = 0;
    for (auto& [id, mb] : mailboxes_) {
        if (id == from.id_)
            continue;
        if (auto ec = store_mail(mb, from.id_, o, msg::flag_broadcast, now)) {
            from.send_error(wire_code(ec), type, m.ref, id);
            continue;
        }
        ++stored;
        offline += mb.session ? 0 : 1;
    }
    broadcasts_.fetch_add(1, std::memory_order_relaxed);
    if ((m.flags & msg::flag_confirm) != 0 || offline != 0) {
        if (stored != 0)
            confirm(from, m.ref, type, {}, offline);
        else
            from.enqueue_message(msg::stored{m.ref, {}, 0, 0});
    }
    commit();
}

// A broadcast to every local client without a mailbox but `except`.
void server_core::fan_out(std::string_view from, std::string_view body,
                          const server_session* except) {
    std::lock_guard lock(mutex_);
    announce(); // JOINED(sender) reaches every client before its messages do
    // One encoding for everyone; a recipient whose stream already carries a later number
    // (a SEND routed to it meanwhile without this lock) gets a renumbered copy.
    auto const seq = next_msg_seq_.fetch_add(1, std::memory_order_relaxed);
    auto const f = make_frame(msg::deliver{from, body, seq, msg::flag_broadcast});
    auto renumber = [&](std::uint64_t n) {
        return make_frame(msg::deliver{from, body, n, msg::flag_broadcast});
    };
    for (auto const& member : directory_.members())
        if (member.get() != except && !member->mailbox_)
            member->enqueue_numbered(f, seq, next_msg_seq_, renumber);
}

// The session of online client `id`, or null. A sender remembers its last recipient, and
// while no client has left since (leaves_ unchanged) it needs neither the server's lock nor
// a hash: a one-thread server routes a message with one lock pair (the recipient's queue).
std::shared_ptr<server_session> server_core::recipient(server_session& from, std::string_view id) {
    auto& cache = from.route_cache_;
    auto const epoch = leaves_.load(std::memory_order_acquire);
    if (cache.to && cache.epoch == epoch && cache.id == id)
        return cache.to;
    std::lock_guard lock(mutex_);
    announce(); // JOINED(sender) reaches every client before its messages do
    auto* to = directory_.find(id);
    if (!to)
        return nullptr;
    cache.id = id;
    cache.to = to->self();
    cache.epoch = leaves_.load(std::memory_order_relaxed); // stable: leaves take the lock
    return cache.to;
}

// Routes to a recipient without a mailbox. Its sequence number is taken under the
// recipient's queue lock, so the numbers strictly increase along its stream whichever
// threads route to it; FIFO per sender holds because a sender's frames are handled in order
// on its strand.
void server_core::deliver_live(server_session& from, server_session& to, const outgoing& m,
                               std::uint16_t mark, bool confirm_wanted) {
    bool const queued = to.enqueue_numbered(next_msg_seq_, [&](std::uint64_t seq, auto&& put) {
        if (m.type == 0)
            return put(msg::deliver{from.id_, m.body, seq, mark, m.link, m.link_seq});
        put(msg::app{m.type, {}, from.id_, m.body, 0, seq, m.link, m.link_seq, 0, 0});
    });
    if (queued && mark == 0)
        routed_.fetch_add(1, std::memory_order_relaxed);
    if (confirm_wanted)
        from.enqueue_message(msg::stored{m.ref, m.to, 0, 0});
}

} // namespace libnet::detail
