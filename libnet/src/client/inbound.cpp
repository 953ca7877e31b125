// SPDX-License-Identifier: BSL-1.0
// Frames from the server become events (or answers to operations waiting for them), and
// events go to the application.

#include "core.hpp"

#include <algorithm>

namespace libnet::detail {

namespace {

// The codes the server sends just before it closes a registered client's connection.
bool ends_session(error_code ec) {
    for (auto const e :
         {error::frame_too_large, error::malformed_field, error::malformed_message,
          error::missing_field, error::frame_timeout, error::id_taken, error::not_allowed,
          error::auth_failed, error::slow_consumer, error::shutting_down})
        if (ec == e)
            return true;
    return false;
}

} // namespace

using clock = std::chrono::steady_clock;

void client_core::on_frame(frame_view f) {
    if (state_ == state::connecting)
        return on_registration_frame(f);
    switch (f.core_type()) {
    case frame_type::deliver: {
        msg::deliver m;
        if (msg::decode(f, m))
            return;
        bool const bcast = (m.flags & msg::flag_broadcast) != 0;
        bool const stored = (m.flags & msg::flag_mailbox) != 0;
        if (stored && (leaving_ || !mailbox_.fresh(m.seq)))
            return; // left: it waits for the next session; or had it already (a redelivery)
        return on_server_message(message{std::string(m.from), std::string(m.body), m.seq, bcast, 0,
                                         route::server, stored},
                                 m.link, m.link_seq, m.flags);
    }
    case frame_type::joined: {
        msg::joined j;
        if (msg::decode(f, j))
            return;
        peer_info p{std::string(j.entry.id), j.entry.join_seq, std::string(j.entry.endpoint)};
        on_joined_frame(p);
        event e = peer_joined{std::move(p)};
        if (options_.on_directory_change)
            options_.on_directory_change(e);
        return push_event(std::move(e));
    }
    case frame_type::left: {
        msg::left l;
        if (msg::decode(f, l))
            return;
        on_left_frame(std::string(l.id));
        event e = peer_left{std::string(l.id), l.reason};
        if (options_.on_directory_change)
            options_.on_directory_change(e);
        return push_event(std::move(e));
    }
    case frame_type::error: {
        msg::error e;
        if (msg::decode(f, e) || on_intro_error(e) || mailbox_.on_error(e) || on_lookup_error(e))
            return;
        if (e.ref == 0 && e.ref_type == 0 && ends_session(from_wire(e.code)))
            ending_error_ = from_wire(e.code);
        return push_event(server_error{from_wire(e.code), std::string(e.text), e.ref, e.ref_type,
                                       std::string(e.id)});
    }
    case frame_type::introduction:
        return on_introduction(f);
    case frame_type::stored:
        return on_stored(f);
    case frame_type::fetched:
        return on_fetched(f);
    case frame_type::presence:
        return on_presence(f);
    case frame_type::term: {
        msg::term t;
        if (msg::decode(f, t))
            t = msg::term{msg::term_reason::shutdown, {}, {}};
        // The server is stopping, not the session: a client that reconnects waits for it.
        if (t.reason == msg::term_reason::shutdown && may_reconnect(error::shutting_down)) {
            conn_->close(error::shutting_down);
            return;
        }
        term_seen_ = true;
        push_event(terminated{t.reason, std::string(t.by), std::string(t.text)});
        conn_->close(error::terminated);
        return;
    }
    default:
        if (is_app_type(f.type)) {
            msg::app m;
            if (msg::decode(f, m))
                return;
            bool const stored = (m.flags & msg::flag_mailbox) != 0;
            if (stored && (leaving_ || !mailbox_.fresh(m.seq)))
                return;
            return on_server_message(message{std::string(m.from), std::string(m.body), m.seq, false,
                                             m.type, route::server, stored},
                                     m.link, m.link_seq, 0);
        }
        return; // frames a client does not handle are ignored (docs/protocol.md)
    }
}

void client_core::on_server_message(message&& m, std::uint64_t link, std::uint64_t link_seq,
                                    std::uint16_t flags) {
    if (flags & msg::flag_link_sync) { // the sender's switch marker (docs/protocol.md §15.4)
        if (m.mailbox)
            consumed();
        auto* found = links_.find(m.from);
        if (!found || found->id != link)
            return; // that link is gone; its sender gives up waiting on it
        auto& l = *found;
        if (!l.verified()) {
            l.sync_pending = true; // the marker overtook PEER_WELCOME
            return;
        }
        l.enqueue(make_frame(msg::ack{l.delivered, msg::flag_link_sync}));
        return;
    }
    if (link != 0 && links_.seen_before(m.from, link, link_seq)) {
        if (m.mailbox)
            consumed();
        return; // re-sent after a link drop, but it did arrive over the link
    }
    deliver(std::move(m));
}

void client_core::deliver(message&& m) {
    if (m.type != 0) {
        if (auto h = options_.app_handlers.find(m.type); h != options_.app_handlers.end()) {
            h->second(m);
            if (m.mailbox)
                consumed();
            return;
        }
    }
    if (options_.on_message && options_.on_message(m)) {
        if (m.mailbox)
            consumed();
        return;
    }
    if (mailbox_.take_for_fetch(m)) // pull mode: the answer to the oldest GET
        return;
    push_event(std::move(m));
}

void client_core::push_event(event&& e) {
    if (auto* m = std::get_if<message>(&e); m && m->mailbox)
        mailbox_.queued(m->seq);
    events_.push(std::move(e));
}

void client_core::receive(clock::time_point deadline, std::uint64_t key, pending<event> op) {
    events_.receive(std::move(op), deadline, key);
}

void client_core::receive_batch(std::size_t max, std::uint64_t key,
                                pending<std::vector<event>> op) {
    events_.receive_batch(std::move(op), max, key);
}

void client_core::taken(const event& e, bool was_full) {
    apply_to_directory(e);
    if (auto* m = std::get_if<message>(&e); m && m->mailbox) {
        mailbox_.taken(m->seq);
        consumed();
    }
    if (was_full) { // every connection that feeds events paused on the same bound
        if (conn_)
            conn_->resume_reading();
        links_.for_each([](peer_link& l) { l.resume_reading(); });
    }
}

void client_core::apply_to_directory(const event& e) {
    if (auto* j = std::get_if<peer_joined>(&e)) {
        std::lock_guard lock(info_mutex_);
        directory_.push_back(j->peer);
    } else if (auto* l = std::get_if<peer_left>(&e)) {
        std::lock_guard lock(info_mutex_);
        std::erase_if(directory_, [l](auto const& p) { return p.id == l->id; });
    }
}

} // namespace libnet::detail
