// The client's way out: sends held in order until there is room, write tickets, and
// the BYE that ends a session.

#include "core.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace libnet::detail {

namespace asio = boost::asio;
using clock = std::chrono::steady_clock;

namespace {
constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);
}

void client_core::complete(write_waiter& w, error_code ec) {
    if (!w.timer)
        return;
    *w.ec = ec;
    *w.done = true;
    w.timer->cancel();
}

void client_core::on_written(std::uint64_t written) {
    while (!writers_.empty() && writers_.front().ticket <= written) {
        complete(writers_.front(), {});
        writers_.pop_front();
    }
    release_held();
}

void client_core::release_held() {
    while (!held_.empty()) {
        auto& w = held_.front();
        if (conn_->closing()) { // nothing more can be sent
            complete(w, not_open());
            held_.pop_front();
            continue;
        }
        auto const queued = conn_->queued_bytes();
        // A frame larger than the bound still goes, alone.
        if (queued != 0 && queued + w.frame.size > options_.max_queue_bytes)
            return;
        if (w.bye) { // after everything sent before it
            conn_->finish(error::not_connected, std::move(w.frame));
        } else if (auto ticket = conn_->enqueue_tracked(std::move(w.frame))) {
            w.ticket = ticket;
            writers_.push_back(w);
        } else {
            complete(w, not_open());
        }
        held_.pop_front();
    }
}

void client_core::on_finished() {
    state_ = state::finished;
    connected_ = false;
    auto const reason = end_reason_ ? end_reason_ : error_code(error::not_connected);
    for (auto* q : {&writers_, &held_}) {
        for (auto& w : *q)
            complete(w, reason);
        q->clear();
    }
    for (auto* t : receivers_)
        t->cancel();
    state_signal_.cancel();
    finished_signal_.cancel();
}

asio::awaitable<error_code> client_core::write(shared_frame f) {
    if (state_ != state::registered || leaving_)
        co_return not_open();
    asio::steady_timer timer(ex_, clock::time_point::max());
    error_code ec;
    bool done = false;
    held_.push_back({std::move(f), 0, &timer, &ec, &done});
    release_held();
    while (!done)
        co_await timer.async_wait(use_tuple);
    co_return ec;
}

void client_core::write_silent(shared_frame f) {
    held_.push_back({std::move(f)});
    release_held();
}

asio::awaitable<error_code> client_core::broadcast(std::string body) {
    if (state_ != state::registered)
        co_return not_open();
    auto f = make_frame(msg::broadcast{body, next_ref_++});
    if (f.size - frame_header_size > server_max_frame_)
        co_return error::frame_too_large; // the server would refuse it
    co_return co_await write(std::move(f));
}

asio::awaitable<error_code> client_core::terminate(std::string text) {
    if (state_ != state::registered)
        co_return not_open();
    // Built in a named local: GCC 12 miscompiles braced temporaries inside co_await.
    auto f = make_frame(msg::term{msg::term_reason::requested, text, {}});
    co_return co_await write(std::move(f));
}

asio::awaitable<error_code> client_core::close() {
    if (state_ == state::idle)
        co_return error_code{};
    if (state_ == state::connecting) {
        abort_connect();
    } else if (state_ == state::registered && !leaving_) {
        co_await leave_links(); // links first: what they did not confirm can still be re-sent
    }
    if (state_ == state::registered && !leaving_) {
        // Everything received is acknowledged before BYE, the events still queued included:
        // they stay receivable. Mailbox messages arriving after BYE are dropped; the server
        // keeps them for the next session.
        unconsumed_.clear();
        send_ack();
        end_reason_ = error::not_connected;
        leaving_ = true;
        // BYE goes after everything sent before it; frames still on their way (an ERROR
        // about the last SEND) are delivered as events until the server closes.
        held_.push_back({make_frame(msg::bye{}), 0, nullptr, nullptr, nullptr, true});
        release_held();
    }
    finished_signal_.expires_at(clock::time_point::max());
    while (state_ != state::finished && state_ != state::idle)
        co_await finished_signal_.async_wait(use_tuple);
    co_return error_code{};
}

} // namespace libnet::detail
