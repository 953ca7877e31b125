// SPDX-License-Identifier: BSL-1.0
#include "peers_harness.hpp"

#include <atomic>
#include <mutex>

// Application-defined message types and the server's and client's hooks.

using namespace test;
using libnet::route;

namespace {
constexpr std::uint16_t echo_type = 0x8001;
constexpr std::uint16_t chat_type = 0x8002;
} // namespace

TEST_CASE("app types: a server-side handler answers a request") {
    run([](asio::io_context& ioc) -> asio::awaitable<void> {
        libnet::server_options so;
        so.app_handlers[echo_type] = [](const libnet::app_request& r,
                                        const libnet::app_responder& out) {
            if (r.body == "fail")
                return out.fail(libnet::error::not_permitted, "no");
            out.reply("echo " + std::string(r.body) + " for " + std::string(r.from));
        };
        server s(ioc, so);
        auto a = co_await connect(ioc, s, "alice");
        auto [ec] = co_await a->async_send_app(echo_type, "", "ping", route::server, use_tuple);
        REQUIRE_FALSE(ec);
        auto m = co_await expect<libnet::message>(*a);
        CHECK(m.type == echo_type);
        CHECK(m.from.empty()); // the server itself
        CHECK(m.body == "echo ping for alice");

        auto [ec2] = co_await a->async_send_app(echo_type, "", "fail", route::server, use_tuple);
        REQUIRE_FALSE(ec2);
        auto e = co_await expect<libnet::server_error>(*a);
        CHECK(e.code == libnet::error::not_permitted);
        CHECK(e.text == "no");
        CHECK(e.ref_type == echo_type);
        co_await close(*a);
        co_await s.stop();
    });
}

TEST_CASE("app types: unhandled ones are routed to their recipient, or refused") {
    run([](asio::io_context& ioc) -> asio::awaitable<void> {
        server s(ioc);
        auto a = co_await connect(ioc, s, "alice");
        auto b = co_await connect(ioc, s, "bob");
        co_await expect<libnet::peer_joined>(*a);

        auto [e1] = co_await a->async_send_app(chat_type, "bob", "typed", route::server, use_tuple);
        REQUIRE_FALSE(e1);
        auto m = co_await expect<libnet::message>(*b);
        CHECK(m.type == chat_type);
        CHECK(m.from == "alice"); // stamped by the server
        CHECK(m.body == "typed");

        // No handler and no recipient: ERROR(unknown_type), and the connection stays.
        auto [e2] = co_await a->async_send_app(chat_type, "", "lost?", route::server, use_tuple);
        REQUIRE_FALSE(e2);
        auto err = co_await expect<libnet::server_error>(*a);
        CHECK(err.code == libnet::error::unknown_type);
        CHECK(err.ref_type == chat_type);
        CHECK(a->is_connected());

        // An unknown recipient is reported like for SEND.
        auto [e3] = co_await a->async_send_app(chat_type, "nobody", "x", route::server, use_tuple);
        REQUIRE_FALSE(e3);
        auto err2 = co_await expect<libnet::server_error>(*a);
        CHECK(err2.code == libnet::error::no_such_client);
        CHECK(err2.id == "nobody");

        // Outside the application range: refused locally.
        auto [e4] = co_await a->async_send_app(0x0042, "bob", "x", route::server, use_tuple);
        CHECK(e4 == libnet::error::unknown_type);
        co_await close(*a);
        co_await close(*b);
        co_await s.stop();
    });
}

TEST_CASE("app types: a client handler claims its type, also over a direct link") {
    run([](asio::io_context& ioc) -> asio::awaitable<void> {
        server s(ioc);
        std::vector<libnet::message> handled;
        auto bo = listening("bob");
        bo.app_handlers[chat_type] = [&handled](const libnet::message& m) {
            handled.push_back(m);
        };
        auto b = co_await connect_with(ioc, s, bo);
        auto a = co_await connect(ioc, s, "alice");
        auto [lec] = co_await a->async_connect_peer("bob", use_tuple);
        REQUIRE_FALSE(lec);
        // Along one route order is kept: the event after the handled message proves the
        // handler ran first.
        auto [e1] = co_await a->async_send_app(chat_type, "bob", "p2p", route::direct, use_tuple);
        REQUIRE_FALSE(e1);
        auto [e2] =
            co_await a->async_send_app(echo_type, "bob", "unhandled", route::direct, use_tuple);
        REQUIRE_FALSE(e2);
        auto ev = co_await next_of<libnet::message>(*b);
        CHECK(ev.type == echo_type); // no handler for it: an event
        CHECK(ev.via == route::direct);
        REQUIRE(handled.size() == 1);
        CHECK(handled[0].body == "p2p");
        CHECK(handled[0].from == "alice");
        CHECK(handled[0].via == route::direct);

        auto [e3] =
            co_await a->async_send_app(chat_type, "bob", "relayed", route::server, use_tuple);
        REQUIRE_FALSE(e3);
        auto [e4] = co_await a->async_send("bob", "marker", route::server, use_tuple);
        REQUIRE_FALSE(e4);
        auto got1 = co_await next_of<libnet::message>(*b);
        CHECK(got1.body == "marker");
        REQUIRE(handled.size() == 2);
        CHECK(handled[1].body == "relayed");
        CHECK(handled[1].via == route::server);
        co_await close(*a);
        co_await close(*b);
        co_await s.stop();
    });
}

