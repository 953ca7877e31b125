// SPDX-License-Identifier: BSL-1.0
#include "harness.hpp"

using namespace test;
using libnet::msg::term_reason;

TEST_CASE("termination: a client's TERM ends the session for everyone") {
    run([](asio::io_context& ioc) -> asio::awaitable<void> {
        server s(ioc);
        auto a = co_await connect(ioc, s, "alice");
        auto b = co_await connect(ioc, s, "bob");
        co_await expect<libnet::peer_joined>(*a);

        auto [ec] = co_await a->async_terminate("done here", use_tuple);
        REQUIRE_FALSE(ec);
        std::vector<libnet::client*> both{a.get(), b.get()};
        for (auto* c : both) {
            auto t = co_await expect<libnet::terminated>(*c);
            CHECK(t.reason == term_reason::requested);
            CHECK(t.by == "alice");
            CHECK(t.text == "done here");
            {
                auto got = co_await end_of(*c);
                CHECK(got == libnet::error::terminated);
            }
        }
        co_await s.finished();
    });
}

TEST_CASE("termination: client TERM can be forbidden") {
    run([](asio::io_context& ioc) -> asio::awaitable<void> {
        libnet::server_options o;
        o.allow_client_term = false;
        server s(ioc, o);
        auto a = co_await connect(ioc, s, "alice");
        co_await a->async_terminate("please", use_tuple);
        auto err = co_await expect<libnet::server_error>(*a);
        CHECK(err.code == libnet::error::not_permitted);
        CHECK(a->is_connected());
        co_await close(*a);
        co_await s.stop();
    });
}

TEST_CASE("termination: with term_ids only the listed ids may TERM the server") {
    run([](asio::io_context& ioc) -> asio::awaitable<void> {
        libnet::server_options o;
        o.term_ids = {"admin"};
        server s(ioc, o);
        auto a = co_await connect(ioc, s, "alice");
        auto admin = co_await connect(ioc, s, "admin");
        co_await a->async_terminate("not you", use_tuple);
        libnet::server_error err;
        for (;;) { // past admin's JOINED
            auto ev = co_await next_event(*a);
            if (auto* e = std::get_if<libnet::server_error>(&ev)) {
                err = *e;
                break;
            }
        }
        CHECK(err.code == libnet::error::not_permitted);
        CHECK(a->is_connected());
        co_await admin->async_terminate("maintenance", use_tuple);
        auto t = co_await end_of(*a);
        CHECK(t == libnet::error::terminated);
        co_await s.finished();
    });
}

TEST_CASE("termination: teardown-at N fires on the N-th registration") {
    run([](asio::io_context& ioc) -> asio::awaitable<void> {
        libnet::server_options o;
        o.teardown_at = 2;
        server s(ioc, o);
        auto a = co_await connect(ioc, s, "alice");
        auto b = co_await connect(ioc, s, "bob");
        // The second client still gets its full snapshot before the TERM.
        CHECK(b->directory().size() == 2);
        {
            auto got = co_await expect<libnet::peer_joined>(*a);
            CHECK(got.peer.id == "bob");
        }
        {
            auto got = co_await expect<libnet::terminated>(*a);
            CHECK(got.reason == term_reason::teardown);
        }
        {
            auto got = co_await expect<libnet::terminated>(*b);
            CHECK(got.reason == term_reason::teardown);
        }
        co_await s.finished();
    });
}

TEST_CASE("termination: expect N stops once N came and all left") {
    run([](asio::io_context& ioc) -> asio::awaitable<void> {
        libnet::server_options o;
        o.expect = 2;
        server s(ioc, o);
        auto a = co_await connect(ioc, s, "alice");
        co_await close(*a); // 1 of 2 came and went: not yet
        auto b = co_await connect(ioc, s, "bob");
        CHECK_FALSE(s.has_finished());
        co_await close(*b);
        co_await s.finished();
    });
}

TEST_CASE("termination: exit-on-disconnect") {
    run([](asio::io_context& ioc) -> asio::awaitable<void> {
        libnet::server_options o;
        o.exit_on_disconnect = true;
        server s(ioc, o);
        auto a = co_await connect(ioc, s, "alice");
        auto b = co_await connect(ioc, s, "bob");
        co_await close(*a);
        {
            auto got = co_await expect<libnet::peer_left>(*b);
            CHECK(got.id == "alice");
        }
        {
            auto got = co_await expect<libnet::terminated>(*b);
            CHECK(got.reason == term_reason::disconnect);
        }
        co_await s.finished();
    });
}

TEST_CASE("termination: idle timeout") {
    run([](asio::io_context& ioc) -> asio::awaitable<void> {
        libnet::server_options o;
        o.idle_timeout = 300ms;
        server s(ioc, o);
        auto a = co_await connect(ioc, s, "alice");
        co_await close(*a);
        co_await s.finished(3000ms);
    });
}

TEST_CASE("termination: stop() flushes what is queued, then TERM") {
    run([](asio::io_context& ioc) -> asio::awaitable<void> {
        server s(ioc);
        auto a = co_await connect(ioc, s, "alice");
        auto b = co_await connect(ioc, s, "bob");
        co_await expect<libnet::peer_joined>(*a);
        constexpr int n = 500;
        for (int i = 0; i < n; ++i) {
            auto [ec] = co_await a->async_send("bob", std::string(1000, 'x') + std::to_string(i),
                                               use_tuple);
            REQUIRE_FALSE(ec);
        }
        // Make sure the server has taken all of alice's frames before stopping it.
        co_await a->async_send("alice", "fence", use_tuple);
        {
            auto got = co_await expect<libnet::message>(*a);
            CHECK(got.body == "fence");
        }
        s->stop();
        for (int i = 0; i < n; ++i) {
            auto got = co_await expect<libnet::message>(*b);
            REQUIRE(got.body.ends_with(std::to_string(i)));
        }
        {
            auto got = co_await expect<libnet::terminated>(*b);
            CHECK(got.reason == term_reason::shutdown);
        }
        {
            auto got = co_await end_of(*a);
            CHECK(got == libnet::error::terminated);
        }
        co_await s.finished();
    });
}
