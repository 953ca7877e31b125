// SPDX-License-Identifier: BSL-1.0
// The libnet demo: alice, bob and carol register with an in-process server, alice writes to bob,
// bob to everyone, and carol ends the session for all. Each step awaits the event it causes, so
// the transcript on stdout is the same on every run; the server's log goes to stderr.

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
#include <optional>
#include <stdexcept>
#include <string>
#include <variant>

namespace asio = boost::asio;
using namespace std::chrono_literals;

namespace {

// as_tuple: operations hand back their error_code instead of throwing it.
constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);
// Every receive has a deadline, so an event that never comes fails the demo instead of hanging.
constexpr auto step_timeout = 2s;

void check(libnet::error_code ec, const std::string& what) {
    if (ec)
        throw std::runtime_error(what + ": " + ec.message());
}

// std::endl flushes, which keeps the transcript in step with the server's log on stderr.
void say(const libnet::client& c, const std::string& text) {
    std::cout << "[" << c.id() << "] " << text << std::endl;
}

std::string describe(const libnet::event& ev) {
    if (auto* m = std::get_if<libnet::message>(&ev))
        return "<- " + m->from + (m->broadcast ? " (broadcast): " : ": ") + m->body;
    if (auto* j = std::get_if<libnet::peer_joined>(&ev))
        return "+ " + j->peer.id + " joined";
    if (auto* t = std::get_if<libnet::terminated>(&ev))
        return "terminated by " + t->by;
    return "unexpected event #" + std::to_string(ev.index());
}

template <class T>
asio::awaitable<T> expect(libnet::client& c) {
    auto [ec, ev] = co_await c.async_receive(step_timeout, use_tuple);
    check(ec, c.id() + " waiting for an event");
    auto* e = std::get_if<T>(&ev);
    if (e == nullptr)
        throw std::runtime_error(c.id() + " got " + describe(ev));
    say(c, describe(ev));
    co_return std::move(*e);
}

asio::awaitable<std::unique_ptr<libnet::client>> join(std::string id, std::string port) {
    auto ex = co_await asio::this_coro::executor;
    libnet::client_options options;
    options.id = id;
    auto c = std::make_unique<libnet::client>(ex, std::move(options));
    // Completes once registered: the directory snapshot has arrived along with WELCOME.
    auto [ec] = co_await c->async_connect("127.0.0.1", port, use_tuple);
    check(ec, id + " connecting");
    std::string names;
    for (auto const& peer : c->directory())
        names += (names.empty() ? "" : ", ") + peer.id;
    say(*c, "directory: " + names);
    co_return c;
}

// The TERM event is the last one; receiving once more reports why the session ended.
asio::awaitable<void> finish(libnet::client& c) {
    co_await expect<libnet::terminated>(c);
    auto [ec, ev] = co_await c.async_receive(step_timeout, use_tuple);
    if (ec != libnet::error::terminated)
        throw std::runtime_error(c.id() + " should have ended with TERM: " + ec.message());
    say(c, "ended: " + ec.message());
}

asio::awaitable<void> script(std::string port) {
    auto alice = co_await join("alice", port);
    auto bob = co_await join("bob", port);
    co_await expect<libnet::peer_joined>(*alice);
    auto carol = co_await join("carol", port);
    co_await expect<libnet::peer_joined>(*alice);
    co_await expect<libnet::peer_joined>(*bob);

    // A send completes once written; the server stamps it with alice's registered id.
    auto [sent] = co_await alice->async_send("bob", "hello bob", use_tuple);
    check(sent, "alice sending");
    co_await expect<libnet::message>(*bob);

    // A broadcast goes to everyone but its sender.
    auto [cast] = co_await bob->async_broadcast("hi all", use_tuple);
    check(cast, "bob broadcasting");
    co_await expect<libnet::message>(*alice);
    co_await expect<libnet::message>(*carol);

    // TERM ends the session for every client, carol included, and stops the server.
    auto [term] = co_await carol->async_terminate("that's all", use_tuple);
    check(term, "carol terminating");
    co_await finish(*alice);
    co_await finish(*bob);
    co_await finish(*carol);
}

} // namespace

int main() {
    asio::io_context ioc;
    libnet::server_options options;
    // Called on the server's strands; they all run on this one thread, so no lock is needed.
    options.log = [](libnet::log_level level, std::string_view line) {
        if (level >= libnet::log_level::info)
            std::cerr << "[server] " << line << std::endl;
    };
    libnet::server server(ioc.get_executor(), std::move(options));
    auto const port = server.local_endpoint().port(); // bound in the constructor
    std::cout << "server listening on 127.0.0.1:" << port << std::endl;
    // A plain callback: async_run completes once the server has stopped and every session closed.
    std::optional<libnet::error_code> stopped;
    server.async_run([&stopped](libnet::error_code ec) { stopped = ec; });

    bool done = false;
    std::exception_ptr failure;
    asio::co_spawn(ioc, script(std::to_string(port)), [&](std::exception_ptr e) {
        done = true;
        failure = e;
        server.stop(); // idempotent; after a failure it lets run_for() return early
    });
    ioc.run_for(10s);
    try {
        if (failure)
            std::rethrow_exception(failure);
        if (!done || !stopped)
            throw std::runtime_error("did not finish in time");
        check(*stopped, "server");
    } catch (const std::exception& e) {
        std::cerr << "demo failed: " << e.what() << std::endl;
        return 1;
    }
    std::cout << "server stopped: " << server.stats() << std::endl;
}
