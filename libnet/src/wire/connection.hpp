// SPDX-License-Identifier: BSL-1.0
#ifndef LIBNET_SRC_WIRE_CONNECTION_HPP
#define LIBNET_SRC_WIRE_CONNECTION_HPP

#include "frame_block.hpp"
#include "transport.hpp"

#include <libnet/detail/frame_reader.hpp>
#include <libnet/detail/shared_frame.hpp>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>

#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <system_error>
#include <vector>

namespace libnet::detail {

struct connection_limits {
    std::uint32_t max_frame = default_max_frame_size;
    std::size_t max_queue_bytes = 8u << 20;
    std::chrono::milliseconds close_timeout{2000};
    std::size_t read_size = 16 * 1024; ///< Most bytes asked of one socket read.
    std::size_t min_read_size = 512;   ///< Bytes asked of the first read (reads grow as needed).
    /// Time a frame has, once its first byte arrived, to arrive whole; 0: no limit.
    std::chrono::milliseconds frame_timeout{0};
    /// Turns of the executor the writer lets pass, while frames keep being queued, before it
    /// writes them together (0: writes at once). Senders that complete and send again in
    /// the next turn then share one write; a lone frame waits one turn.
    unsigned coalesce_turns = 0;
    /// A close that is not a finish() keeps the frames not yet written, for
    /// take_unwritten(), instead of flushing them to a peer that is probably gone.
    bool keep_unwritten = false;
};

/// Byte and frame counters a connection adds to (shared by all of a server's sessions).
struct io_counters {
    std::atomic<std::uint64_t> frames_in{0}, frames_out{0}, bytes_in{0}, bytes_out{0};
};

// What a connection needs of its stream beyond Asio's AsyncReadStream and AsyncWriteStream
// is declared with the stream (transport.hpp): prepare_stream, shutdown_send (a coroutine),
// close_stream, stream_open and unacknowledged_bytes. The tests' scripted stream provides
// the same functions in its own namespace, found by argument-dependent lookup.

/// One framed connection over `Stream` (TCP or TLS; in tests, a scripted stream): a
/// reader, a writer and a watchdog coroutine on the stream's strand. The outbound queue is
/// bounded in bytes and drained in one gather write per wake-up; a registration deadline
/// and PING/PONG heartbeats are enforced by the watchdog. Subclasses handle frames. Members
/// marked "any thread" may be called from anywhere; everything else runs on the strand.
template <class Stream>
class basic_connection : public std::enable_shared_from_this<basic_connection<Stream>> {
public:
    using clock = std::chrono::steady_clock;

    basic_connection(Stream stream, connection_limits limits, io_counters* counters = nullptr);
    virtual ~basic_connection();

    basic_connection(const basic_connection&) = delete;
    basic_connection& operator=(const basic_connection&) = delete;

    /// Runs until the connection is finished; never throws.
    boost::asio::awaitable<void> run();

    /// Queues a frame (any thread). Over the bound, the queue is dropped and the connection
    /// closes with ERROR(slow_consumer); returns false then, or when already closing.
    bool enqueue(shared_frame f);

    /// Queues the frame of `m`, encoded straight into the queue's open block (any thread):
    /// frames queued one after another share one buffer and cost no allocation of their
    /// own. Returns as enqueue().
    template <class Message>
    bool enqueue_message(const Message& m) {
        auto const n = msg::encoded_size(m);
        std::lock_guard lock(mutex_);
        return put_locked(m, n);
    }

    enum class put_result { queued, no_room, closed };
    /// As enqueue_message for `m` of `n` bytes (its encoded_size), unless the queue holds
    /// something and `n` more bytes would take it past `room`: then nothing is queued and
    /// the answer is no_room. One lock for the look and the append.
    template <class Message>
    put_result enqueue_message_within(const Message& m, std::size_t n, std::size_t room) {
        std::lock_guard lock(mutex_);
        if (closing_)
            return put_result::closed;
        if (queued_bytes_ != 0 && (queued_bytes_ > room || room - queued_bytes_ < n))
            return put_result::no_room;
        return put_locked(m, n) ? put_result::queued : put_result::closed;
    }

