// SPDX-License-Identifier: BSL-1.0
#include "core.hpp"
#include "session.hpp"

namespace libnet::detail {

server_session::server_session(transport stream, server_core* core)
    : connection(std::move(stream), limits(core->options()), &core->counters_), core_(core) {}

connection_limits server_session::limits(const server_options& o) {
    connection_limits l;
    // Until it has registered, a connection may not make the server buffer more than a
    // HELLO can need: a hostile length is refused before anything is allocated.
    l.max_frame = std::min(o.max_frame, max_hello_frame);
    l.max_queue_bytes = o.max_queue_bytes;
    l.close_timeout = o.close_timeout;
    l.frame_timeout = o.frame_timeout;
    return l;
}

std::shared_ptr<server_session> server_session::self() {
    return std::static_pointer_cast<server_session>(shared_from_this());
}

void server_session::send_error(error code, std::uint16_t ref_type, std::uint64_t ref,
                                std::string_view about) {
    core_->count_error(code);
    enqueue(make_error_frame(code, ref_type, ref, about));
}

void server_session::on_written(std::uint64_t) {
    if (mail_waits_room_.load(std::memory_order_relaxed) && mail_waits_room_.exchange(false))
        core_->pump(*this);
}

void server_session::on_frame(frame_view f) {
    if (refused_)
        return;
    if (!hello_done_)
        return on_hello(f);
    before_reply(); // nothing this client causes may overtake its snapshot
    switch (f.core_type()) {
    case frame_type::send: {
        msg::send m;
        if (auto ec = msg::decode(f, m))
            return send_error(wire_code(ec), f.type, m.ref);
        return core_->route(*this, m);
    }
    case frame_type::broadcast: {
        msg::broadcast m;
        if (auto ec = msg::decode(f, m))
            return send_error(wire_code(ec), f.type, m.ref);
        return core_->broadcast(*this, m);
    }
    case frame_type::term: {
        msg::term m;
        if (auto ec = msg::decode(f, m))
            return send_error(wire_code(ec), f.type);
        return core_->client_term(*this, m);
    }
    case frame_type::intro_request: {
        msg::intro_request m;
        if (auto ec = msg::decode(f, m))
            return send_error(wire_code(ec), f.type, m.ref);
        return core_->introduce(*this, m);
    }
    case frame_type::ack: {
        msg::ack m;
        if (auto ec = msg::decode(f, m))
            return send_error(wire_code(ec), f.type);
        return core_->ack(*this, m);
    }
    case frame_type::get: {
        msg::get m;
        if (auto ec = msg::decode(f, m))
            return send_error(wire_code(ec), f.type, m.ref);
        return core_->get(*this, m);
    }
    case frame_type::lookup: {
        msg::lookup m;
        if (auto ec = msg::decode(f, m))
            return send_error(wire_code(ec), f.type, m.ref);
        return core_->lookup(*this, m);
    }
    case frame_type::bye: {
        msg::bye m;
        if (auto ec = msg::decode(f, m)) // field framing applies to BYE too
            return send_error(wire_code(ec), f.type);
        said_bye_ = true;
        return core_->leave(*this);
    }
    case frame_type::hello:
        return send_error(error::already_registered, f.type);
    case frame_type::welcome:
    case frame_type::directory:
    case frame_type::joined:
    case frame_type::left:
    case frame_type::deliver:
    case frame_type::introduction:
    case frame_type::stored:
    case frame_type::fetched:
    case frame_type::presence:
    case frame_type::peer_hello:
    case frame_type::peer_welcome:
        return send_error(error::unexpected_frame, f.type);
    case frame_type::error:
        return; // never answer an ERROR with an ERROR
    default:
        if (is_app_type(f.type))
            return core_->app_frame(*this, f);
        return send_error(error::unknown_type, f.type);
    }
}

void server_session::before_reply() {
    if (!announced_.load(std::memory_order_acquire))
        core_->announce_now();
}

void server_session::on_hello(frame_view f) {
    auto fail = [&](error_code ec) {
        if (refusal_.empty())
            return close(ec, make_error_frame(wire_code(ec), f.type));
        close(ec, make_frame(
                      msg::error{static_cast<std::uint16_t>(ec.value()), refusal_, 0, f.type, {}}));
    };
    if (f.core_type() != frame_type::hello)
        return fail(error::hello_expected);
    hello_at_ = clock::now();
    msg::hello h;
    if (auto ec = msg::decode(f, h))
        return fail(ec);
    if (h.version != protocol_version)
        return fail(error::unsupported_version);
    if (auto ec = core_->register_client(*this, h)) {
        if (ec != error::auth_failed)
            return fail(ec);
        // Against guessing: the answer comes late, and frames meanwhile are ignored.
        refused_ = true;
        set_deadline(clock::now() + core_->options().auth_failure_delay, error::auth_failed);
        return;
    }
    if (!claiming_) // else on_claim() goes on
        start_session();
}

// Registered: the full frame limit, no HELLO deadline, heartbeats.
void server_session::start_session() {
    hello_done_ = true;
    set_max_frame(core_->options().max_frame);
    clear_deadline();
    set_heartbeat(core_->options().heartbeat_interval, core_->options().heartbeat_misses);
}

void server_session::on_claim(error_code ec) {
    claiming_ = false;
    if (ec)
        return close(
            ec, make_error_frame(wire_code(ec), static_cast<std::uint16_t>(frame_type::hello)));
    start_session();
    resume_reading();
}

void server_session::on_closing(error_code reason) {
    using msg::leave_reason;
    auto why = leave_reason::closed;
    if (said_bye_) {
        why = leave_reason::bye;
    } else if (reason == error::heartbeat_timeout || reason == error::unreachable) {
        why = leave_reason::lost;
        core_->count_lost();
    } else if (reason == error::slow_consumer) {
        why = leave_reason::slow_consumer;
        core_->count_slow_consumer();
        core_->count_error(error::slow_consumer);
    } else if (reason == error::terminated || reason == error::shutting_down) {
        why = leave_reason::terminated;
    } else if (reason.category() == libnet_category() && reason != error::connection_closed &&
               reason != error::session_reset) { // a UDP client's RESET: it closed
        why = leave_reason::protocol_error;
        core_->count_error(wire_code(reason)); // its ERROR went out with close()
    }
    core_->unregister(*this, why);
}

} // namespace libnet::detail
