// SPDX-License-Identifier: BSL-1.0
// A cluster: two servers, "east" and "west", joined over NATS (the URL on the command line,
// a nats-server with JetStream), and a client on each. alice on east and bob on west see one
// directory, message each other through both servers, and bob's BROADCAST reaches alice.
// When east stops, bob hears that alice left. examples/cluster.sh starts a nats-server for it.

#include <libnet/client.hpp>
#include <libnet/server.hpp>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <chrono>
#include <iostream>
#include <memory>
#include <stdexcept>
#include <string>
#include <variant>

namespace asio = boost::asio;
using namespace std::chrono_literals;

namespace {

constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);

void check(bool ok, const std::string& what) {
    if (!ok)
        throw std::runtime_error(what);
}

void say(const libnet::client& c, const std::string& text) {
    std::cout << "[" << c.id() << "] " << text << std::endl;
}

// The next event that is a T, within a deadline.
template <class T>
asio::awaitable<T> next(libnet::client& c) {
    for (;;) {
        auto [ec, ev] = co_await c.async_receive(5s, use_tuple);
        check(!ec, c.id() + " waiting for an event: " + ec.message());
        if (auto* e = std::get_if<T>(&ev))
            co_return std::move(*e);
    }
}

libnet::server_options node(std::string nats, std::string name) {
    libnet::server_options o;
    o.cluster.servers = std::move(nats);
    o.cluster.name = "example";
    o.cluster.node_id = std::move(name);
    return o;
}

asio::awaitable<std::unique_ptr<libnet::client>> join(std::string id, libnet::server& s) {
    auto ex = co_await asio::this_coro::executor;
    libnet::client_options options;
    options.id = id;
    auto c = std::make_unique<libnet::client>(ex, std::move(options));
    auto [ec] = co_await c->async_connect("127.0.0.1", std::to_string(s.local_endpoint().port()),
                                          use_tuple);
    check(!ec, id + " connecting: " + ec.message());
    co_return c;
}

asio::awaitable<void> script(libnet::server& east, libnet::server& west) {
    auto alice = co_await join("alice", east);
    say(*alice, "registered on east");
    auto bob = co_await join("bob", west);
    say(*bob, "registered on west; the directory lists " + bob->directory().front().id +
                  " (on east) and " + bob->directory().back().id);
    auto joined = co_await next<libnet::peer_joined>(*alice);
    say(*alice, joined.peer.id + " joined (on west)");

    auto [e1] = co_await alice->async_send("bob", "hello from east", use_tuple);
    check(!e1, "alice sending: " + e1.message());
    auto m1 = co_await next<libnet::message>(*bob);
    say(*bob, "<- " + m1.from + ": " + m1.body);
    check(m1.from == "alice", "bob's message is not from alice");

    auto [e2] = co_await bob->async_broadcast("hello everyone, from west", use_tuple);
    check(!e2, "bob broadcasting: " + e2.message());
    auto m2 = co_await next<libnet::message>(*alice);
    say(*alice, "<- " + m2.from + " (broadcast): " + m2.body);
    check(m2.broadcast && m2.from == "bob", "alice's message is not bob's broadcast");

    east.stop(libnet::msg::term_reason::shutdown);
    auto left = co_await next<libnet::peer_left>(*bob);
    say(*bob,
        left.id + " left (" + std::string(libnet::msg::to_string(left.reason)) + "): east stopped");
    auto [e3] = co_await bob->async_close(use_tuple);
    check(!e3, "bob closing: " + e3.message());
    west.stop(libnet::msg::term_reason::shutdown);
}

} // namespace

int main(int argc, char** argv) {
    if (argc != 2) {
        std::cerr << "usage: libnet-cluster nats://HOST:PORT   (a nats-server with JetStream)\n";
        return 2;
    }
    try {
        asio::io_context ioc;
        libnet::server east(ioc.get_executor(), node(argv[1], "east"));
        libnet::server west(ioc.get_executor(), node(argv[1], "west"));
        east.async_run([](libnet::error_code) {});
        west.async_run([](libnet::error_code) {});
        std::exception_ptr failed;
        asio::co_spawn(ioc, script(east, west), [&](std::exception_ptr e) { failed = e; });
        ioc.run_for(20s);
        if (failed)
            std::rethrow_exception(failed);
        check(ioc.stopped(), "the example did not finish");
        std::cout << "done" << std::endl;
    } catch (const std::exception& e) {
        std::cerr << "libnet-cluster: " << e.what() << "\n";
        return 1;
    }
}
