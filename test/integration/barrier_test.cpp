// SPDX-License-Identifier: BSL-1.0
// server_options::barrier (docs/protocol.md §6.8): nobody communicates until N clients are
// online, then everyone gets the directory at once.
#include "harness.hpp"

using namespace test;
namespace msg = libnet::msg;

namespace {

using raw_frame = std::pair<std::uint16_t, std::vector<std::uint8_t>>;

/// The next frame that is not a heartbeat.
asio::awaitable<raw_frame> next_frame(raw& r) {
    for (;;) {
        auto f = co_await r.read();
        INFO("the server closed the connection");
        REQUIRE(f.has_value());
        auto const t = libnet::frame_view{f->first, f->second}.core_type();
        if (t != libnet::frame_type::ping && t != libnet::frame_type::pong)
            co_return std::move(*f);
    }
}

asio::awaitable<void> expect_not_ready(raw& r, std::uint64_t ref) {
    auto f = co_await next_frame(r);
    REQUIRE(f.first == static_cast<std::uint16_t>(libnet::frame_type::error));
    msg::error e;
    REQUIRE_FALSE(msg::decode(libnet::frame_view{f.first, f.second}, e));
    CHECK(e.code == static_cast<std::uint16_t>(libnet::error::not_ready));
    CHECK(e.ref == ref);
}

/// Registers `id` by hand; returns WELCOME's flags.
asio::awaitable<std::uint16_t> register_raw(raw& r, const server& s, std::string id) {
    co_await r.connect(s);
    co_await r.send(msg::hello{libnet::protocol_version, id, {}, {}});
    msg::welcome w;
    std::vector<std::uint8_t> storage;
    co_await r.expect(w, storage);
    co_return w.flags;
}

std::vector<std::string> ids_of(const raw_frame& f) {
    msg::directory d;
    REQUIRE(f.first == static_cast<std::uint16_t>(libnet::frame_type::directory));
    REQUIRE_FALSE(msg::decode(libnet::frame_view{f.first, f.second}, d));
    std::vector<std::string> ids;
    for (auto const& e : d.entries)
        ids.emplace_back(e.id);
    return ids;
}

} // namespace

TEST_CASE("barrier: nobody communicates until N are online then all get the directory") {
    run([](asio::io_context& ioc) -> asio::awaitable<void> {
        libnet::server_options o;
        o.barrier = 3;
        server s(ioc, o);
        raw a(ioc), b(ioc);
        auto const a_flags = co_await register_raw(a, s, "a");
        CHECK((a_flags & msg::welcome_barrier) != 0);
        co_await a.send(msg::send{"b", "too early", 7});
        co_await expect_not_ready(a, 7); // and no DIRECTORY before it
        co_await a.send(msg::broadcast{"too early", 8});
        co_await expect_not_ready(a, 8);
        auto const b_flags = co_await register_raw(b, s, "b");
        CHECK((b_flags & msg::welcome_barrier) != 0);
        co_await b.send(msg::send{"a", "too early", 9});
        co_await expect_not_ready(b, 9); // b's JOINED did not reach a either (below)

        auto c = co_await connect(ioc, s, "c"); // the third: the barrier opens
        std::vector<std::string> const all{"a", "b", "c"};
        CHECK(c->directory().size() == 3);
        {
            auto const first = co_await next_frame(a);
            CHECK(ids_of(first) == all);
        }
        {
            auto const first = co_await next_frame(b);
            CHECK(ids_of(first) == all);
        }
        co_await a.send(msg::send{"c", "now", 10});
        auto got = co_await messages(*c, 1);
        CHECK(got[0].from == "a");
        CHECK(got[0].body == "now");
        co_await close(*c);
        co_await s.stop();
    });
}

TEST_CASE("barrier: a client that leaves before it opens is never announced") {
    run([](asio::io_context& ioc) -> asio::awaitable<void> {
        libnet::server_options o;
        o.barrier = 3;
        server s(ioc, o);
        raw a(ioc), c(ioc);
        co_await register_raw(a, s, "a");
        {
            raw gone(ioc);
            co_await register_raw(gone, s, "gone");
            co_await gone.send(msg::bye{});
            while (co_await gone.read())
                ;
        }
        co_await register_raw(c, s, "c"); // three have come, but only two are online
        co_await a.send(msg::send{"c", "still early", 3});
        co_await expect_not_ready(a, 3);
        auto d = co_await connect(ioc, s, "d");
        std::vector<std::string> const online{"a", "c", "d"};
        {
            auto const first = co_await next_frame(a); // no JOINED or LEFT of "gone" first
            CHECK(ids_of(first) == online);
        }
        co_await close(*d);
        co_await s.stop();
    });
}

TEST_CASE("barrier: a library client waits past its connect timeout once welcomed") {
    run([](asio::io_context& ioc) -> asio::awaitable<void> {
        libnet::server_options o;
        o.barrier = 2;
        server s(ioc, o);
        auto opts = with_id("early");
        opts.connect_timeout = 200ms;
        libnet::client early(ioc.get_executor(), opts);
        auto result = std::make_shared<std::optional<error_code>>();
        auto done = std::make_shared<asio::steady_timer>(ioc);
        early.async_connect("127.0.0.1", s.port(), [result, done](error_code ec) {
            *result = ec;
            done->cancel();
        });
        // Three connect timeouts pass while the barrier is shut (an early end wakes us).
        done->expires_after(600ms);
        co_await done->async_wait(use_tuple);
        CHECK_FALSE(result->has_value());
        auto late = co_await connect(ioc, s, "late");
        if (!result->has_value()) {
            done->expires_after(5s);
            co_await done->async_wait(use_tuple);
        }
        REQUIRE(result->has_value());
        CHECK_FALSE(**result);
        CHECK(early.directory().size() == 2);
        co_await close(early);
        co_await close(*late);
        co_await s.stop();
    });
}

TEST_CASE("barrier: not with a cluster") {
    asio::io_context ioc;
    libnet::server_options o;
    o.barrier = 2;
    o.cluster.servers = "nats://127.0.0.1:1";
    CHECK_THROWS_AS(libnet::server(ioc.get_executor(), o), std::invalid_argument);
}
