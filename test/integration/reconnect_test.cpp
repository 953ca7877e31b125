// SPDX-License-Identifier: BSL-1.0
// client_options::reconnect: a client that loses its server comes back under the same id,
// with its mailbox, the directory's changes and the sends that waited.

#include "harness.hpp"

#include <libnet/store.hpp>

#include <csignal>
#include <filesystem>
#include <random>
#include <sys/wait.h>
#include <unistd.h>

using namespace test;

namespace {

libnet::client_options reconnecting_client(std::string id) {
    auto o = with_id(std::move(id));
    o.reconnect.enabled = true;
    o.reconnect.initial_delay = std::chrono::milliseconds(20);
    o.reconnect.max_delay = std::chrono::milliseconds(200);
    o.reconnect.max_attempts = 100;
    return o;
}

std::string temp_db() {
    static std::mt19937_64 rng(std::random_device{}());
    return (std::filesystem::temp_directory_path() /
            ("libnet-reconnect-" + std::to_string(rng()) + ".db"))
        .string();
}

void remove_db(const std::string& path) {
    for (auto const* suffix : {"", "-wal", "-shm", "-journal"})
        std::filesystem::remove(path + suffix);
}

libnet::server_options durable(const std::string& path, std::uint16_t port) {
    libnet::server_options o;
    o.store = libnet::open_store("sqlite:" + path);
    o.port = port;
    return o;
}

// A client whose server stopped, waiting a minute before its first attempt.
asio::awaitable<std::unique_ptr<libnet::client>> waiting_a_minute(asio::io_context& ioc) {
    server s(ioc);
    auto o = reconnecting_client("alice");
    o.listen = "127.0.0.1:0"; // its acceptor must not outlive the session either
    o.reconnect.initial_delay = std::chrono::milliseconds(60'000);
    o.reconnect.max_delay = o.reconnect.initial_delay;
    auto a = std::make_unique<libnet::client>(ioc.get_executor(), o);
    auto [ec] = co_await a->async_connect("127.0.0.1", s.port(), use_tuple);
    REQUIRE_FALSE(ec);
    co_await s.stop();
    co_await expect<libnet::reconnecting>(*a);
    co_return a;
}

std::set<std::string> ids(const std::vector<libnet::peer_info>& dir) {
    std::set<std::string> out;
    for (auto const& p : dir)
        out.insert(p.id);
    return out;
}

} // namespace

TEST_CASE("reconnect: after a server restart the client is back with its mailbox and directory") {
    auto const path = temp_db();
    run([path](asio::io_context& ioc) -> asio::awaitable<void> {
        auto s1 = std::make_unique<server>(ioc, durable(path, 0));
        auto const port = static_cast<std::uint16_t>(std::stoi(s1->port()));
        auto ao = reconnecting_client("alice");
        // Seen as it arrives, before the application takes it.
        asio::steady_timer untaken_came(ioc, std::chrono::steady_clock::time_point::max());
        bool untaken_arrived = false;
        ao.on_message = [&untaken_came, &untaken_arrived](const libnet::message& m) {
            if (m.body == "untaken") {
                untaken_arrived = true;
                untaken_came.cancel();
            }
            return false;
        };
        // Told of carol's leaving as the reconnection catches up, before anything is taken.
        asio::steady_timer caught_up(ioc, std::chrono::steady_clock::time_point::max());
        bool carol_gone = false;
        ao.on_directory_change = [&caught_up, &carol_gone](const libnet::event& e) {
            if (auto* l = std::get_if<libnet::peer_left>(&e); l && l->id == "carol") {
                carol_gone = true;
                caught_up.cancel();
            }
        };
        auto a = std::make_unique<libnet::client>(ioc.get_executor(), ao);
        auto [ec] = co_await a->async_connect("127.0.0.1", s1->port(), use_tuple);
        REQUIRE_FALSE(ec);
        auto b = std::make_unique<libnet::client>(ioc.get_executor(), reconnecting_client("bob"));
        std::tie(ec) = co_await b->async_connect("127.0.0.1", s1->port(), use_tuple);
        REQUIRE_FALSE(ec);
        auto c = co_await connect(ioc, *s1, "carol"); // does not reconnect
        co_await expect<libnet::peer_joined>(*a);
        co_await expect<libnet::peer_joined>(*a);
        // A mailbox message alice takes before the restart must not come again after it.
        auto [cec, r] = co_await c->async_send_confirmed("alice", "before", use_tuple);
        REQUIRE_FALSE(cec);
        auto before = co_await expect<libnet::message>(*a);
        CHECK(before.body == "before");
        // One that has arrived but is not taken yet: the server sends it again after the
        // restart (it was never acknowledged), and alice must drop that copy.
        untaken_came.expires_after(5s);
        auto [uec, ur] = co_await c->async_send_confirmed("alice", "untaken", use_tuple);
        REQUIRE_FALSE(uec);
        if (!untaken_arrived)
            co_await untaken_came.async_wait(use_tuple);
        REQUIRE(untaken_arrived);

        co_await s1->stop(); // TERM(shutdown): alice and bob wait for the server
        CHECK(co_await end_of(*c) == libnet::error::terminated);
        // Sends made meanwhile wait for the next connection.
        std::optional<error_code> sent, confirmed;
        asio::steady_timer receipt_came(ioc, std::chrono::steady_clock::time_point::max());
        b->async_send("alice", "while away", [&](error_code e) { sent = e; });
        b->async_send_confirmed("alice", "confirmed while away",
                                [&](error_code e, libnet::receipt) {
                                    confirmed = e;
                                    receipt_came.cancel();
                                });

        s1.reset(); // and its hold on the database
        server s2(ioc, durable(path, port));
        // alice takes nothing until she is back: "untaken" is still queued then.
        caught_up.expires_after(10s);
        if (!carol_gone)
            co_await caught_up.async_wait(use_tuple);
        REQUIRE(carol_gone);
        CHECK(a->is_connected());
        CHECK(a->id() == "alice");
        auto first = co_await expect<libnet::message>(*a);
        CHECK(first.body == "untaken");
        auto lost = co_await expect<libnet::reconnecting>(*a);
        CHECK(lost.reason == libnet::error::shutting_down);
        CHECK(lost.attempt == 1);
        std::vector<std::string> bodies;
        bool carol_left = false, back = false;
        while (bodies.size() < 2 || ids(a->directory()) != libnet::parse_id_list("alice,bob")) {
            auto ev = co_await next_event(*a);
            if (auto* m = std::get_if<libnet::message>(&ev))
                bodies.push_back(m->body);
            if (auto* l = std::get_if<libnet::peer_left>(&ev); l && l->id == "carol")
                carol_left = true;
            back = back || std::holds_alternative<libnet::reconnected>(ev);
        }
        CHECK(back);
        CHECK(carol_left);
        std::vector<std::string> expected;
        expected.push_back("while away");
        expected.push_back("confirmed while away");
        CHECK(bodies == expected);
        // Nothing else: the server's second copy of "untaken" was dropped.
        auto [more, extra] = co_await a->async_receive(200ms, use_tuple);
        CHECK(more == asio::error::timed_out);
        CHECK(sent == error_code());
        if (!confirmed) { // the receipt may come after the message
            receipt_came.expires_after(5s);
            co_await receipt_came.async_wait(use_tuple);
        }
        CHECK(confirmed == error_code());

        co_await close(*b);
        co_await close(*a);
        co_await s2.stop();
    });
    remove_db(path);
}

TEST_CASE("reconnect: the policy's limits end the session with the last error") {
    run([](asio::io_context& ioc) -> asio::awaitable<void> {
        auto s = std::make_unique<server>(ioc);
        auto o = reconnecting_client("alice");
        o.reconnect.max_attempts = 3;
        o.reconnect.jitter = 0;
        auto a = std::make_unique<libnet::client>(ioc.get_executor(), o);
        auto [ec] = co_await a->async_connect("127.0.0.1", s->port(), use_tuple);
        REQUIRE_FALSE(ec);
        co_await s->stop();
        s.reset(); // nothing listens on the port any more
        std::vector<std::chrono::milliseconds> delays;
        for (unsigned i = 1; i <= 3; ++i) {
            auto r = co_await expect<libnet::reconnecting>(*a);
            CHECK(r.attempt == i);
            delays.push_back(r.delay);
        }
        CHECK(delays[0] == 20ms);
        CHECK(delays[1] == 40ms);
        CHECK(delays[2] == 80ms);
        CHECK(co_await end_of(*a) == asio::error::connection_refused);
        CHECK_FALSE(a->is_connected());
        co_await close(*a);
    });
}

TEST_CASE("reconnect: a client refused on its way back gives up at once") {
    run([](asio::io_context& ioc) -> asio::awaitable<void> {
        auto s = std::make_unique<server>(ioc, allow("alice,bob"));
        auto a = std::make_unique<libnet::client>(ioc.get_executor(), reconnecting_client("bob"));
        auto [ec] = co_await a->async_connect("127.0.0.1", s->port(), use_tuple);
        REQUIRE_FALSE(ec);
        // Taken off the list: closed with not_allowed, which no retry can change.
        s->get().update_access(libnet::parse_id_list("alice"), {});
        for (;;) { // and without a reconnecting event first
            auto [rec, ev] = co_await a->async_receive(5000ms, use_tuple);
            if (rec) {
                CHECK(rec == libnet::error::not_allowed);
                break;
            }
            CHECK_FALSE(std::holds_alternative<libnet::reconnecting>(ev));
        }
        co_await close(*a);
        co_await s->stop();
    });
}

TEST_CASE("reconnect: close() while the client waits to reconnect ends it at once") {
    run([](asio::io_context& ioc) -> asio::awaitable<void> {
        auto a = co_await waiting_a_minute(ioc);
        std::optional<error_code> held;
        a->async_send("bob", "never sent", [&](error_code e) { held = e; });
        auto const t0 = std::chrono::steady_clock::now();
        co_await close(*a);
        CHECK(std::chrono::steady_clock::now() - t0 < 5s);
        auto [rec, ev] = co_await a->async_receive(100ms, use_tuple);
        CHECK(rec == libnet::error::not_connected);
        // The held send fails rather than waiting for a connection that will not come.
        for (int i = 0; i < 100 && !held; ++i)
            co_await asio::post(ioc, use_tuple);
        CHECK(held == libnet::error::not_connected);
    });
}

TEST_CASE("reconnect: a client destroyed while it waits to reconnect leaves nothing running") {
    run([](asio::io_context& ioc) -> asio::awaitable<void> {
        auto a = co_await waiting_a_minute(ioc);
        a.reset(); // run() fails if the 60 s wait, or an attempt after it, is left behind
    });
}

// ThreadSanitizer cannot run a child forked from a process with threads: the SIGKILL test
// is for the other builds (ASan included).
#if defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define LIBNET_NO_FORK_TESTS 1
#endif
#endif
#if defined(__SANITIZE_THREAD__)
#define LIBNET_NO_FORK_TESTS 1
#endif

#ifndef LIBNET_NO_FORK_TESTS

namespace {

// A durable server in a child process, so that it can die by SIGKILL; its port comes back
// through a pipe.
class child_server {
public:
    child_server(const std::string& db, std::uint16_t port) {
        int fds[2];
        REQUIRE(::pipe(fds) == 0);
        pid_ = ::fork();
        REQUIRE(pid_ >= 0);
        if (pid_ == 0)
            serve(db, port, fds[1]); // never returns
        ::close(fds[1]);
        std::uint16_t bound = 0;
        auto const n = ::read(fds[0], &bound, sizeof bound); // the child is listening
        ::close(fds[0]);
        INFO("the server process did not start");
        REQUIRE(n == static_cast<ssize_t>(sizeof bound));
        port_ = bound;
    }
    ~child_server() { kill(); }
    std::uint16_t port() const { return port_; }
    void kill() {
        if (pid_ <= 0)
            return;
        ::kill(pid_, SIGKILL);
        ::waitpid(pid_, nullptr, 0);
        pid_ = -1;
    }

private:
    [[noreturn]] static void serve(const std::string& db, std::uint16_t port, int out) {
        // Nothing of the parent's: its sockets and its event loop stay its own.
        ::close_range(3, static_cast<unsigned>(out) - 1, 0);
        ::close_range(static_cast<unsigned>(out) + 1, ~0u, 0);
        try {
            asio::io_context ioc;
            libnet::server srv(ioc.get_executor(), durable(db, port));
            auto const bound = srv.local_endpoint().port();
            if (::write(out, &bound, sizeof bound) != sizeof bound)
                ::_exit(1);
            ::close(out);
            srv.async_run([](error_code) {});
            ioc.run();
        } catch (...) {
        }
        ::_exit(0);
    }

