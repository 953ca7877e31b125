// SPDX-License-Identifier: BSL-1.0
#include "harness.hpp"

// Client behaviour under pressure and at the edges of its life.

using namespace test;

TEST_CASE("client: sends keep their order when some wait for room") {
    run([](asio::io_context& ioc) -> asio::awaitable<void> {
        server s(ioc);
        auto o = with_id("tx");
        o.max_queue_bytes = 4096; // a 3000-byte body leaves no room for the next one
        libnet::client tx(ioc.get_executor(), o);
        auto [cec] = co_await tx.async_connect("127.0.0.1", s.port(), use_tuple);
        REQUIRE_FALSE(cec);
        auto rx = co_await connect(ioc, s, "rx");

        constexpr int n = 40;
        int completed = 0;
        for (int i = 0; i < n; ++i) { // big, small, big, small... all started at once
            auto body = std::to_string(i) + ":" + std::string(i % 2 ? 1 : 3000, 'x');
            tx.async_send("rx", std::move(body), [&completed](error_code ec) {
                CHECK_FALSE(ec);
                ++completed;
            });
        }
        for (int i = 0; i < n; ++i) {
            auto m = co_await expect<libnet::message>(*rx);
            REQUIRE(m.body.substr(0, m.body.find(':')) == std::to_string(i));
        }
        CHECK(completed == n);
        co_await close(tx);
        co_await close(*rx);
        co_await s.stop();
    });
}