    /// As enqueue, for the strand: returns the stream offset just past `f` (compare with
    /// on_written's argument), or 0 when the frame was not queued.
    std::uint64_t enqueue_tracked(shared_frame f);

    /// Queues the message `make(seq, put)` passes to `put`, encoded in place as by
    /// enqueue_message, with `seq` taken from `counter` under the queue's lock, so the
    /// numbers strictly increase along this connection whichever threads enqueue (any
    /// thread). Returns as enqueue().
    template <class Make>
    bool enqueue_numbered(std::atomic<std::uint64_t>& counter, Make&& make) {
        std::lock_guard lock(mutex_);
        if (closing_)
            return false;
        auto const seq = counter.fetch_add(1, std::memory_order_relaxed);
        last_seq_ = seq;
        bool queued = false;
        make(seq, [&](const auto& m) { queued = put_locked(m, msg::encoded_size(m)); });
        return queued;
    }

    /// Queues `f`, numbered `seq` from `counter` (a frame shared by many connections): if a
    /// later number already went out here, the frame `renumber(n)` builds, with a new n from
    /// `counter`, goes instead (any thread).
    template <class Renumber>
    bool enqueue_numbered(const shared_frame& f, std::uint64_t seq,
                          std::atomic<std::uint64_t>& counter, Renumber&& renumber) {
        std::lock_guard lock(mutex_);
        if (closing_)
            return false;
        if (seq > last_seq_) {
            last_seq_ = seq;
            return push_locked(f) != 0;
        }
        last_seq_ = counter.fetch_add(1, std::memory_order_relaxed);
        return push_locked(renumber(last_seq_)) != 0;
    }

    /// Bytes queued or being written (any thread).
    std::size_t queued_bytes() const;

    /// Queues `last` (if any) past the bound, flushes, half-closes, and ends the connection
    /// when the peer closes or close_timeout passes (any thread). The first reason sticks.
    void close(error_code reason, shared_frame last = {});

    /// Leaves gracefully (strand): queues `last`, flushes, half-closes, and keeps reading
    /// and handling frames until the peer closes (or close_timeout passes), so replies to
    /// what was sent before `last` are not lost.
    void finish(error_code reason, shared_frame last);

    /// Once run() has ended, with keep_unwritten: the bytes not written, from the start of
    /// the first frame not written whole, in order (strand).
    std::vector<shared_frame> take_unwritten() { return std::move(unwritten_); }

    /// Why the connection ended or is closing; empty while open (any thread).
    error_code reason() const;
    bool closing() const;

    boost::asio::ip::tcp::endpoint remote_endpoint() const noexcept { return remote_; }
    boost::asio::any_io_executor get_executor() noexcept { return stream_.get_executor(); }

protected:
    /// A complete frame arrived (strand). Not called once the connection is closing.
    virtual void on_frame(frame_view f) = 0;
    /// The connection started closing, for `reason` (strand, once).
    virtual void on_closing(error_code) {}
    /// About to answer a PING itself (strand): a subclass may queue what must come first.
    virtual void before_reply() {}
    /// Everything up to stream offset `written` went to the socket (strand).
    virtual void on_written(std::uint64_t /*written*/) {}
    /// False pauses reading (backpressure) until resume_reading() (strand).
    virtual bool want_read() { return true; }
    void resume_reading() { read_gate_.cancel(); }