    pid_t pid_ = -1;
    std::uint16_t port_ = 0;
};

} // namespace

// kill -9 of the server while a sender streams confirmed sends: after both clients are
// back, every message whose send was confirmed has arrived, none twice, in order.
TEST_CASE(
    "reconnect: SIGKILL of a server with a SQLite store loses and repeats nothing confirmed") {
    constexpr int n = 600;
    auto const path = temp_db();
    auto srv = std::make_unique<child_server>(path, 0);
    auto const port = srv->port();
    run(
        [&](asio::io_context& ioc) -> asio::awaitable<void> {
            auto a =
                std::make_unique<libnet::client>(ioc.get_executor(), reconnecting_client("alice"));
            auto [ec] = co_await a->async_connect("127.0.0.1", std::to_string(port), use_tuple);
            REQUIRE_FALSE(ec);
            auto b =
                std::make_unique<libnet::client>(ioc.get_executor(), reconnecting_client("bob"));
            std::tie(ec) = co_await b->async_connect("127.0.0.1", std::to_string(port), use_tuple);
            REQUIRE_FALSE(ec);

            // At most `window` sends under way; a third of the way through, the server dies.
            constexpr int window = 32;
            std::vector<std::optional<error_code>> outcome(n);
            int answered = 0, next = 0;
            std::function<void()> send_next = [&] {
                int const i = next++;
                b->async_send_confirmed("alice", std::to_string(i),
                                        [&, i](error_code e, libnet::receipt) {
                                            outcome[i] = e;
                                            if (++answered == n / 3) { // no TERM
                                                srv->kill();
                                                srv = std::make_unique<child_server>(path, port);
                                            }
                                            if (next < n)
                                                send_next();
                                        });
            };
            for (int k = 0; k < window; ++k)
                send_next();
            std::vector<int> got;
            int reconnects = 0;
            auto const deadline = std::chrono::steady_clock::now() + 30s;
            auto all_confirmed_arrived = [&] {
                for (int i = 0; i < n; ++i)
                    if (outcome[i] == error_code() &&
                        std::find(got.begin(), got.end(), i) == got.end())
                        return false;
                return true;
            };
            while (std::chrono::steady_clock::now() < deadline &&
                   (answered < n || reconnects == 0 || !all_confirmed_arrived())) {
                auto [rec, ev] = co_await a->async_receive(200ms, use_tuple);
                if (rec)
                    continue;
                if (auto* m = std::get_if<libnet::message>(&ev))
                    got.push_back(std::stoi(m->body));
                if (std::holds_alternative<libnet::reconnected>(ev))
                    ++reconnects;
            }
            int confirmed = 0;
            for (auto const& o : outcome)
                confirmed += o == error_code() ? 1 : 0;
            INFO("confirmed " << confirmed << " of " << n << ", received " << got.size());
            CHECK(answered == n);
            CHECK(reconnects >= 1);
            CHECK(all_confirmed_arrived());
            CHECK(std::is_sorted(got.begin(), got.end()));
            CHECK(std::adjacent_find(got.begin(), got.end()) == got.end()); // none twice
            // Only those under way when the server died can have failed.
            CHECK(confirmed >= n - window);
            co_await close(*b);
            co_await close(*a);
        },
        60s);
    srv.reset();
    remove_db(path);
}

#endif // LIBNET_NO_FORK_TESTS