TEST_CASE("client: a message larger than the outbound bound still goes, alone") {
    run([](asio::io_context& ioc) -> asio::awaitable<void> {
        server s(ioc);
        auto o = with_id("tx");
        o.max_queue_bytes = 1024;
        libnet::client tx(ioc.get_executor(), o);
        auto [cec] = co_await tx.async_connect("127.0.0.1", s.port(), use_tuple);
        REQUIRE_FALSE(cec);
        auto [ec] = co_await tx.async_send("tx", std::string(10'000, 'y'), use_tuple);
        REQUIRE_FALSE(ec);
        auto m = co_await expect<libnet::message>(tx);
        CHECK(m.body.size() == 10'000);
        CHECK(tx.is_connected());
        co_await close(tx);
        co_await s.stop();
    });
}

TEST_CASE("client: a message over the server's max_frame fails locally, connection kept") {
    run([](asio::io_context& ioc) -> asio::awaitable<void> {
        libnet::server_options so;
        so.max_frame = 4096;
        server s(ioc, so);
        auto a = co_await connect(ioc, s, "alice");
        auto [ec] = co_await a->async_send("alice", std::string(5000, 'z'), use_tuple);
        CHECK(ec == libnet::error::frame_too_large);
        auto [ec2] = co_await a->async_send("alice", "small", use_tuple);
        CHECK_FALSE(ec2);
        auto m = co_await expect<libnet::message>(*a);
        CHECK(m.body == "small");
        co_await close(*a);
        co_await s.stop();
    });
}

TEST_CASE("client: close() while connect() waits for WELCOME ends both promptly") {
    run(
        [](asio::io_context& ioc) -> asio::awaitable<void> {
            // A peer that accepts and then never answers the HELLO.
            tcp::acceptor acceptor(ioc, {asio::ip::make_address("127.0.0.1"), 0});
            auto o = with_id("patient");
            o.connect_timeout = 30s; // far beyond the test's limit: close() must cut it short
            libnet::client c(ioc.get_executor(), o);
            std::optional<error_code> connected;
            c.async_connect("127.0.0.1", std::to_string(acceptor.local_endpoint().port()),
                            [&connected](error_code ec) { connected = ec; });
            auto [aec, peer] = co_await acceptor.async_accept(use_tuple);
            REQUIRE_FALSE(aec);
            auto [cec] = co_await c.async_close(use_tuple);
            CHECK_FALSE(cec);
            REQUIRE(connected.has_value());
            CHECK(*connected == asio::error::operation_aborted);
            CHECK_FALSE(c.is_connected());
        },
        10s);
}

TEST_CASE("client: an application slower than the heartbeat is not taken for a dead peer") {
    run([](asio::io_context& ioc) -> asio::awaitable<void> {
        libnet::server_options so;
        so.heartbeat_interval = 100ms;
        so.heartbeat_misses = 2;
        server s(ioc, so);
        auto o = with_id("slowpoke");
        o.max_events = 4; // reading pauses almost at once
        libnet::client slow(ioc.get_executor(), o);
        auto [cec] = co_await slow.async_connect("127.0.0.1", s.port(), use_tuple);
        REQUIRE_FALSE(cec);
        auto fast = co_await connect(ioc, s, "fast");
        for (int i = 0; i < 50; ++i)
            co_await fast->async_send("slowpoke", std::to_string(i), use_tuple);
        // The application is busy elsewhere for several heartbeat periods.
        asio::steady_timer busy(ioc, 800ms);
        co_await busy.async_wait(use_tuple);
        co_await expect<libnet::peer_joined>(slow);
        for (int i = 0; i < 50; ++i) {
            auto m = co_await expect<libnet::message>(slow);
            REQUIRE(m.body == std::to_string(i));
        }
        CHECK(slow.is_connected());
        co_await close(slow);
        co_await close(*fast);
        co_await s.stop();
    });
}

TEST_CASE("server: heartbeat_misses of 0 is announced as 1") {
    run([](asio::io_context& ioc) -> asio::awaitable<void> {
        libnet::server_options so;
        so.heartbeat_misses = 0;
        server s(ioc, so);
        raw r(ioc);
        co_await r.connect(s);
        co_await r.send(libnet::msg::hello{libnet::protocol_version, "x", {}, {}});
        libnet::msg::welcome w;
        std::vector<std::uint8_t> storage;
        co_await r.expect(w, storage);
        CHECK(w.heartbeat_misses == 1);
        co_await s.stop();
    });
}

TEST_CASE("client: close() completes while the event queue is full and nobody receives") {
    run(
        [](asio::io_context& ioc) -> asio::awaitable<void> {
            server s(ioc);
            auto o = with_id("full");
            o.max_events = 2;
            o.close_timeout = 300ms;
            libnet::client full(ioc.get_executor(), o);
            auto [cec] = co_await full.async_connect("127.0.0.1", s.port(), use_tuple);
            REQUIRE_FALSE(cec);
            auto tx = co_await connect(ioc, s, "tx");
            for (int i = 0; i < 20; ++i)
                co_await tx->async_send("full", std::to_string(i), use_tuple);
            // Make sure the frames reached the full client before it leaves.
            co_await tx->async_send("tx", "fence", use_tuple);
            co_await expect<libnet::message>(*tx);
            auto [ec] = co_await full.async_close(use_tuple);
            CHECK_FALSE(ec);
            CHECK_FALSE(full.is_connected());
            co_await close(*tx);
            co_await s.stop();
        },
        10s);
}

TEST_CASE("client: destroying a client while it connects leaves no session behind") {
    run([](asio::io_context& ioc) -> asio::awaitable<void> {
        server s(ioc);
        auto watcher = co_await connect(ioc, s, "watcher");
        {
            libnet::client ghost(ioc.get_executor(), with_id("ghost"));
            ghost.async_connect("127.0.0.1", s.port(), [](error_code) {});
        } // destroyed before the connect could complete
        // A client that joins after it: had the ghost registered, its JOINED came first.
        auto later = co_await connect(ioc, s, "later");
        auto joined = co_await expect<libnet::peer_joined>(*watcher);
        CHECK(joined.peer.id == "later");
        co_await close(*later);
        co_await close(*watcher);
        co_await s.stop();
        CHECK(s->stats().registrations == 2);
    });
}
