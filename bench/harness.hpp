// SPDX-License-Identifier: BSL-1.0
// In-process servers and clients for load generators: a server on threads of its own, a
// database file that goes away, running tasks together, and receiving with a deadline.

#ifndef LIBNET_BENCH_HARNESS_HPP
#define LIBNET_BENCH_HARNESS_HPP

#include <libnet/client.hpp>
#include <libnet/server.hpp>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/deferred.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/experimental/parallel_group.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <fcntl.h>
#include <filesystem>
#include <functional>
#include <iostream>
#include <memory>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <type_traits>
#include <unistd.h>
#include <vector>

namespace bench {

namespace asio = boost::asio;

constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);
// A receive this long without an event fails the run instead of hanging it.
constexpr auto idle_limit = std::chrono::seconds(10);

// Throws on failure. `what` is the context, or a callable that builds it: the hot loops call
// this once per message, and building the text every time would cost more than the message.
template <class What>
void check(libnet::error_code ec, const What& what) {
    if (!ec)
        return;
    if constexpr (std::is_invocable_v<What>)
        throw std::runtime_error(what() + ": " + ec.message());
    else
        throw std::runtime_error(std::string(what) + ": " + ec.message());
}

inline std::string to_string(const libnet::server_stats& st) {
    std::ostringstream out;
    out << st;
    return out.str();
}

// A database file of its own, removed (with its WAL and shared-memory files) at the end.
class temp_db {
public:
    temp_db(const std::string& dir, const std::string& prefix) {
        static int count = 0;
        path_ = (std::filesystem::path(dir) / (prefix + "-" + std::to_string(::getpid()) + "-" +
                                               std::to_string(count++) + ".db"))
                    .string();
        remove();
    }
    ~temp_db() { remove(); }
    temp_db(const temp_db&) = delete;
    temp_db& operator=(const temp_db&) = delete;
    const std::string& path() const { return path_; }

private:
    void remove() {
        std::error_code ec;
        for (const char* suffix : {"", "-wal", "-shm", "-journal"})
            std::filesystem::remove(path_ + suffix, ec);
    }
    std::string path_;
};

// What a commit costs the disk under `dir`: `count` appends of a 4-KiB page to a new file, each
// followed by fdatasync (as a WAL grows); their latencies in µs, sorted.
inline std::vector<double> probe_fdatasync(const std::string& dir, std::size_t count) {
    temp_db file(dir, "fsync-probe");
    int const fd = ::open(file.path().c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd < 0)
        throw std::runtime_error("can't create " + file.path());
    std::string const page(4096, 'x');
    std::vector<double> us;
    for (std::size_t i = 0; i < count; ++i) {
        auto const start = std::chrono::steady_clock::now();
        auto const at = static_cast<off_t>(i * page.size());
        if (::pwrite(fd, page.data(), page.size(), at) != static_cast<ssize_t>(page.size()) ||
            ::fdatasync(fd) != 0)
            break;
        us.push_back(
            std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - start)
                .count());
    }
    ::close(fd);
    if (us.size() != count)
        throw std::runtime_error("write or fdatasync failed on " + file.path());
    std::sort(us.begin(), us.end());
    return us;
}

// A server on an io_context of its own, run by `threads` threads; the destructor stops it
// and joins them, and destroying the io_context lets go of the server's store.
class hosted_server {
public:
    hosted_server(libnet::server_options o, std::size_t threads)
        : ioc_(static_cast<int>(threads)), server_(ioc_.get_executor(), std::move(o)) {
        server_.async_run([this](libnet::error_code ec) {
            if (ec)
                std::cerr << "server: " << ec.message() << std::endl;
            finished_ = true;
        });
        for (std::size_t i = 0; i < threads; ++i)
            threads_.emplace_back([this] { ioc_.run(); });
    }
    ~hosted_server() {
        server_.stop();
        for (auto& t : threads_)
            t.join();
    }
    hosted_server(const hosted_server&) = delete;
    hosted_server& operator=(const hosted_server&) = delete;
    std::string port() const { return std::to_string(server_.local_endpoint().port()); }
    libnet::server_stats stats() const { return server_.stats(); }
    /// Starts a graceful stop without waiting for it (see finished()).
    void stop() { server_.stop(); }
    bool finished() const { return finished_; }

private:
    std::atomic<bool> finished_{false};
    asio::io_context ioc_;
    libnet::server server_;
    std::vector<std::thread> threads_;
};

inline asio::awaitable<std::unique_ptr<libnet::client>> connect(std::string id, std::string port) {
    libnet::client_options o;
    o.id = id;
    auto c = std::make_unique<libnet::client>(co_await asio::this_coro::executor, std::move(o));
    auto [ec] = co_await c->async_connect("127.0.0.1", port, use_tuple);
    check(ec, "connect " + id);
    co_return c;
}

inline asio::awaitable<void> close(libnet::client& c) {
    auto [ec] = co_await c.async_close(use_tuple);
    check(ec, "close " + c.id());
}

// Runs every task to completion concurrently; rethrows the first failure.
using task = decltype(asio::co_spawn(std::declval<libnet::client::executor_type>(),
                                     std::declval<asio::awaitable<void>>(), asio::deferred));
inline asio::awaitable<void> run_all(std::vector<task> tasks) {
    auto [order, errors] = co_await asio::experimental::make_parallel_group(std::move(tasks))
                               .async_wait(asio::experimental::wait_for_all(), asio::use_awaitable);
    for (auto const& e : errors)
        if (e)
            std::rethrow_exception(e);
}

// Closes a client when no event has come for idle_limit, so that a stalled receive fails
// instead of hanging the run.
class watchdog {
public:
    explicit watchdog(libnet::client& c) : state_(std::make_shared<state>(c.get_executor())) {
        asio::co_spawn(c.get_executor(), watch(c, state_), asio::detached);
    }
    ~watchdog() {
        state_->done = true;
        state_->timer.cancel();
    }
    watchdog(const watchdog&) = delete;
    watchdog& operator=(const watchdog&) = delete;
    void progress() { ++state_->progress; }

private:
    struct state {
        explicit state(libnet::client::executor_type ex) : timer(std::move(ex)) {}
        asio::steady_timer timer;
        std::uint64_t progress = 0;
        bool done = false;
    };
    // Touches the client only while the watchdog lives, and so the client too.
    static asio::awaitable<void> watch(libnet::client& c, std::shared_ptr<state> s) {
        for (auto seen = s->progress;; seen = s->progress) {
            s->timer.expires_after(idle_limit);
            co_await s->timer.async_wait(use_tuple);
            if (s->done)
                co_return;
            if (s->progress == seen) {
                std::cerr << c.id() << ": no event for " << idle_limit.count() << " s, closing"
                          << std::endl;
                c.async_close(asio::detached);
                co_return;
            }
        }
    }
    std::shared_ptr<state> state_;
};

// Receives events, `batch` at a time, handing each to `take` until it has counted `n`; a
// server_error, or no event for idle_limit, fails.
inline asio::awaitable<void> receive_n(libnet::client& c, std::uint64_t n, std::size_t batch,
                                       std::function<bool(libnet::event&)> take) {
    watchdog dog(c);
    for (std::uint64_t got = 0; got < n;) {
        auto [ec, events] = co_await c.async_receive_batch(batch, use_tuple);
        check(ec, c.id() + ": receive");
        dog.progress();
        for (auto& ev : events) {
            if (auto* e = std::get_if<libnet::server_error>(&ev))
                check(e->code, c.id() + ": server error");
            got += take(ev) ? 1 : 0;
        }
    }
}

} // namespace bench

#endif
