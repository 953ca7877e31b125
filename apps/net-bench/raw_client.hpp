// SPDX-License-Identifier: BSL-1.0
#ifndef LIBNET_APPS_NET_BENCH_RAW_CLIENT_HPP
#define LIBNET_APPS_NET_BENCH_RAW_CLIENT_HPP

// The socket half of net-bench's wire clients: one non-blocking TCP socket on a
// single-threaded io_context. Reads go into one buffer shared by every client (the loop
// runs one handler at a time), so ten thousand idle clients cost a socket each, not a
// buffer each; writes collect everything queued in one event-loop turn into one write.
// The protocol half (libnet_client.hpp, nats_client.hpp) parses and encodes.

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace bench {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

class raw_client;

/// What can go wrong with one client; each kind has its own counter in the result line.
enum class failure {
    connect, ///< The TCP connect failed.
    reset,   ///< The connection broke or the server closed it before we were done.
    error,   ///< The server sent ERROR (libnet), -ERR (NATS) or TERM.
    protocol ///< The server sent something this client cannot parse.
};

/// Receives what the clients learn. Called on the event loop, one call at a time.
class client_events {
public:
    virtual void on_connected(raw_client& c) = 0;
    /// The server accepted the client (libnet: WELCOME; NATS: the first PONG).
    virtual void on_registered(raw_client& c) = 0;
    /// Registered, and with a tracked directory, holding all the ids it waits for.
    virtual void on_ready(raw_client& c) = 0;
    /// `n` messages (DELIVER or MSG) arrived in one read.
    virtual void on_messages(raw_client& c, std::size_t n) = 0;
    /// After a failure the client stops reading; `what` says why, for people.
    virtual void on_failure(raw_client& c, failure kind, std::string_view what) = 0;
    /// The connection is closed after close_gracefully() (or broke while closing).
    virtual void on_closed(raw_client& c) = 0;

protected:
    ~client_events() = default;
};

class raw_client {
public:
    raw_client(asio::io_context& ioc, client_events& events, std::size_t index, std::string id);
    virtual ~raw_client() = default;
    raw_client(const raw_client&) = delete;
    raw_client& operator=(const raw_client&) = delete;

    /// Issues the non-blocking connect at once; greets the server when it completes.
    void start(const tcp::endpoint& server);
    /// Prepares the message queue_messages() sends: `size` bytes to `to` (id or subject).
    void set_message(std::string_view to, std::size_t size);
    /// Queues `n` copies of the message; they leave in one write at the end of this turn.
    void queue_messages(std::size_t n);
    /// Says goodbye, half-closes once everything queued is written, reads until the server
    /// closes, then reports on_closed. Idempotent.
    void close_gracefully();
    /// Closes the socket now, without a word.
    void close_now();

    std::size_t index() const noexcept { return index_; }
    const std::string& id() const noexcept { return id_; }
    bool is_connected() const noexcept { return connected_; }
    bool is_ready() const noexcept { return ready_; }
    bool is_open() const noexcept { return socket_.is_open(); }

    std::uint64_t bytes_in = 0;  ///< Bytes read from the server.
    std::uint64_t frames_in = 0; ///< Complete frames (libnet) or protocol lines (NATS) read.

protected:
    /// Appends what the client says on connecting.
    virtual void greet(std::vector<std::uint8_t>& out) = 0;
    /// Appends one message of `body` to `to`.
    virtual void encode_message(std::string_view to, std::string_view body,
                                std::vector<std::uint8_t>& out) = 0;
    /// Appends what the client says before closing (may append nothing).
    virtual void goodbye(std::vector<std::uint8_t>& out) = 0;
    /// Parses the bytes read; returns false after a failure it has reported.
    virtual bool consume(std::span<const std::uint8_t> data) = 0;

    /// Queues raw bytes (a PONG, say) to go out at the end of this turn.
    std::vector<std::uint8_t>& output() noexcept;
    void schedule_flush();
    void mark_registered();
    void mark_ready();
    /// Reports a failure once and closes the socket.
    void fail(failure kind, std::string_view what);

    client_events& events_;

private:
    void on_connect(const boost::system::error_code& ec);
    void wait_readable();
    void on_readable();
    void flush();
    void on_written(const boost::system::error_code& ec);
    void finish_close();

    tcp::socket socket_;
    std::size_t index_;
    std::string id_;
    std::vector<std::uint8_t> out_, sending_, message_;
    bool writing_ = false;
    bool flush_posted_ = false;
    bool connected_ = false;
    bool registered_ = false;
    bool ready_ = false;
    bool closing_ = false;
    bool failed_ = false;
};

} // namespace bench

#endif
