// Registration and routing: HELLO, SEND, BROADCAST, LOOKUP, client TERM, leaving, and the
// termination policies that follow from them. All of it under server_core::mutex_.

#include "../peer_token.hpp"
#include "core.hpp"

#include <libnet/client_id.hpp>

#include <algorithm>
#include <optional>

namespace libnet::detail {

std::string server_core::assign_id(const server_session& s) const {
    auto base = endpoint_string(s.remote_endpoint());
    if (!directory_.find(base))
        return base;
    for (int i = 2;; ++i) { // two connections can only share ip:port across address families
        auto id = base + "#" + std::to_string(i);
        if (!directory_.find(id))
            return id;
    }
}

error_code server_core::register_client(server_session& s, const msg::hello& h) {
    if (!h.id.empty() && !is_valid_client_id(h.id))
        return error::invalid_client_id;
    if (h.endpoint.size() > max_endpoint_size)
        return error::malformed_message;
    std::string id(h.id);
    if (id.empty()) {
        std::lock_guard lock(mutex_);
        id = assign_id(s);
    }
    if (auto ec = check_access(id, h)) {
        refused_.fetch_add(1, std::memory_order_relaxed);
        log(log_level::info,
            "refused " + id + ": " +
                (ec == error::not_allowed ? "not on the allow list" : "wrong secret"));
        return ec;
    }
    if (options_.on_register) { // outside the lock: the hook may take its time
        if (auto why = options_.on_register({id, h.endpoint, h.credentials, s.remote_endpoint()})) {
            log(log_level::info, "refused " + id + ": " + *why);
            s.refusal_ = std::move(*why);
            return error::not_permitted;
        }
    }
    std::unique_lock lock(mutex_);
    if (stopping_)
        return error::shutting_down;
    if (directory_.find(id))
        return error::id_taken;
    // The snapshot is one frame: refuse a client it could no longer be sent to.
    if (directory_.size() >= options_.max_clients || !directory_.fits(id, h.endpoint))
        return error::server_full;

    s.id_ = std::move(id);
    s.endpoint_ = h.endpoint;
    s.presence_ = (h.flags & msg::hello_no_directory) == 0;
    if (!s.endpoint_.empty())
        s.peer_key_ = random_bytes(peer_key_size);
    s.registered_ = true;
    if (directory_.add(s.self()))
        announce_soon();
    ++registrations_;
    open_mailbox(s, h);

    // WELCOME goes out now; the snapshot, the deltas to the others and what waits in the
    // mailbox follow with the next announcement, which batches every join until then.
    msg::welcome w{protocol_version,
                   s.id_,
                   options_.max_frame,
                   static_cast<std::uint32_t>(options_.heartbeat_interval.count()),
                   std::max<std::uint32_t>(options_.heartbeat_misses, 1),
                   s.peer_key_};
    if (auto* mb = s.mailbox_) {
        w.flags = msg::welcome_mailbox | (durable_ ? msg::welcome_durable : 0);
        w.seq = mb->acked;
        w.pending = static_cast<std::uint32_t>(mb->mails.size());
    }
    s.enqueue(make_frame(w));
    commit();

    bool const teardown = options_.teardown_at != 0 && registrations_ == options_.teardown_at;
    auto const count = directory_.size();
    lock.unlock();

    log(log_level::info, "joined " + s.id_ + " from " + endpoint_string(s.remote_endpoint()) +
                             " (" + std::to_string(count) + " online)");
    if (teardown) {
        log(log_level::info, "teardown: " + std::to_string(options_.teardown_at) + " registered");
        stop(msg::term_reason::teardown);
    }
    return {};
}

bool server_core::deliverable(server_session& from, std::size_t size, std::uint16_t type,
                              std::uint64_t ref) {
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
    std::unique_lock lock(mutex_);
    announce(); // JOINED(sender) reaches every client before its messages do
    auto box = mailboxes_.empty() ? mailboxes_.end() : mailboxes_.find(m.to);
    if (box != mailboxes_.end()) {
        auto& mb = box->second;
        if (sync && !mb.session)
            return; // a marker matters only to a peer that is online
        bool const offline = !mb.session;
        if (auto ec = store_mail(mb, from.id_, m, mark, unix_now_ms())) {
            commit();
            lock.unlock();
            return from.send_error(static_cast<error>(ec.value()), type, m.ref, m.to);
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
        // Encoded under the lock so sequence numbers increase along every recipient's stream.
        shared_frame f;
        if (m.type == 0)
            f = make_frame(
                msg::deliver{from.id_, m.body, next_msg_seq_++, mark, m.link, m.link_seq});
        else
            f = make_frame(msg::app{
                m.type, {}, from.id_, m.body, 0, next_msg_seq_++, m.link, m.link_seq, 0, 0});
        if (to->enqueue(std::move(f)) && !sync)
            routed_.fetch_add(1, std::memory_order_relaxed);
        if (confirm_wanted)
            from.enqueue(make_frame(msg::stored{m.ref, m.to, 0, 0}));
        return;
    }
    lock.unlock();
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
    std::lock_guard lock(mutex_);
    announce();
    auto const f = make_frame(msg::deliver{from.id_, m.body, next_msg_seq_++, msg::flag_broadcast});
    for (auto const& member : directory_.members())
        if (member.get() != &from && !member->mailbox_)
            member->enqueue(f);
    // Every mailbox gets its copy, online or not: everyone gets every message they missed.
    outgoing const o{0, {}, m.body, m.ref, 0, m.ttl_ms, 0, 0};
    auto const now = unix_now_ms();
    std::uint32_t stored = 0, offline = 0;
    for (auto& [id, mb] : mailboxes_) {
        if (id == from.id_)
            continue;
        if (auto ec = store_mail(mb, from.id_, o, msg::flag_broadcast, now)) {
            from.send_error(static_cast<error>(ec.value()), type, m.ref, id);
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
            from.enqueue(make_frame(msg::stored{m.ref, {}, 0, 0}));
    }
    commit();
}

void server_core::lookup(server_session& from, const msg::lookup& m) {
    std::unique_lock lock(mutex_);
    msg::presence p{m.id, 0, {}, m.ref};
    std::string endpoint;
    if (auto* s = directory_.find(m.id)) {
        p.join_seq = s->join_seq_;
        endpoint = s->endpoint_;
    }
    lock.unlock();
    p.endpoint = endpoint;
    from.enqueue(make_frame(p));
}

void server_core::client_term(server_session& from, const msg::term& m) {
    if (!options_.allow_client_term) {
        from.send_error(error::not_permitted, static_cast<std::uint16_t>(frame_type::term));
        return;
    }
    log(log_level::info,
        "TERM from " + from.id_ + (m.text.empty() ? std::string() : ": " + std::string(m.text)));
    stop(msg::term_reason::requested, from.id_, m.text);
}

void server_core::unregister(server_session& s, msg::leave_reason reason) {
    std::unique_lock lock(mutex_);
    if (!s.registered_)
        return;
    s.registered_ = false;
    if (s.mailbox_ && s.mailbox_->session.get() == &s)
        s.mailbox_->session.reset();
    if (directory_.remove(s, reason, stopping_))
        announce_soon();
    if (directory_.size() == 0)
        idle_since_ = std::chrono::steady_clock::now();
    bool const stopping = stopping_;
    auto const count = directory_.size();
    std::optional<msg::term_reason> policy;
    if (!stopping && options_.exit_on_disconnect)
        policy = msg::term_reason::disconnect;
    else if (!stopping && options_.expect != 0 && registrations_ >= options_.expect &&
             directory_.size() == 0)
        policy = msg::term_reason::expected;
    lock.unlock();

    log(log_level::info, "left " + s.id_ + " (" + std::string(msg::to_string(reason)) + ", " +
                             std::to_string(count) + " online)");
    if (options_.on_leave)
        options_.on_leave(s.id_, reason);
    if (policy) {
        log(log_level::info, "policy " + std::string(msg::to_string(*policy)) + " fired");
        stop(*policy);
    }
}

} // namespace libnet::detail
