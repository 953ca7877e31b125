// SPDX-License-Identifier: BSL-1.0
// The client's life: its strand, the coroutines it starts, cancellation, the end of a
// session, and what other threads may read.

#include "core.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/post.hpp>

namespace libnet::detail {

namespace asio = boost::asio;

namespace {
asio::any_io_executor make_client_strand(const asio::any_io_executor& ex) {
    if (auto const* io = ex.target<asio::io_context::executor_type>())
        return asio::make_strand(*io);
    return asio::make_strand(ex);
}
} // namespace

client_core::client_core(asio::any_io_executor ex, client_options options)
    : ex_(make_client_strand(ex)), options_(std::move(options)),
      events_(ex_, options_.max_events,
              [this](const event& e, bool was_full) { taken(e, was_full); }),
      out_(ex_, options_.max_queue_bytes), state_signal_(ex_), finished_signal_(ex_),
      connect_timer_(ex_), reconnect_timer_(ex_), mailbox_(ex_) {
    out_.hold_on_close(options_.reconnect.enabled); // on_closing decides about them
}

bool client_core::on_strand() const {
    using io_strand = asio::strand<asio::io_context::executor_type>;
    if (auto const* s = ex_.target<io_strand>())
        return s->running_in_this_thread();
    return ex_.target<asio::strand<asio::any_io_executor>>()->running_in_this_thread();
}

void client_core::spawn(asio::awaitable<error_code> op, pending<> done) {
    asio::co_spawn(ex_, std::move(op),
                   [self = shared_from_this(), done = std::move(done)](std::exception_ptr e,
                                                                       error_code ec) mutable {
                       if (e) {
                           self->hook_failed(e);
                           ec = error::hook_failed;
                       }
                       done.complete(self->ex_, ec);
                   });
}

void client_core::spawn(asio::awaitable<void> task) {
    asio::co_spawn(ex_, std::move(task), [self = shared_from_this()](std::exception_ptr e) {
        if (e)
            self->hook_failed(e);
    });
}

// A hook threw (or, defensively, one of the client's own coroutines): the session ends with
// hook_failed, so nothing claims to be connected and async_close still completes.
void client_core::hook_failed(std::exception_ptr) {
    if (!end_reason_)
        end_reason_ = error::hook_failed;
    if (state_ == state::connecting)
        return fail_registration(error::hook_failed);
    if (conn_)
        conn_->close(error::hook_failed);
}

void client_core::on_cancel(asio::cancellation_slot slot, op_kind kind, std::uint64_t key) {
    if (!slot.is_connected())
        return;
    slot.assign([weak = weak_from_this(), kind, key](asio::cancellation_type) {
        if (auto self = weak.lock()) {
            auto ex = self->ex_;
            asio::post(ex, [self = std::move(self), kind, key] { self->cancel(kind, key); });
        }
    });
}

void client_core::cancel(op_kind kind, std::uint64_t key) {
    switch (kind) {
    case op_kind::receive:
        return events_.cancel(key);
    case op_kind::connect:
        if (state_ == state::connecting)
            abort_connect();
        return;
    case op_kind::confirm:
        // The message may already be on its way: its STORED or ERROR becomes an event.
        return mailbox_.cancel_confirm(key);
    case op_kind::fetch:
        for (auto& m : mailbox_.cancel_fetch(key))
            push_event(std::move(m));
        return;
    }
}

error_code client_core::not_open() const {
    if (state_ == state::idle || state_ == state::connecting || !end_reason_)
        return error::not_connected;
    return end_reason_;
}

void client_core::on_closing(const connection& c, error_code reason) {
    if (&c != conn_.get())
        return;          // an attempt's connection, given up and replaced since
    if (reconnecting_) { // an attempt failed: the reconnection loop goes on
        connected_ = false;
        if (!end_reason_)
            end_reason_ = ending_error_ ? ending_error_ : reason;
        if (state_ == state::connecting) {
            state_ = state::closing;
            state_signal_.cancel();
        }
        return;
    }
    auto const why = ending_error_ && reason == error::connection_closed ? ending_error_ : reason;
    if (may_reconnect(why))
        return connection_lost(why);
    out_.hold_on_close(false); // held sends fail below
    if (!end_reason_)
        end_reason_ = term_seen_ ? error_code(error::terminated)
                      : ending_error_ && reason == error::connection_closed ? ending_error_
                      : reason                                              ? reason
                               : error_code(error::not_connected);
    connected_ = false;
    if (state_ != state::finished)
        state_ = state::closing;
    if (!leaving_) // after BYE, what the server still sends is delivered until the end
        events_.close(end_reason_);
    state_signal_.cancel();
    close_links(end_reason_);
    out_.set_closed_reason(end_reason_);
    out_.release(); // nothing more can be queued: held sends fail now
    mailbox_.end(end_reason_);
    end_lookups(end_reason_);
}

void client_core::abort() {
    asio::post(ex_, [self = shared_from_this()] {
        if (self->reconnecting_) { // no attempt after the client is gone
            self->aborting_ = true;
            self->reconnect_timer_.cancel();
        }
        if (self->state_ == state::connecting)
            return self->abort_connect(); // no session left behind that nobody owns
        if (self->conn_ && self->state_ != state::finished) {
            if (!self->end_reason_)
                self->end_reason_ = asio::error::operation_aborted;
            self->conn_->close(asio::error::operation_aborted);
        }
    });
}

std::string client_core::id() const {
    std::lock_guard lock(info_mutex_);
    return id_;
}

std::vector<peer_info> client_core::directory() const {
    std::lock_guard lock(info_mutex_);
    return directory_;
}

bool client_core::connected() const {
    return connected_;
}

std::vector<std::string> client_core::linked_peers() const {
    std::lock_guard lock(info_mutex_);
    return linked_;
}

std::string client_core::listen_endpoint() const {
    std::lock_guard lock(info_mutex_);
    return listen_endpoint_;
}

} // namespace libnet::detail
