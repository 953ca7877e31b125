// SPDX-License-Identifier: BSL-1.0
// The client's way out: sends, broadcasts, TERM and the BYE that ends a session. A send
// goes over a direct link when one is up (peers.cpp), else to the server through the
// outbound queue (outbound.cpp).

#include "core.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace libnet::detail {

namespace asio = boost::asio;
using clock = std::chrono::steady_clock;

void client_core::send(std::uint16_t type, std::string to, std::string body, route how,
                       pending<> op) {
    if (state_ != state::registered && !reconnecting_)
        return op.complete(ex_, not_open());
    if (type != 0 && !is_app_type(type))
        return op.complete(ex_, error::unknown_type);
    if (how != route::server && !to.empty() &&
        (how == route::direct || !links_.none_identified())) {
        auto* link = links_.find(to);
        if (link && link->verified() && !(link->gone && how == route::direct)) {
            if (body.size() + 128 > server_max_frame_) // it may have to go through the server
                return op.complete(ex_, error::frame_too_large);
            send_direct(*link, type, std::move(body), how, std::move(op));
            return;
        }
        if (how == route::direct)
            return op.complete(ex_, error::no_peer_link);
    }
    if (type == 0)
        return send_to_server(msg::send{to, body, next_ref_++}, std::move(op));
    send_to_server(msg::app{type, to, {}, body, next_ref_++}, std::move(op));
}

template <class Message>
void client_core::send_to_server(const Message& m, pending<> op) {
    auto const n = msg::encoded_size(m);
    if (n - frame_header_size > server_max_frame_)
        return op.complete(ex_, error::frame_too_large); // the server would refuse it
    if (leaving_)
        return op.complete(ex_, not_open());
    out_.send_message(m, n, std::move(op));
}

// One operation for many bodies: each goes as a send of its own, and only the last one
// carries the application's handler (a frame too large stops the batch before anything of
// it is sent; any later failure reaches the last send too).
void client_core::send_batch(std::string to, std::vector<std::string> bodies, route how,
                             pending<> op) {
    for (auto const& body : bodies)
        if (body.size() + 128 > server_max_frame_)
            return op.complete(ex_, error::frame_too_large);
    if (bodies.empty())
        return op.complete(ex_, can_send() ? error_code{} : not_open());
    for (std::size_t i = 0; i + 1 < bodies.size(); ++i)
        send(0, to, std::move(bodies[i]), how, pending<>());
    send(0, std::move(to), std::move(bodies.back()), how, std::move(op));
}

void client_core::on_written(std::uint64_t) {
    out_.release();
}

void client_core::write_silent(shared_frame f) {
    out_.send(std::move(f), pending<>());
}

void client_core::on_finished(connection& c) {
    if (reconnecting_) {
        if (&c == lost_conn_ && !reconnect_started_) { // what it did not write goes again
            reconnect_started_ = true;
            lost_conn_ = nullptr;
            keep_unwritten(c);
            spawn(reconnect());
        }
        return;
    }
    if (&c != conn_.get())
        return; // an attempt's connection, given up and replaced since
    end_session();
}

void client_core::end_session() {
    state_ = state::finished;
    connected_ = false;
    auto const reason = end_reason_ ? end_reason_ : error_code(error::not_connected);
    out_.fail(reason);
    events_.close(reason);
    mailbox_.end(reason);
    end_lookups(reason);
    state_signal_.cancel();
    finished_signal_.cancel();
}

void client_core::broadcast(std::string body, pending<> op) {
    if (!can_send())
        return op.complete(ex_, not_open());
    send_to_server(msg::broadcast{body, next_ref_++}, std::move(op));
}

void client_core::terminate(std::string text, pending<> op) {
    if (!can_send())
        return op.complete(ex_, not_open());
    out_.send(make_frame(msg::term{msg::term_reason::requested, text, {}}), std::move(op));
}

void client_core::close(pending<> op) {
    spawn(close_session(), std::move(op));
}

asio::awaitable<error_code> client_core::close_session() {
    if (state_ == state::idle)
        co_return error_code{};
    if (reconnecting_) { // stop trying; the loop ends the session
        aborting_ = true;
        reconnect_timer_.cancel();
        if (state_ == state::connecting)
            abort_connect();
    } else if (state_ == state::connecting) {
        abort_connect();
    } else if (state_ == state::registered && !leaving_) {
        co_await leave_links(); // links first: what they did not confirm can still be re-sent
    }
    if (state_ == state::registered && !leaving_) {
        // Everything received is acknowledged before BYE, the events still queued included:
        // they stay receivable. Mailbox messages arriving after BYE are dropped; the server
        // keeps them for the next session.
        mailbox_.forget_queued();
        send_ack();
        end_reason_ = error::not_connected;
        out_.set_closed_reason(end_reason_);
        out_.hold_on_close(false);
        leaving_ = true;
        // BYE goes after everything sent before it; frames still on their way (an ERROR
        // about the last SEND) are delivered as events until the server closes.
        out_.send_last(make_frame(msg::bye{}));
    }
    finished_signal_.expires_at(clock::time_point::max());
    while (state_ != state::finished && state_ != state::idle)
        co_await finished_signal_.async_wait(asio::as_tuple(asio::use_awaitable));
    co_return error_code{};
}

} // namespace libnet::detail
