// SPDX-License-Identifier: BSL-1.0
#ifndef LIBNET_SRC_WIRE_CONNECTION_IMPL_HPP
#define LIBNET_SRC_WIRE_CONNECTION_IMPL_HPP

// The definitions of basic_connection's members: included by connection.cpp, which
// instantiates the TCP connection, and by tests that run one over a scripted stream.

#include "connection.hpp"

#include <libnet/codec.hpp>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include <algorithm>
#include <cstring>
#include <limits>

namespace libnet::detail {

namespace asio = boost::asio;

namespace connection_impl {
inline constexpr auto use_tuple = boost::asio::as_tuple(boost::asio::use_awaitable);
}
using connection_impl::use_tuple;

template <class Stream>
basic_connection<Stream>::basic_connection(Stream stream, connection_limits limits,
                                           io_counters* counters)
    : stream_(std::move(stream)), limits_(limits), counters_(counters),
      reader_(limits.max_frame, limits.read_size, limits.min_read_size),
      writer_wake_(stream_.get_executor()), watchdog_timer_(stream_.get_executor()),
      read_gate_(stream_.get_executor()), parts_done_(stream_.get_executor()),
      last_rx_(clock::now()) {
    remote_ = prepare_stream(stream_);
}

template <class Stream>
basic_connection<Stream>::~basic_connection() = default;

template <class Stream>
boost::asio::awaitable<void> basic_connection<Stream>::run() {
    writer_wake_.expires_at(clock::time_point::max());
    read_gate_.expires_at(clock::time_point::max());
    parts_done_.expires_at(clock::time_point::max());
    // The writer and the watchdog run beside the reader, spawned plainly rather than joined
    // with awaitable operators, whose parallel groups would cost every idle connection a
    // few more coroutine frames. Each part ends by returning; one that throws (bad_alloc)
    // closes the connection. The session is over when all three are.
    auto ex = co_await asio::this_coro::executor;
    auto self = this->shared_from_this();
    auto part_done = [self](std::exception_ptr e) {
        if (e)
            self->close(error::connection_closed);
        if (--self->parts_running_ == 0)
            self->parts_done_.cancel();
    };
    parts_running_ = 2;
    asio::co_spawn(ex, writer(), part_done);
    asio::co_spawn(ex, watchdog(), part_done);
    try {
        co_await reader();
    } catch (const std::exception&) {
        close(error::connection_closed);
        reader_done_ = true;
        watchdog_timer_.cancel();
    }
    while (parts_running_ != 0)
        co_await parts_done_.async_wait(use_tuple);
    close_stream(stream_);
}

template <class Stream>
bool basic_connection<Stream>::enqueue(shared_frame f) {
    return enqueue_tracked(std::move(f)) != 0;
}

template <class Stream>
std::size_t basic_connection<Stream>::queued_bytes() const {
    std::lock_guard lock(mutex_);
    return queued_bytes_;
}

template <class Stream>
std::uint64_t basic_connection<Stream>::enqueue_tracked(shared_frame f) {
    std::lock_guard lock(mutex_);
    return push_locked(std::move(f));
}

template <class Stream>
std::uint64_t basic_connection<Stream>::push_locked(shared_frame f) {
    if (!admit_locked(f.size))
        return 0;
    seal_block_locked();
    auto const bytes = f.size;
    queue_.push_back(std::move(f));
    note_queued_locked(bytes);
    return enqueued_total_;
}

template <class Stream>
bool basic_connection<Stream>::admit_locked(std::size_t bytes) {
    if (closing_)
        return false;
    if (limits_.max_queue_bytes - std::min(queued_bytes_, limits_.max_queue_bytes) >= bytes)
        return true;
    // Slow consumer: what is still queued is dropped; only the ERROR goes out.
    for (auto const& q : queue_)
        queued_bytes_ -= q.size;
    queue_.clear();
    queued_bytes_ -= open_block_.size();
    open_block_.clear();
    auto err = make_error_frame(error::slow_consumer);
    queued_bytes_ += err.size;
    queue_.push_back(std::move(err));
    closing_ = true;
    reason_ = error::slow_consumer;
    wake_strand();
    return false;
}

template <class Stream>
void basic_connection<Stream>::note_queued_locked(std::size_t bytes) {
    queued_bytes_ += bytes;
    enqueued_total_ += bytes;
    if (writer_idle_) {
        writer_idle_ = false;
        asio::post(stream_.get_executor(),
                   [self = this->shared_from_this()] { self->writer_wake_.cancel(); });
    }
}

template <class Stream>
void basic_connection<Stream>::seal_block_locked() {
    if (!open_block_.empty())
        queue_.push_back(open_block_.seal());
}

template <class Stream>
void basic_connection<Stream>::close(error_code reason, shared_frame last) {
    std::lock_guard lock(mutex_);
    if (closing_)
        return;
    closing_ = true;
    reason_ = reason;
    if (last.size != 0) {
        seal_block_locked();
        queued_bytes_ += last.size;
        enqueued_total_ += last.size;
        queue_.push_back(std::move(last));
    }
    wake_strand();
}

template <class Stream>
void basic_connection<Stream>::finish(error_code reason, shared_frame last) {
    keep_reading_ = true;
    close(reason, std::move(last));
}

template <class Stream>
error_code basic_connection<Stream>::reason() const {
    std::lock_guard lock(mutex_);
    return reason_;
}

template <class Stream>
bool basic_connection<Stream>::closing() const {
    return closing_flag_.load(std::memory_order_acquire);
}

// Called with mutex_ held, once, when closing_ becomes true.
template <class Stream>
void basic_connection<Stream>::wake_strand() {
    closing_flag_.store(true, std::memory_order_release);
    writer_idle_ = false;
    asio::post(stream_.get_executor(),
               [self = this->shared_from_this()] { self->begin_closing(); });
}

template <class Stream>
void basic_connection<Stream>::begin_closing() {
    if (closing_seen_)
        return;
    closing_seen_ = true;
    on_closing(reason());
    writer_wake_.cancel();
    watchdog_timer_.cancel();
    read_gate_.cancel();
}

template <class Stream>
void basic_connection<Stream>::set_deadline(clock::time_point deadline, error code) {
    deadline_ = deadline;
    deadline_error_ = code;
    watchdog_timer_.cancel();
}

template <class Stream>
void basic_connection<Stream>::clear_deadline() {
    deadline_ = clock::time_point::max();
}

template <class Stream>
void basic_connection<Stream>::set_heartbeat(std::chrono::milliseconds interval,
                                             std::uint32_t misses) {
    keepalive_ = true;
    heartbeat_ = interval;
    heartbeat_misses_ = std::max<std::uint32_t>(misses, 1);
    watchdog_timer_.cancel();
}

template <class Stream>
boost::asio::awaitable<void> basic_connection<Stream>::reader() {
    for (;;) {
        // Frames already buffered first; once closing, input is only drained (see below).
        bool progressed = false;
        while ((keep_reading_ || (!closing_seen_ && !closing())) && want_read()) {
            auto r = reader_.next();
            if (r.status == decode_status::need_more)
                break;
            if (r.status == decode_status::error) {
                close(r.ec, make_error_frame(wire_code(r.ec)));
                keep_reading_ = false; // the stream can't be decoded past this: drain it
                break;
            }
            if (counters_)
                counters_->frames_in.fetch_add(1, std::memory_order_relaxed);
            handle_frame(r.frame);
            progressed = true;
        }
        watch_partial_frame(progressed);
        if ((keep_reading_ || !closing_seen_) && stream_open(stream_) && !want_read()) {
            reading_paused_ = true; // the watchdog keeps the peer informed meanwhile
            last_keepalive_ = clock::now();
            watchdog_timer_.cancel();
            co_await read_gate_.async_wait(use_tuple);
            reading_paused_ = false;
            last_rx_ = clock::now();
            continue;
        }
        auto const room = reader_.prepare();
        auto [ec, n] = co_await stream_.async_read_some(room, use_tuple);
        read_filled_ = n == room.size() || input_buffered(stream_);
        if (ec) {
            // Over TLS, an end without close_notify is as clean as TCP's end of stream where
            // no frame was cut short: frames delimit themselves, and BYE says what was meant.
            bool const clean =
                ec == asio::error::eof ||
                (ec == asio::ssl::error::stream_truncated && reader_.buffered() == 0);
            close(clean ? error_code(error::connection_closed) : error_code(ec));
            break;
        }
        last_rx_ = clock::now();
        pings_unanswered_ = 0;
        if (counters_)
            counters_->bytes_in.fetch_add(n, std::memory_order_relaxed);
        // Once closing, input is read and dropped until the peer closes, so that closing
        // with unread data never turns into a reset that could lose our last frames.
        if (!keep_reading_ && (closing_seen_ || closing()))
            reader_.discard();
        else
            reader_.commit(n);
    }
    reader_done_ = true;
    watchdog_timer_.cancel();
}

// A frame that started arriving must be whole within frame_timeout, so a peer can't hold a
// buffer by trickling a frame forever. Called with every complete frame handled: what stays
// buffered is one partial frame, new if a frame completed since the last look.
template <class Stream>
void basic_connection<Stream>::watch_partial_frame(bool progressed) {
    if (limits_.frame_timeout.count() == 0)
        return;
    if (reader_.buffered() == 0 || !want_read()) { // paused: complete frames wait, not the peer
        frame_due_ = clock::time_point::max();
    } else if (progressed || frame_due_ == clock::time_point::max()) {
        frame_due_ = last_rx_ + limits_.frame_timeout;
        if (frame_due_ < watchdog_wake_)
            watchdog_timer_.cancel(); // it sleeps past the new deadline
    }
}

template <class Stream>
bool basic_connection<Stream>::handle_frame(frame_view f) {
    if (!keepalive_) { // PING/PONG are only valid once the session is established
        on_frame(f);
        return true;
    }
    switch (f.core_type()) {
    case frame_type::ping: {
        msg::ping p;
        before_reply();
        if (auto ec = msg::decode(f, p))
            enqueue(make_error_frame(wire_code(ec), f.type)); // docs/protocol.md §6.6
        else
            enqueue(make_frame(msg::pong{p.nonce}));
        return true;
    }
    case frame_type::pong: { // any input already counts as a sign of life
        msg::pong p;
        if (auto ec = msg::decode(f, p)) {
            before_reply();
            enqueue(make_error_frame(wire_code(ec), f.type));
        }
        return true;
    }
    default:
        on_frame(f);
        return true;
    }
}

template <class Stream>
boost::asio::awaitable<void> basic_connection<Stream>::writer() {
    std::vector<shared_frame> batch;
    std::vector<asio::const_buffer> buffers;
    for (;;) {
        if (limits_.coalesce_turns != 0)
            co_await let_senders_add();
        bool closing_now = false;
        {
            std::lock_guard lock(mutex_);
            seal_block_locked();
            batch.swap(queue_);
            closing_now = closing_;
            writer_idle_ = batch.empty() && !closing_now;
        }
        if (batch.empty()) {
            if (closing_now)
                break;
            co_await writer_wake_.async_wait(use_tuple);
            continue;
        }
        buffers.clear();
        std::size_t bytes = 0;
        for (auto const& f : batch) {
            buffers.push_back(f.buffer());
            bytes += f.size;
        }
        if (closing_now && limits_.keep_unwritten && !keep_reading_) {
            keep_unsent(batch, 0);
            break;
        }
        // written_total_ follows each partial write, not only the batch's end: a batch can
        // take long over a slow path (UDP takes a window's worth at a time), and the
        // heartbeat's delivered = written - unacknowledged must count the same bytes.
        auto const base = written_total_;
        auto progress = [this, base](const error_code& e, std::size_t sent) -> std::size_t {
            written_total_ = base + sent;
            return e ? 0 : 65536; // as asio::transfer_all
        };
        auto [ec, n] = co_await asio::async_write(stream_, buffers, progress, use_tuple);
        {
            std::lock_guard lock(mutex_);
            queued_bytes_ -= bytes;
        }
        if (counters_) {
            std::size_t frames = 0;
            for (auto const& f : batch)
                frames += f.frames;
            counters_->frames_out.fetch_add(frames, std::memory_order_relaxed);
            counters_->bytes_out.fetch_add(n, std::memory_order_relaxed);
        }
        if (ec && limits_.keep_unwritten)
            keep_unsent(batch, written_total_ - base);
        batch.clear();
        if (batch.capacity() > 256) { // a burst is over: give its capacity back
            std::vector<shared_frame>().swap(batch);
            std::vector<asio::const_buffer>().swap(buffers);
        }
        if (!ec) {
            written_total_ = base + bytes;
            on_written(written_total_);
        }
        if (ec) {
            close(ec);
            close_stream(stream_); // unblocks the reader: nothing more can be sent anyway
            break;
        }
    }
    // The subclass hears of the close before the peer does: a server unregisters the
    // client before the peer sees its end of stream, so the id is free when it reconnects.
    begin_closing();
    co_await shutdown_send(stream_);
    writer_done_ = true;
    watchdog_timer_.cancel();
}

template <class Stream>
void basic_connection<Stream>::keep_unsent(const std::vector<shared_frame>& batch,
                                           std::size_t sent) {
    for (auto const& f : batch) {
        if (sent >= f.size) {
            sent -= f.size;
            continue;
        }
        std::size_t at = 0; // the start of the frame holding byte `sent`
        std::span<const std::uint8_t> const all(f.data.get(), f.size);
        for (;;) {
            auto const r = decode_frame(all.subspan(at), std::numeric_limits<std::uint32_t>::max());
            if (r.status != decode_status::ok || at + r.consumed > sent)
                break;
            at += r.consumed;
        }
        if (at == 0) {
            unwritten_.push_back(f);
        } else {
            auto copy = std::make_shared_for_overwrite<std::uint8_t[]>(f.size - at);
            std::memcpy(copy.get(), f.data.get() + at, f.size - at);
            unwritten_.push_back({std::move(copy), f.size - at, 1});
        }
        sent = 0;
    }
    std::lock_guard lock(mutex_); // and whatever was queued after the batch
    seal_block_locked();
    for (auto& f : queue_)
        unwritten_.push_back(std::move(f));
    queue_.clear();
    queued_bytes_ = 0;
}

template <class Stream>
boost::asio::awaitable<void> basic_connection<Stream>::let_senders_add() {
    auto queued = [this] {
        std::lock_guard lock(mutex_);
        bool const nothing = queue_.empty() && open_block_.empty();
        return closing_ || nothing ? 0 : enqueued_total_; // 0: nothing to wait for
    };
    auto before = queued();
    for (unsigned turn = 0; turn < limits_.coalesce_turns && before != 0; ++turn) {
        co_await asio::post(stream_.get_executor(), use_tuple);
        auto const now = queued();
        if (now == before)
            break;
        before = now;
    }
}

// One heartbeat step: PINGs when due and declares the peer lost after too many unanswered
// ones. Returns when to look again.
template <class Stream>
typename basic_connection<Stream>::clock::time_point
basic_connection<Stream>::heartbeat(clock::time_point now) {
    if (heartbeat_.count() == 0)
        return clock::time_point::max();
    if (reading_paused_) {
        // Not reading, we can't see the peer's PINGs: show it we are alive instead, and
        // don't take our own pause for its silence.
        last_rx_ = now;
        pings_unanswered_ = 0;
        if (now >= last_keepalive_ + heartbeat_) {
            enqueue(make_frame(msg::ping{++ping_nonce_}));
            last_keepalive_ = now;
        }
        return last_keepalive_ + heartbeat_;
    }
    auto due = last_rx_ + heartbeat_ * (pings_unanswered_ + 1);
    if (now >= due && pings_unanswered_ != 0) {
        // Our PING may still wait behind what we send, in our queue or the kernel's. While
        // the peer has not even received it but keeps acknowledging what comes before, it
        // is alive, only busy reading a backlog (a join storm's directory): as good as
        // hearing from it. Once it has the PING, it has its usual time to answer.
        auto const delivered = written_total_ - std::min(written_total_, unacknowledged());
        if (delivered < ping_end_ && delivered > delivered_seen_) {
            delivered_seen_ = delivered;
            last_rx_ = now;
            pings_unanswered_ = 0;
            due = now + heartbeat_;
        }
    }
    if (now < due)
        return due;
    if (pings_unanswered_ >= heartbeat_misses_) {
        close(error::heartbeat_timeout);
        begin_closing();
        return now;
    }
    ++pings_unanswered_;
    // The first unanswered PING is the one that counts: a later one's delayed ACK must not
    // pass for the peer reading older data.
    if (auto end = enqueue_tracked(make_frame(msg::ping{++ping_nonce_})); pings_unanswered_ == 1)
        ping_end_ = end;
    return last_rx_ + heartbeat_ * (pings_unanswered_ + 1);
}

template <class Stream>
std::uint64_t basic_connection<Stream>::unacknowledged() {
    return unacknowledged_bytes(stream_);
}

template <class Stream>
boost::asio::awaitable<void> basic_connection<Stream>::watchdog() {
    auto close_deadline = clock::time_point::max();
    for (;;) {
        auto const now = clock::now();
        auto wake = deadline_;
        if (closing_seen_) {
            if (reader_done_ && writer_done_)
                co_return;
            if (close_deadline == clock::time_point::max())
                close_deadline = now + limits_.close_timeout;
            if (now >= close_deadline) {
                close_stream(stream_); // the peer did not close in time: abort the rest
                keep_reading_ = false; // a reader parked on the gate must not stay there
                read_gate_.cancel();
                co_return;
            }
            wake = close_deadline;
        } else {
            if (now >= frame_due_) {
                frame_due_ = clock::time_point::max();
                close(error::frame_timeout, make_error_frame(error::frame_timeout));
                begin_closing();
                continue;
            }
            wake = std::min(wake, frame_due_);
            if (now >= deadline_) {
                deadline_ = clock::time_point::max();
                close(deadline_error_, make_error_frame(deadline_error_));
                begin_closing(); // on the strand already; don't spin until the post runs
                continue;
            }
            wake = std::min(wake, heartbeat(now));
            if (closing_seen_)
                continue;
        }
        watchdog_wake_ = wake;
        watchdog_timer_.expires_at(wake);
        co_await watchdog_timer_.async_wait(use_tuple);
        watchdog_wake_ = clock::time_point::min();
    }
}

} // namespace libnet::detail

#endif