TEST_CASE("hooks: on_accept and on_register may refuse, on_leave sees who left and why") {
    run([](asio::io_context& ioc) -> asio::awaitable<void> {
        libnet::server_options so;
        bool refuse_connections = false;
        std::vector<std::pair<std::string, libnet::msg::leave_reason>> left;
        so.on_accept = [&refuse_connections](const tcp::endpoint&) {
            return !refuse_connections;
        };
        so.on_register = [](const libnet::registration& r) -> libnet::refusal {
            if (r.id.starts_with("guest"))
                return "guests are not welcome";
            return std::nullopt;
        };
        so.on_leave = [&left](std::string_view id, libnet::msg::leave_reason why) {
            left.emplace_back(std::string(id), why);
        };
        server s(ioc, so);

        libnet::client guest(ioc.get_executor(), with_id("guest1"));
        auto [e1] = co_await guest.async_connect("127.0.0.1", s.port(), use_tuple);
        CHECK(e1 == libnet::error::not_permitted);
        // The refusal's reason reaches the wire.
        raw r(ioc);
        co_await r.connect(s);
        co_await r.send(libnet::msg::hello{libnet::protocol_version, "guest2", {}, {}});
        libnet::msg::error e;
        std::vector<std::uint8_t> storage;
        co_await r.expect(e, storage);
        CHECK(e.code == static_cast<std::uint16_t>(libnet::error::not_permitted));
        CHECK(e.text == "guests are not welcome");

        auto a = co_await connect(ioc, s, "alice");
        refuse_connections = true;
        libnet::client late(ioc.get_executor(), with_id("late"));
        auto [e2] = co_await late.async_connect("127.0.0.1", s.port(), use_tuple);
        CHECK(e2); // closed before any WELCOME
        CHECK_FALSE(late.is_connected());

        co_await close(*a);
        co_await s.stop();
        REQUIRE(left.size() == 1);
        CHECK(left[0].first == "alice");
        CHECK(left[0].second == libnet::msg::leave_reason::bye);
    });
}

TEST_CASE("hooks: on_route inspects every message and may drop one with an error") {
    run([](asio::io_context& ioc) -> asio::awaitable<void> {
        libnet::server_options so;
        std::vector<std::string> seen;
        so.on_route = [&seen](const libnet::routed_message& m) -> libnet::refusal {
            seen.push_back(std::string(m.from) + ">" + std::string(m.to) + ":" +
                           std::string(m.body));
            if (m.body.find("spam") != std::string_view::npos)
                return "no spam";
            return std::nullopt;
        };
        server s(ioc, so);
        auto a = co_await connect(ioc, s, "alice");
        auto b = co_await connect(ioc, s, "bob");
        co_await expect<libnet::peer_joined>(*a);
        for (auto body : {"hello", "buy spam", "bye"}) {
            auto [ec] = co_await a->async_send("bob", body, use_tuple);
            REQUIRE_FALSE(ec);
        }
        auto [ec] = co_await a->async_broadcast("all", use_tuple);
        REQUIRE_FALSE(ec);
        auto got2 = co_await expect<libnet::message>(*b);
        CHECK(got2.body == "hello");
        auto got3 = co_await expect<libnet::message>(*b);
        CHECK(got3.body == "bye"); // spam was dropped
        auto got4 = co_await expect<libnet::message>(*b);
        CHECK(got4.body == "all");
        auto err = co_await expect<libnet::server_error>(*a);
        CHECK(err.code == libnet::error::not_permitted);
        CHECK(err.text == "no spam");
        CHECK(err.id == "bob");
        CHECK(seen == std::vector<std::string>{"alice>bob:hello", "alice>bob:buy spam",
                                               "alice>bob:bye", "alice>:all"});
        co_await close(*a);
        co_await close(*b);
        co_await s.stop();
    });
}

TEST_CASE("hooks: a client sees directory changes and may consume messages") {
    run([](asio::io_context& ioc) -> asio::awaitable<void> {
        server s(ioc);
        std::vector<std::string> changes;
        std::vector<std::string> consumed;
        auto o = with_id("watcher");
        o.on_directory_change = [&changes](const libnet::event& e) {
            if (auto* j = std::get_if<libnet::peer_joined>(&e))
                changes.push_back("+" + j->peer.id);
            else if (auto* l = std::get_if<libnet::peer_left>(&e))
                changes.push_back("-" + l->id);
        };
        o.on_message = [&consumed](const libnet::message& m) {
            if (m.body.starts_with("cmd:")) {
                consumed.push_back(m.body);
                return true;
            }
            return false;
        };
        auto w = co_await connect_with(ioc, s, o);
        auto a = co_await connect(ioc, s, "alice");
        for (auto body : {"cmd:one", "plain"}) {
            auto [ec] = co_await a->async_send("watcher", body, use_tuple);
            REQUIRE_FALSE(ec);
        }
        co_await close(*a);
        auto got5 = co_await expect<libnet::peer_joined>(*w);
        CHECK(got5.peer.id == "alice");
        auto got6 = co_await expect<libnet::message>(*w);
        CHECK(got6.body == "plain");
        auto got7 = co_await expect<libnet::peer_left>(*w);
        CHECK(got7.id == "alice");
        CHECK(consumed == std::vector<std::string>{"cmd:one"});
        CHECK(changes == std::vector<std::string>{"+alice", "-alice"});
        co_await close(*w);
        co_await s.stop();
    });
}