    /// Closes with ERROR(code) at `deadline` unless clear_deadline() is called first (strand).
    void set_deadline(clock::time_point deadline, error code);
    void clear_deadline();
    /// Frames may now declare up to `max_frame` bytes (strand; e.g. once registered).
    void set_max_frame(std::uint32_t max_frame) noexcept { reader_.set_max_value(max_frame); }
    /// The last read filled the space it was given: more input is probably waiting in the
    /// socket (strand).
    bool input_pending() const noexcept { return read_filled_; }
    /// Bytes the receive buffer holds (strand).
    std::size_t receive_capacity() const noexcept { return reader_.capacity(); }
    /// Starts answering PINGs; PINGs after `interval` of silence and declares the peer lost
    /// after `misses` unanswered (strand). An interval of 0 only answers.
    void set_heartbeat(std::chrono::milliseconds interval, std::uint32_t misses);

private:
    boost::asio::awaitable<void> reader();
    boost::asio::awaitable<void> writer();
    boost::asio::awaitable<void> let_senders_add();
    boost::asio::awaitable<void> watchdog();
    clock::time_point heartbeat(clock::time_point now);
    bool handle_frame(frame_view f);
    // With mutex_ held:
    std::uint64_t push_locked(shared_frame f);
    template <class Message>
    bool put_locked(const Message& m, std::size_t n) { // encodes into the open block
        if (!admit_locked(n))
            return false;
        if (open_block_.full_for(n))
            seal_block_locked();
        msg::encode_into(m, open_block_.append(n));
        note_queued_locked(n);
        return true;
    }
    bool admit_locked(std::size_t bytes); // false: closing, or over the bound (then closes)
    void note_queued_locked(std::size_t bytes);
    void seal_block_locked(); // the open block joins queue_, in order
    std::uint64_t unacknowledged();
    void watch_partial_frame(bool progressed);
    void wake_strand();
    void begin_closing();
    /// keep_unwritten: what of `batch` the stream did not take whole (`sent` bytes went).
    void keep_unsent(const std::vector<shared_frame>& batch, std::size_t sent);

    Stream stream_;
    boost::asio::ip::tcp::endpoint remote_;
    connection_limits limits_;
    io_counters* counters_;
    frame_reader reader_;

    // Guarded by mutex_: touched by enqueue() from any thread.
    mutable std::mutex mutex_;
    std::vector<shared_frame> queue_;
    frame_block open_block_;       // frames encoded in place, after everything in queue_
    std::size_t queued_bytes_ = 0; // queued + in flight
    std::uint64_t enqueued_total_ = 0;
    std::uint64_t last_seq_ = 0; // the last number enqueue_numbered() queued
    bool writer_idle_ = false;
    bool closing_ = false;
    // Mirrors closing_ for closing(), which the reader asks once per frame: no lock there.
    std::atomic<bool> closing_flag_{false};
    error_code reason_;

    // Strand only.
    boost::asio::steady_timer writer_wake_;
    boost::asio::steady_timer watchdog_timer_;
    boost::asio::steady_timer read_gate_;
    boost::asio::steady_timer parts_done_; // the writer and the watchdog have ended
    int parts_running_ = 0;
    std::uint64_t written_total_ = 0;  // bytes the stream took, the current batch's so far
    std::uint64_t delivered_seen_ = 0; // bytes the peer had acknowledged at the last look
    std::uint64_t ping_end_ = 0;       // stream offset just past our last PING
    bool closing_seen_ = false;
    bool keep_reading_ = false;   // finish(): frames are still handled while closing
    bool reading_paused_ = false; // want_read() said no: not the peer's silence
    clock::time_point last_keepalive_;
    bool reader_done_ = false;
    bool read_filled_ = false;
    bool writer_done_ = false;
    std::vector<shared_frame> unwritten_;
    clock::time_point last_rx_;
    clock::time_point deadline_ = clock::time_point::max();
    clock::time_point frame_due_ = clock::time_point::max();     // a started frame must be whole
    clock::time_point watchdog_wake_ = clock::time_point::min(); // when it sleeps until
    error deadline_error_ = error::hello_timeout;
    bool keepalive_ = false;
    std::chrono::milliseconds heartbeat_{0};
    std::uint32_t heartbeat_misses_ = 0;
    std::uint32_t pings_unanswered_ = 0;
    std::uint64_t ping_nonce_ = 0;
};

/// The connection libnet runs: over TCP or TLS (instantiated in connection.cpp).
using connection = basic_connection<transport>;
extern template class basic_connection<transport>;

} // namespace libnet::detail

#endif
