// SPDX-License-Identifier: BSL-1.0
#include "harness.hpp"

using namespace test;

TEST_CASE("routing: SEND reaches only its recipient, stamped with the true sender") {
    run([](asio::io_context& ioc) -> asio::awaitable<void> {
        server s(ioc);
        auto a = co_await connect(ioc, s, "alice");
        auto b = co_await connect(ioc, s, "bob");
        auto c = co_await connect(ioc, s, "carol");
        co_await expect<libnet::peer_joined>(*a);
        co_await expect<libnet::peer_joined>(*a);
        co_await expect<libnet::peer_joined>(*b);

        auto [ec] = co_await a->async_send("bob", "hello bob", use_tuple);
        REQUIRE_FALSE(ec);
        auto m = co_await expect<libnet::message>(*b);
        CHECK(m.from == "alice");
        CHECK(m.body == "hello bob");
        CHECK_FALSE(m.broadcast);
        CHECK(m.seq > 0);

        // carol got nothing: the next thing she sees is her own note to herself.
        co_await c->async_send("carol", "marker", use_tuple);
        auto self = co_await expect<libnet::message>(*c);
        CHECK(self.from == "carol");
        CHECK(self.body == "marker");

        co_await close(*a);
        co_await close(*b);
        co_await close(*c);
        co_await s.stop();
        CHECK(s->stats().routed == 2);
    });
}

TEST_CASE("routing: a client cannot claim another sender") {
    run([](asio::io_context& ioc) -> asio::awaitable<void> {
        server s(ioc);
        auto b = co_await connect(ioc, s, "bob");
        raw mallory(ioc);
        co_await mallory.connect(s);
        co_await mallory.send(libnet::msg::hello{libnet::protocol_version, "mallory", {}, {}});
        co_await expect<libnet::peer_joined>(*b);

        // A SEND carrying a forged FROM field (tag 13) ahead of the real ones.
        std::vector<std::uint8_t> body;
        libnet::msg::detail::field_writer w{nullptr};
        body.resize(64);
        w.pos = body.data();
        w.str(libnet::msg::tag::from, "alice");
        w.str(libnet::msg::tag::to, "bob");
        w.str(libnet::msg::tag::body, "trust me");
        body.resize(static_cast<std::size_t>(w.pos - body.data()));
        std::vector<std::uint8_t> frame;
        libnet::append_frame(frame, static_cast<std::uint16_t>(libnet::frame_type::send), body);
        co_await mallory.write(frame);

        auto m = co_await expect<libnet::message>(*b);
        CHECK(m.from == "mallory");
        CHECK(m.body == "trust me");

        // A DELIVER from a client is refused, not routed.
        co_await mallory.send(libnet::msg::deliver{"alice", "forged", 1, 0});
        libnet::msg::error e;
        std::vector<std::uint8_t> storage;
        co_await mallory.expect(e, storage);
        CHECK(e.code == static_cast<std::uint16_t>(libnet::error::unexpected_frame));

        co_await close(*b);
        co_await s.stop();
    });
}

TEST_CASE("routing: an unknown recipient is an error to the sender, naming the recipient") {
    run([](asio::io_context& ioc) -> asio::awaitable<void> {
        server s(ioc);
        auto a = co_await connect(ioc, s, "alice");
        auto [ec] = co_await a->async_send("nobody", "anyone there?", use_tuple);
        REQUIRE_FALSE(ec);
        auto err = co_await expect<libnet::server_error>(*a);
        CHECK(err.code == libnet::error::no_such_client);
        CHECK(err.id == "nobody");
        CHECK(err.ref != 0);
        CHECK(err.ref_type == static_cast<std::uint16_t>(libnet::frame_type::send));
        co_await close(*a);
        co_await s.stop();
        CHECK(s->stats().errors[libnet::error::no_such_client] == 1);
    });
}

TEST_CASE("routing: BROADCAST reaches everyone but the sender") {
    run([](asio::io_context& ioc) -> asio::awaitable<void> {
        server s(ioc);
        auto a = co_await connect(ioc, s, "alice");
        auto b = co_await connect(ioc, s, "bob");
        auto c = co_await connect(ioc, s, "carol");
        co_await expect<libnet::peer_joined>(*a);
        co_await expect<libnet::peer_joined>(*a);
        co_await expect<libnet::peer_joined>(*b);

        co_await a->async_broadcast("hi all", use_tuple);
        std::vector<libnet::client*> receivers{b.get(), c.get()};
        for (auto* r : receivers) {
            auto m = co_await expect<libnet::message>(*r);
            CHECK(m.from == "alice");
            CHECK(m.body == "hi all");
            CHECK(m.broadcast);
        }
        co_await a->async_send("alice", "marker", use_tuple);
        {
            auto got = co_await expect<libnet::message>(*a);
            CHECK(got.body == "marker");
        }

        co_await close(*a);
        co_await close(*b);
        co_await close(*c);
        co_await s.stop();
    });
}

TEST_CASE("routing: FIFO per sender and recipient, many sends outstanding") {
    run([](asio::io_context& ioc) -> asio::awaitable<void> {
        server s(ioc);
        auto a = co_await connect(ioc, s, "alice");
        auto b = co_await connect(ioc, s, "bob");
        co_await expect<libnet::peer_joined>(*a);

        constexpr int n = 2000;
        int completed = 0;
        for (int i = 0; i < n; ++i) // all started at once, none awaited yet
            a->async_send("bob", std::to_string(i), [&completed](error_code ec) {
                CHECK_FALSE(ec);
                ++completed;
            });
        std::uint64_t last_seq = 0;
        for (int i = 0; i < n; ++i) {
            auto m = co_await expect<libnet::message>(*b);
            REQUIRE(m.body == std::to_string(i));
            REQUIRE(m.seq > last_seq);
            last_seq = m.seq;
        }
        CHECK(completed == n);
        co_await close(*a);
        co_await close(*b);
        co_await s.stop();
    });
}
