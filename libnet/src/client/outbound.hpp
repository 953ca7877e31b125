// SPDX-License-Identifier: BSL-1.0
#ifndef LIBNET_SRC_CLIENT_OUTBOUND_HPP
#define LIBNET_SRC_CLIENT_OUTBOUND_HPP

#include "../wire/connection.hpp"
#include "pending.hpp"

#include <libnet/detail/shared_frame.hpp>

#include <deque>
#include <memory>
#include <vector>

namespace libnet::detail {

/// The client's way out to the server. A send completes as soon as its frame is in the
/// connection's outbound queue, so sends issued one after another leave in one write; while
/// the queue is over its bound, frames are held here in order, with their operations, until
/// the writer has made room. Strand only.
class outbound {
public:
    outbound(boost::asio::any_io_executor ex, std::size_t max_queue_bytes)
        : ex_(std::move(ex)), max_queue_bytes_(max_queue_bytes) {}

    void attach(std::shared_ptr<connection> conn) { conn_ = std::move(conn); }

    /// The connection is lost and the client reconnects: sends are held, in order, until
    /// resume().
    void suspend() {
        conn_.reset();
        suspended_ = true;
    }
    /// Puts `frames` (what the lost connection did not write) before everything held.
    void hold_first(std::vector<shared_frame> frames);
    /// While set, sends to a closing connection are held rather than failed: the owner
    /// either suspends (a reconnection follows) or clears it and releases (they fail).
    void hold_on_close(bool on) { hold_on_close_ = on; }
    /// Drops the held frames `keep(frame)` rejects; their operations complete with `ec`.
    template <class Keep>
    void filter_held(Keep&& keep, error_code ec) {
        std::erase_if(held_, [&](held& h) {
            if (h.last || keep(h.frame))
                return false;
            h.op.complete(ex_, ec);
            return true;
        });
    }
    /// Sends through `conn` from now on, starting with what is held.
    void resume(std::shared_ptr<connection> conn) {
        suspended_ = false;
        conn_ = std::move(conn);
        release();
    }

    /// Queues `f` after everything sent before it; `op` (possibly inactive) completes once
    /// it is queued, or with `closed` if the connection closes first.
    void send(shared_frame f, pending<> op);
    /// As send(), for the frame of `m`, `n` bytes (its encoded_size): encoded straight
    /// into the connection's queue when it has room, so it costs no allocation of its own;
    /// held as a frame otherwise.
    template <class Message>
    void send_message(const Message& m, std::size_t n, pending<> op) {
        if (suspended_)
            return send(make_frame(m), std::move(op));
        if (!conn_)
            return op.complete(ex_, closed_);
        using put = connection::put_result;
        auto const r =
            held_.empty() ? conn_->enqueue_message_within(m, n, max_queue_bytes_) : put::no_room;
        if (r == put::no_room || (r == put::closed && hold_on_close_))
            return send(make_frame(m), std::move(op));
        op.complete(ex_, r == put::queued ? error_code{} : closed_);
    }
    /// Sends `bye` after everything else and closes gracefully (docs/protocol.md §5.11).
    void send_last(shared_frame bye);
    /// The writer made room (or the connection is closing): moves held frames on.
    void release();
    /// Completes every held send with `reason` (the connection has ended).
    void fail(error_code reason);

    /// What a send on a closed connection completes with.
    void set_closed_reason(error_code reason) { closed_ = reason; }

private:
    struct held {
        shared_frame frame;
        pending<> op;
        bool last = false;
    };
    bool has_room(std::size_t bytes) const;

    boost::asio::any_io_executor ex_;
    std::size_t max_queue_bytes_;
    std::shared_ptr<connection> conn_;
    std::deque<held> held_;
    error_code closed_ = error::not_connected;
    bool suspended_ = false;
    bool hold_on_close_ = false;
};

} // namespace libnet::detail

#endif
