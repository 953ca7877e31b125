// SPDX-License-Identifier: BSL-1.0
#include "raw_client.hpp"

#include <boost/asio/error.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/write.hpp>

#include <array>

namespace bench {

namespace {

// One read buffer for every client: handlers run one at a time on the loop's one thread.
std::array<std::uint8_t, 256 * 1024> shared_buffer;

// Reads per wake-up before yielding to other clients (the loop comes back at once).
constexpr int reads_per_turn = 8;

} // namespace

raw_client::raw_client(asio::io_context& ioc, client_events& events, std::size_t index,
                       std::string id)
    : events_(events), socket_(ioc), index_(index), id_(std::move(id)) {}

void raw_client::start(const tcp::endpoint& server) {
    socket_.async_connect(server, [this](const boost::system::error_code& ec) { on_connect(ec); });
}

void raw_client::on_connect(const boost::system::error_code& ec) {
    if (ec) {
        if (ec != asio::error::operation_aborted)
            fail(failure::connect, "connect: " + ec.message());
        return;
    }
    connected_ = true;
    boost::system::error_code ignored;
    socket_.non_blocking(true, ignored);
    socket_.set_option(tcp::no_delay(true), ignored);
    events_.on_connected(*this);
    greet(out_);
    flush();
    wait_readable();
}

void raw_client::set_message(std::string_view to, std::size_t size) {
    message_.clear();
    std::string const body(size, 'x');
    encode_message(to, body, message_);
}

void raw_client::queue_messages(std::size_t n) {
    for (std::size_t i = 0; i < n; ++i)
        out_.insert(out_.end(), message_.begin(), message_.end());
    schedule_flush();
}

std::vector<std::uint8_t>& raw_client::output() noexcept {
    return out_;
}

void raw_client::schedule_flush() {
    if (flush_posted_ || writing_ || !socket_.is_open())
        return;
    flush_posted_ = true;
    asio::post(socket_.get_executor(), [this] {
        flush_posted_ = false;
        flush();
    });
}

void raw_client::flush() {
    if (writing_ || out_.empty() || !socket_.is_open())
        return;
    writing_ = true;
    std::swap(out_, sending_);
    asio::async_write(socket_, asio::buffer(sending_),
                      [this](const boost::system::error_code& ec, std::size_t) { on_written(ec); });
}

void raw_client::on_written(const boost::system::error_code& ec) {
    writing_ = false;
    sending_.clear();
    if (ec) {
        if (closing_)
            finish_close();
        else if (ec != asio::error::operation_aborted)
            fail(failure::reset, "write: " + ec.message());
        return;
    }
    if (!out_.empty()) {
        flush();
    } else if (closing_) {
        boost::system::error_code ignored;
        socket_.shutdown(tcp::socket::shutdown_send, ignored);
    }
}

void raw_client::wait_readable() {
    socket_.async_wait(tcp::socket::wait_read, [this](const boost::system::error_code& ec) {
        if (!ec)
            on_readable();
        else if (closing_)
            finish_close();
        else if (ec != asio::error::operation_aborted)
            fail(failure::reset, "wait: " + ec.message());
    });
}

// Drains the socket (the reactor is edge-triggered: what is left unread raises no new
// event), a few reads at a time so that one busy client does not starve the others.
void raw_client::on_readable() {
    for (int i = 0; i < reads_per_turn; ++i) {
        boost::system::error_code ec;
        auto const n = socket_.read_some(asio::buffer(shared_buffer), ec);
        if (ec == asio::error::would_block) {
            wait_readable();
            return;
        }
        if (ec) {
            if (closing_)
                finish_close();
            else
                fail(failure::reset, ec == asio::error::eof ? "the server closed the connection"
                                                            : "read: " + ec.message());
            return;
        }
        bytes_in += n;
        if (!closing_ && !consume(std::span<const std::uint8_t>(shared_buffer.data(), n)))
            return;
        if (!socket_.is_open()) // an event handler closed it
            return;
    }
    asio::post(socket_.get_executor(), [this] {
        if (socket_.is_open())
            on_readable();
    });
}

void raw_client::mark_registered() {
    if (registered_)
        return;
    registered_ = true;
    events_.on_registered(*this);
}

void raw_client::mark_ready() {
    if (ready_)
        return;
    ready_ = true;
    events_.on_ready(*this);
}

void raw_client::fail(failure kind, std::string_view what) {
    if (failed_)
        return;
    failed_ = true;
    close_now();
    events_.on_failure(*this, kind, what);
}

void raw_client::close_gracefully() {
    if (closing_)
        return;
    closing_ = true;
    if (failed_ || !socket_.is_open() || !connected_) {
        close_now();
        events_.on_closed(*this);
        return;
    }
    goodbye(out_);
    if (out_.empty() && !writing_) {
        boost::system::error_code ignored;
        socket_.shutdown(tcp::socket::shutdown_send, ignored);
    } else {
        flush();
    }
}

void raw_client::finish_close() {
    if (!socket_.is_open())
        return;
    close_now();
    events_.on_closed(*this);
}

void raw_client::close_now() {
    boost::system::error_code ignored;
    socket_.close(ignored);
}

} // namespace bench
