// SPDX-License-Identifier: BSL-1.0
// A chat room: four clients join one after another, each says one line to the room, and each
// leaves. A broadcast reaches everyone but its sender, so every member hears exactly three
// lines; those still in the room see each departure.

#include <libnet/client.hpp>
#include <libnet/server.hpp>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/error.hpp>
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
#include <vector>

namespace asio = boost::asio;
using namespace std::chrono_literals;

namespace {

constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);

struct line {
    const char* who;
    const char* text;
};
constexpr line lines[] = {{"ann", "hello, room"},
                          {"ben", "hi ann"},
                          {"cat", "morning all"},
                          {"dan", "sorry, have to run"}};

void check(bool ok, const std::string& what) {
    if (!ok)
        throw std::runtime_error(what);
}

void say(const libnet::client& c, const std::string& text) {
    std::cout << "[" << c.id() << "] " << text << std::endl;
}

template <class T>
asio::awaitable<T> expect(libnet::client& c) {
    auto [ec, ev] = co_await c.async_receive(2s, use_tuple);
    check(!ec, c.id() + " waiting for an event: " + ec.message());
    auto* e = std::get_if<T>(&ev);
    check(e != nullptr, c.id() + " got event #" + std::to_string(ev.index()));
    co_return std::move(*e);
}

asio::awaitable<void> chat(std::string port) {
    auto ex = co_await asio::this_coro::executor;
    std::vector<std::unique_ptr<libnet::client>> room;
    for (auto const& l : lines) {
        libnet::client_options options;
        options.id = l.who;
        auto c = std::make_unique<libnet::client>(ex, std::move(options));
        auto [ec] = co_await c->async_connect("127.0.0.1", port, use_tuple);
        check(!ec, std::string(l.who) + " connecting: " + ec.message());
        say(*c, "joined");
        for (auto const& member : room) {
            auto joined = co_await expect<libnet::peer_joined>(*member);
            say(*member, "+ " + joined.peer.id);
        }
        room.push_back(std::move(c));
    }

    // One speaker at a time, and everyone hears them before the next one speaks. Only the
    // order of one sender's messages is guaranteed: lines sent by different clients at the same
    // moment travel on different connections and may reach a listener in either order.
    std::vector<int> heard(room.size(), 0);
    for (std::size_t s = 0; s < room.size(); ++s) {
        std::string const text = lines[s].text;
        say(*room[s], "says: " + text);
        auto [ec] = co_await room[s]->async_broadcast(text, use_tuple);
        check(!ec, room[s]->id() + " broadcasting: " + ec.message());
        for (std::size_t r = 0; r < room.size(); ++r) {
            if (r == s)
                continue;
            auto m = co_await expect<libnet::message>(*room[r]);
            check(m.broadcast && m.from == room[s]->id() && m.body == text, "garbled line");
            say(*room[r], "<- " + m.from + ": " + m.body);
            ++heard[r];
        }
    }

    // Nobody has anything else waiting: a receive that times out loses no event, so it is a
    // safe way to look. Had a sender got its own line back, it would be here.
    for (std::size_t r = 0; r < room.size(); ++r) {
        auto [ec, ev] = co_await room[r]->async_receive(100ms, use_tuple);
        check(ec == asio::error::timed_out, room[r]->id() + " has an unexpected event");
        check(heard[r] == 3, room[r]->id() + " heard " + std::to_string(heard[r]) + " lines");
        say(*room[r], "heard 3 lines, none of them its own");
    }

    // async_close sends BYE after anything still queued, then waits for the server to close.
    for (std::size_t l = 0; l < room.size(); ++l) {
        auto [ec] = co_await room[l]->async_close(use_tuple);
        check(!ec, room[l]->id() + " leaving: " + ec.message());
        say(*room[l], "left");
        for (std::size_t r = l + 1; r < room.size(); ++r) {
            auto gone = co_await expect<libnet::peer_left>(*room[r]);
            check(gone.id == room[l]->id(), room[r]->id() + " saw the wrong client leave");
            say(*room[r],
                "- " + gone.id + " (" + std::string(libnet::msg::to_string(gone.reason)) + ")");
        }
    }
}

} // namespace

int main() {
    asio::io_context ioc;
    libnet::server server(ioc.get_executor()); // 127.0.0.1, port 0: any free port
    std::optional<libnet::error_code> stopped;
    server.async_run([&stopped](libnet::error_code ec) { stopped = ec; });

    bool done = false;
    std::exception_ptr failure;
    auto port = std::to_string(server.local_endpoint().port());
    asio::co_spawn(ioc, chat(port), [&](std::exception_ptr e) {
        done = true;
        failure = e;
        server.stop(); // the room is empty (or the script failed): close the server too
    });
    ioc.run_for(10s);
    try {
        if (failure)
            std::rethrow_exception(failure);
        check(done && stopped.has_value(), "did not finish in time");
        check(!*stopped, "server: " + stopped->message());
    } catch (const std::exception& e) {
        std::cerr << "chat failed: " << e.what() << std::endl;
        return 1;
    }
    std::cout << "server stopped after " << server.stats().broadcasts << " broadcasts" << std::endl;
}
