// SPDX-License-Identifier: BSL-1.0
#include "harness.hpp"

using namespace test;
using libnet::peer_info;

TEST_CASE("registration: WELCOME and a snapshot in join order, then deltas") {
    run([](asio::io_context& ioc) -> asio::awaitable<void> {
        server s(ioc);
        auto a = co_await connect(ioc, s, "alice");
        CHECK(a->id() == "alice");
        REQUIRE(a->directory().size() == 1);

        auto b = co_await connect(ioc, s, "bob");
        auto c = co_await connect(ioc, s, "carol");
        auto dir = c->directory();
        REQUIRE(dir.size() == 3);
        CHECK(dir[0].id == "alice");
        CHECK(dir[1].id == "bob");
        CHECK(dir[2].id == "carol");
        CHECK(dir[0].join_seq < dir[1].join_seq);
        CHECK(dir[1].join_seq < dir[2].join_seq);

        // alice learns of bob, then carol, as deltas.
        {
            auto got = co_await expect<libnet::peer_joined>(*a);
            CHECK(got.peer.id == "bob");
        }
        {
            auto got = co_await expect<libnet::peer_joined>(*a);
            CHECK(got.peer.id == "carol");
        }
        {
            auto got = co_await expect<libnet::peer_joined>(*b);
            CHECK(got.peer.id == "carol");
        }
        CHECK(a->directory() == c->directory());

        co_await close(*b);
        auto left = co_await expect<libnet::peer_left>(*a);
        CHECK(left.id == "bob");
        CHECK(left.reason == libnet::msg::leave_reason::bye);
        {
            auto got = co_await expect<libnet::peer_left>(*c);
            CHECK(got.id == "bob");
        }
        CHECK(a->directory().size() == 2);
        CHECK(a->directory()[1].id == "carol");

        co_await close(*a);
        co_await close(*c);
        co_await s.stop();
    });
}

TEST_CASE("registration: id rules") {
    run([](asio::io_context& ioc) -> asio::awaitable<void> {
        server s(ioc);
        auto a = co_await connect(ioc, s, "alice");

        std::vector<std::string> bad_ids;
        bad_ids.push_back("has space");
        bad_ids.push_back(std::string(65, 'x'));
        bad_ids.push_back(std::string("nul\0", 4));
        bad_ids.push_back("\xC0\xAF");
        for (auto const& bad : bad_ids) {
            libnet::client c(ioc.get_executor(), with_id(bad));
            auto [ec] = co_await c.async_connect("127.0.0.1", s.port(), use_tuple);
            CHECK(ec == libnet::error::invalid_client_id);
        }

        SECTION("a duplicate online id is refused; the first holder keeps it") {
            libnet::client dup(ioc.get_executor(), with_id("alice"));
            auto [ec] = co_await dup.async_connect("127.0.0.1", s.port(), use_tuple);
            CHECK(ec == libnet::error::id_taken);
            CHECK(a->is_connected());
        }
        SECTION("no id: the server assigns ip:port") {
            libnet::client anon(ioc.get_executor());
            auto [ec] = co_await anon.async_connect("127.0.0.1", s.port(), use_tuple);
            REQUIRE_FALSE(ec);
            CHECK(anon.id().rfind("127.0.0.1:", 0) == 0);
            {
                auto got = co_await expect<libnet::peer_joined>(*a);
                CHECK(got.peer.id == anon.id());
            }
            co_await close(anon);
        }
        SECTION("an id is free again once its holder left") {
            co_await close(*a);
            auto again = co_await connect(ioc, s, "alice");
            co_await close(*again);
        }
        if (a->is_connected())
            co_await close(*a);
        co_await s.stop();
    });
}

TEST_CASE("registration: deadline, frames before HELLO, bad version, second HELLO") {
    run([](asio::io_context& ioc) -> asio::awaitable<void> {
        libnet::server_options o;
        o.hello_timeout = 200ms;
        server s(ioc, o);
        auto watcher = co_await connect(ioc, s, "watcher");

        SECTION("silence past the deadline: ERROR(hello_timeout), then close") {
            raw r(ioc);
            co_await r.connect(s);
            co_await r.expect_error_and_close(libnet::error::hello_timeout);
        }
        SECTION("another frame first: ERROR(hello_expected), then close") {
            raw r(ioc);
            co_await r.connect(s);
            co_await r.send(libnet::msg::send{"watcher", "sneaky", 0});
            co_await r.expect_error_and_close(libnet::error::hello_expected);
        }
        SECTION("unsupported version") {
            raw r(ioc);
            co_await r.connect(s);
            co_await r.send(libnet::msg::hello{99, "future", {}, {}});
            co_await r.expect_error_and_close(libnet::error::unsupported_version);
        }
        SECTION("a second HELLO is an error but the connection stays") {
            raw r(ioc);
            co_await r.connect(s);
            co_await r.send(libnet::msg::hello{libnet::protocol_version, "twice", {}, {}});
            libnet::msg::welcome w;
            std::vector<std::uint8_t> storage;
            co_await r.expect(w, storage);
            co_await r.send(libnet::msg::hello{libnet::protocol_version, "twice", {}, {}});
            libnet::msg::error e;
            co_await r.expect(e, storage);
            CHECK(e.code == static_cast<std::uint16_t>(libnet::error::already_registered));
            co_await r.send(libnet::msg::send{"watcher", "still here", 0});
            auto m = co_await expect<libnet::peer_joined>(*watcher);
            CHECK(m.peer.id == "twice");
            {
                auto got = co_await expect<libnet::message>(*watcher);
                CHECK(got.body == "still here");
            }
        }
        // Nothing above ever registered except where stated; the watcher saw no stray join.
        co_await close(*watcher);
        co_await s.stop();
        CHECK(s->stats().registrations >= 1);
    });
}

TEST_CASE("registration: a server refuses a max_frame below the protocol's minimum") {
    asio::io_context ioc;
    libnet::server_options o;
    o.max_frame = libnet::min_max_frame_size - 1;
    CHECK_THROWS_AS(libnet::server(ioc.get_executor(), o), std::invalid_argument);
    o.max_frame = libnet::min_max_frame_size;
    CHECK_NOTHROW(libnet::server(ioc.get_executor(), o));
}
