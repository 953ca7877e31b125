// SPDX-License-Identifier: BSL-1.0
#include "harness.hpp"

#include <future>
#include <map>
#include <mutex>
#include <thread>

// A server and its clients on one io_context run by several threads: sessions and
// clients live on strands, so this must be correct (and TSan-clean) as it is.
// Catch2 assertions are not thread-safe: coroutines here only record what they saw,
// and the test asserts after the threads have joined.

using namespace test;

namespace {

struct tally {
    std::mutex mutex;
    std::vector<std::string> problems;
    int received = 0;
    int broadcasts = 0;

    void problem(std::string p) {
        std::lock_guard lock(mutex);
        problems.push_back(std::move(p));
    }
};

constexpr int clients = 6;
constexpr int per_peer = 300;

std::string name(int i) {
    return "t" + std::to_string(i);
}

asio::awaitable<void> receive_all(libnet::client& c, int expected, std::shared_ptr<tally> t) {
    std::vector<int> next(clients, 0);
    int got = 0, bcast = 0;
    while (got + bcast < expected) {
        auto [ec, ev] = co_await c.async_receive(10s, use_tuple);
        if (ec) {
            t->problem(c.id() + ": " + ec.message());
            co_return;
        }
        auto* m = std::get_if<libnet::message>(&ev);
        if (!m)
            continue; // joins and leaves
        if (m->broadcast) {
            ++bcast;
            continue;
        }
        auto const from = std::stoi(m->from.substr(1));
        if (std::stoi(m->body) != next[from]++)
            t->problem(c.id() + ": out of order from " + m->from);
        ++got;
    }
    std::lock_guard lock(t->mutex);
    t->received += got;
    t->broadcasts += bcast;
}

asio::awaitable<void> send_all(libnet::client& c, int self, std::shared_ptr<tally> t) {
    for (int i = 0; i < per_peer; ++i)
        for (int p = 0; p < clients; ++p) {
            if (p == self)
                continue;
            auto to = name(p);
            auto body = std::to_string(i);
            auto [ec] = co_await c.async_send(std::move(to), std::move(body), use_tuple);
            if (ec)
                t->problem(c.id() + ": send: " + ec.message());
        }
    auto [ec] = co_await c.async_broadcast("done", use_tuple);
    if (ec)
        t->problem(c.id() + ": broadcast: " + ec.message());
}

// Runs the io_context on `n` threads until destroyed; always joins.
class pool {
public:
    pool(asio::io_context& ioc, int n) : ioc_(ioc), work_(ioc.get_executor()) {
        for (int i = 0; i < n; ++i)
            threads_.emplace_back([&ioc] { ioc.run(); });
    }
    ~pool() {
        work_.reset();
        ioc_.stop();
        for (auto& t : threads_)
            t.join();
    }

private:
    asio::io_context& ioc_;
    asio::executor_work_guard<asio::io_context::executor_type> work_;
    std::vector<std::thread> threads_;
};

template <class Future>
void ready(Future& f, const char* what) {
    INFO(what << " did not complete in time");
    REQUIRE(f.wait_for(20s) == std::future_status::ready);
}

// Waits for every future (each within the deadline) and rethrows what they hold.
void ready_all(std::vector<std::future<void>>& fs, const char* what) {
    for (auto& f : fs) {
        ready(f, what);
        f.get();
    }
}

void stop_server(libnet::server& srv, std::future<void>& stopped) {
    srv.stop();
    ready(stopped, "server stop");
    stopped.get();
}

void check_no_problems(const tally& t) {
    INFO(t.problems.size() << " problems, first: "
                           << (t.problems.empty() ? "" : t.problems.front()));
    CHECK(t.problems.empty());
}

} // namespace

