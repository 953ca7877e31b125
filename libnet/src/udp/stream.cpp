// SPDX-License-Identifier: BSL-1.0
#include "../wire/peer_token.hpp"
#include "stream.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <stdexcept>
#include <string>

namespace libnet::detail::udp {

namespace asio = boost::asio;

namespace {
// A stream that finished its side lingers this long at most for the peer's
// acknowledgements before it lets go.
constexpr auto max_linger = std::chrono::seconds(5);
} // namespace

channel_limits limits_of(const udp_transport& t) {
    if (t.max_datagram < min_datagram || t.max_datagram > max_datagram)
        throw std::invalid_argument("UDP max_datagram " + std::to_string(t.max_datagram) +
                                    " is outside 256-65507");
    if (t.window < 2)
        throw std::invalid_argument("UDP window must be at least 2 packets");
    channel_limits l;
    l.max_datagram = t.max_datagram;
    l.window = t.window;
    l.initial_rto = t.initial_rto;
    l.min_rto = t.min_rto;
    l.max_rto = t.max_rto;
    l.max_timeouts = t.max_timeouts;
    l.reassembly_timeout = t.reassembly_timeout;
    l.keepalive = t.keepalive;
    return l;
}

stream::stream(executor_type ex, std::shared_ptr<datagram_port> port, endpoint peer,
               std::uint64_t cid, const channel_limits& limits)
    : ex_(ex), port_(std::move(port)), peer_(peer), ch_(cid, limits), limits_(limits), timer_(ex) {}

void stream::start() {
    asio::co_spawn(ex_, run_timer(shared_from_this()), asio::detached);
}

asio::awaitable<void> stream::run_timer(std::shared_ptr<stream> self) {
    while (!ended_) {
        if (timer_at_ == clock::time_point::max()) {
            timer_.expires_at(clock::time_point::max());
        }
        co_await timer_.async_wait(asio::as_tuple(asio::use_awaitable)); // early when reset
        if (ended_)
            break;
        if (clock::now() >= timer_at_) {
            timer_at_ = clock::time_point::max();
            flush();
        }
    }
    self.reset();
}

void stream::complete(std::optional<handler>& slot, boost::system::error_code ec, std::size_t n) {
    handler h(std::move(*slot));
    slot.reset();
    // Never from inside the initiating call: posted. The handler's executor is this strand
    // (the connection runs on the stream's executor). Moved explicitly: Asio 1.81's
    // any_completion_handler would wrap itself again if taken as an lvalue.
    asio::post(ex_, [h = std::move(h), ec, n]() mutable { std::move(h)(ec, n); });
}

boost::system::error_code stream::failure() const {
    if (closed_)
        return asio::error::operation_aborted;
    return ch_.failure();
}

void stream::start_read(asio::mutable_buffer b, handler h) {
    read_.emplace(std::move(h));
    read_buffer_ = b;
    if (!try_read())
        return;
    flush(); // reading may have opened the window
}

// Completes the waiting read if it can; true if it did.
bool stream::try_read() {
    if (!read_)
        return false;
    if (auto ec = failure()) {
        complete(read_, ec, 0);
        return true;
    }
    auto const n = ch_.read({static_cast<std::uint8_t*>(read_buffer_.data()), read_buffer_.size()},
                            clock::now());
    if (n == 0 && read_buffer_.size() != 0 && !ch_.at_end())
        return false;
    complete(read_, n == 0 && ch_.at_end() ? asio::error::eof : boost::system::error_code(), n);
    return true;
}

void stream::start_write(std::vector<asio::const_buffer> b, handler h) {
    write_.emplace(std::move(h));
    write_buffers_ = std::move(b);
    if (try_write())
        flush();
}

bool stream::try_write() {
    if (!write_)
        return false;
    if (auto ec = failure(); ec || shut_) {
        complete(write_, ec ? ec : asio::error::broken_pipe, 0);
        return true;
    }
    std::size_t total = 0, wanted = 0;
    for (auto const& b : write_buffers_) {
        wanted += b.size();
        auto const n = ch_.write({static_cast<const std::uint8_t*>(b.data()), b.size()});
        total += n;
        if (n < b.size())
            break;
    }
    if (total == 0 && wanted != 0)
        return false; // the send buffer is full: acknowledgements will make room
    write_buffers_.clear();
    complete(write_, {}, total);
    return true;
}

void stream::shutdown_send() {
    if (shut_ || ended_)
        return;
    shut_ = true;
    ch_.finish();
    flush();
}

void stream::close() {
    if (closed_)
        return;
    closed_ = true;
    try_read();
    try_write();
    if (ch_.failure() || ended_) {
        finish();
        return;
    }
    if (!shut_) { // an abrupt end: the peer hears of it at once rather than by timing out
        std::uint8_t d[reset_size];
        send({d, encode(reset_datagram{ch_.cid()}, d)}, peer_);
        finish();
        return;
    }
    linger_until_ = clock::now() + max_linger;
    flush();
}

void stream::finish() {
    if (ended_)
        return;
    ended_ = true;
    timer_.cancel();
    port_->stream_ended(ch_.cid());
}

void stream::send(std::span<const std::uint8_t> d, const endpoint& to) {
    port_->send_datagram(d, to);
}

// Sends whatever the channel has due, completes what can be completed, and sets the timer
// for the channel's next deadline (only ever earlier: a timer that fires early finds nothing
// due and is set again).
void stream::flush() {
    if (ended_)
        return;
    auto const now = clock::now();
    // One buffer per thread rather than per session: an idle session should cost little.
    thread_local std::vector<std::uint8_t> out(max_datagram);
    for (std::size_t n; (n = ch_.next_datagram({out.data(), limits_.max_datagram}, now)) != 0;)
        send({out.data(), n}, peer_);
    if (closed_) {
        if (ch_.failure() || ch_.closed() || now >= linger_until_) {
            finish();
            return;
        }
    } else if (ch_.failure()) {
        try_read();
        try_write();
    }
    auto next = ch_.deadline();
    if (closed_)
        next = std::min(next, linger_until_);
    if (next < timer_at_) {
        timer_at_ = next;
        timer_.expires_at(next);
    }
}

void stream::on_data(const data_datagram& d, const endpoint& from, std::size_t size) {
    if (ended_)
        return;
    if (from != peer_) {
        auto const now = clock::now();
        // Ask the new address to prove itself; at most one CHALLENGE per 100 ms, and none
        // larger than what came from there.
        if ((from != challenged_ || now - challenged_at_ > std::chrono::milliseconds(100)) &&
            size >= path_size) {
            challenged_ = from;
            challenged_at_ = now;
            challenge_token_ = random_u64();
            std::uint8_t c[path_size];
            send({c, encode(path_datagram{false, ch_.cid(), challenge_token_}, c)}, from);
        }
    }
    ch_.receive(d, clock::now());
    try_read();
    try_write();
    flush();
}

void stream::on_path(const path_datagram& p, const endpoint& from) {
    if (ended_)
        return;
    if (!p.response) { // a client asked to prove its (new) address
        std::uint8_t r[path_size];
        send({r, encode(path_datagram{true, p.cid, p.token}, r)}, peer_);
        return;
    }
    if (challenge_token_ != 0 && p.token == challenge_token_ && from == challenged_) {
        peer_ = from; // the client moved: its NAT gave it a new port, say
        challenge_token_ = 0;
        flush();
    }
}

void stream::on_reset() {
    if (ended_)
        return;
    if (closed_ || (ch_.at_end() && shut_)) { // it forgot a session we were done with too
        finish();
        return;
    }
    ch_.fail(error::session_reset);
    try_read();
    try_write();
    flush();
    if (closed_)
        finish();
}

} // namespace libnet::detail::udp