TEST_CASE("threads: a server and clients on a 4-thread io_context keep order and lose nothing") {
    asio::io_context ioc;
    libnet::server_options o;
    o.max_queue_bytes = 64u << 20;
    libnet::server srv(ioc.get_executor(), o);
    auto stopped = srv.async_run(asio::use_future);
    auto const port = std::to_string(srv.local_endpoint().port());
    auto t = std::make_shared<tally>();
    {
        pool threads(ioc, 4);
        std::vector<std::unique_ptr<libnet::client>> cs;
        for (int i = 0; i < clients; ++i) {
            cs.push_back(std::make_unique<libnet::client>(ioc.get_executor(), with_id(name(i))));
            auto f = cs.back()->async_connect("127.0.0.1", port, asio::use_future);
            ready(f, "connect");
            f.get();
        }
        int const expected = (clients - 1) * per_peer + (clients - 1);
        std::vector<std::future<void>> work;
        for (int i = 0; i < clients; ++i) {
            work.push_back(asio::co_spawn(ioc, receive_all(*cs[i], expected, t), asio::use_future));
            work.push_back(asio::co_spawn(ioc, send_all(*cs[i], i, t), asio::use_future));
        }
        ready_all(work, "send/receive");
        for (auto& c : cs) {
            auto f = c->async_close(asio::use_future);
            ready(f, "close");
            f.get();
        }
        stop_server(srv, stopped);
    }
    check_no_problems(*t);
    CHECK(t->received == clients * (clients - 1) * per_peer);
    CHECK(t->broadcasts == clients * (clients - 1));
    auto const stats = srv.stats();
    CHECK(stats.routed == static_cast<std::uint64_t>(clients * (clients - 1) * per_peer));
    CHECK(stats.broadcasts == static_cast<std::uint64_t>(clients));
}

namespace {

// Sends `count` messages to "sink", a broadcast after every tenth, then "done".
asio::awaitable<void> send_and_broadcast(libnet::client& c, int count, std::shared_ptr<tally> t) {
    for (int i = 0; i < count; ++i) {
        auto [ec] = co_await c.async_send("sink", std::to_string(i), use_tuple);
        if (ec)
            t->problem(c.id() + ": send: " + ec.message());
        if (i % 10 == 9) {
            auto [bec] = co_await c.async_broadcast("b" + std::to_string(i), use_tuple);
            if (bec)
                t->problem(c.id() + ": broadcast: " + bec.message());
        }
    }
}

// Receives `expected` messages, checking that seq strictly increases along the stream and
// that each sender's messages come in order.
asio::awaitable<void> check_sequence(libnet::client& c, int expected, std::shared_ptr<tally> t) {
    std::uint64_t last = 0;
    std::map<std::string, int> next;
    for (int got = 0; got < expected;) {
        auto [ec, ev] = co_await c.async_receive(10s, use_tuple);
        if (ec) {
            t->problem(c.id() + ": " + ec.message());
            co_return;
        }
        auto* m = std::get_if<libnet::message>(&ev);
        if (!m)
            continue;
        ++got;
        if (m->seq <= last)
            t->problem(c.id() + ": seq " + std::to_string(m->seq) + " after " +
                       std::to_string(last));
        last = m->seq;
        if (!m->broadcast && std::stoi(m->body) != next[m->from]++)
            t->problem(c.id() + ": out of order from " + m->from);
    }
}

} // namespace

TEST_CASE("threads: seq strictly increases along a stream fed by concurrent sends and "
          "broadcasts") {
    asio::io_context ioc;
    libnet::server_options o;
    o.max_queue_bytes = 64u << 20;
    libnet::server srv(ioc.get_executor(), o);
    auto stopped = srv.async_run(asio::use_future);
    auto const port = std::to_string(srv.local_endpoint().port());
    auto t = std::make_shared<tally>();
    constexpr int senders = 4, count = 400;
    {
        pool threads(ioc, 2);
        std::vector<std::unique_ptr<libnet::client>> cs;
        // Quiet members between the senders and the sink in join order, so a broadcast
        // reaches the sink late and SENDs routed meanwhile carry later numbers.
        constexpr int quiet = 200;
        for (int i = 0; i <= senders + quiet; ++i) {
            auto o = with_id(i == senders + quiet ? std::string("sink")
                             : i < senders        ? name(i)
                                                  : "q" + std::to_string(i));
            o.directory = i < senders || i == senders + quiet;
            cs.push_back(std::make_unique<libnet::client>(ioc.get_executor(), o));
            auto f = cs.back()->async_connect("127.0.0.1", port, asio::use_future);
            ready(f, "connect");
            f.get();
        }
        auto& sink = *cs.back();
        int const broadcasts = count / 10;
        auto checked = asio::co_spawn(ioc, check_sequence(sink, senders * (count + broadcasts), t),
                                      asio::use_future);
        std::vector<std::future<void>> work;
        for (int i = 0; i < senders; ++i) // each sender also hears the others' broadcasts
            work.push_back(
                asio::co_spawn(ioc, send_and_broadcast(*cs[i], count, t), asio::use_future));
        ready_all(work, "send");
        ready(checked, "receive");
        checked.get();
        stop_server(srv, stopped);
    }
    check_no_problems(*t);
}
