// SPDX-License-Identifier: BSL-1.0
// A mesh: N clients (4, or argv[1]) join in mesh mode, so every pair gets a direct link. Once a
// client's links to all the others are up, it greets each of them over its link: the server
// introduces the peers but carries no greeting. Each client has its own receive loop.

#include <libnet/client.hpp>
#include <libnet/server.hpp>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <chrono>
#include <cstdlib>
#include <iostream>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <variant>
#include <vector>

namespace asio = boost::asio;
using namespace std::chrono_literals;
using libnet::route;

namespace {

constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);

void check(bool ok, const std::string& what) {
    if (!ok)
        throw std::runtime_error(what);
}

// Shared by the clients' loops: how many still run, the greetings heard in all, the first
// failure, and a timer parked at max() that the last loop to end cancels to wake the script.
struct tally {
    tally(asio::any_io_executor ex, int n)
        : running(n), done(ex, asio::steady_timer::time_point::max()) {}
    int running;
    int greetings = 0;
    std::exception_ptr failure;
    asio::steady_timer done;
};

// One client's life after joining: count its links, greet once all are up, and hear one
// greeting from each other client (some may come first). Every wait has a deadline.
asio::awaitable<void> run_client(std::shared_ptr<libnet::client> c, int n,
                                 std::shared_ptr<tally> t) {
    int links = 0, heard = 0;
    while (links < n - 1 || heard < n - 1) {
        auto [ec, ev] = co_await c->async_receive(3s, use_tuple);
        check(!ec, c->id() + " waiting for links and greetings: " + ec.message());
        if (auto* m = std::get_if<libnet::message>(&ev)) {
            bool const direct = m->via == route::direct;
            std::cout << c->id() << " got: " << m->body << (direct ? " [direct]" : " [server]")
                      << std::endl;
            check(direct, c->id() + " got a greeting through the server");
            check(m->body.starts_with("Hello from " + m->from + " ("), "a garbled greeting");
            ++heard;
        } else if (std::holds_alternative<libnet::link_up>(ev)) {
            if (++links < n - 1)
                continue;
            auto const body = "Hello from " + c->id() + " (" + c->listen_endpoint() + ")";
            for (auto const& peer : c->linked_peers()) {
                auto [sent] = co_await c->async_send(peer, body, route::direct, use_tuple);
                check(!sent, c->id() + " greeting " + peer + ": " + sent.message());
            }
        } else {
            // Besides links and greetings, only the arrival of a later client is expected.
            check(std::holds_alternative<libnet::peer_joined>(ev),
                  c->id() + " got event #" + std::to_string(ev.index()));
        }
    }
    t->greetings += heard;
}

asio::awaitable<void> mesh(std::string port, int n) {
    auto ex = co_await asio::this_coro::executor;
    auto t = std::make_shared<tally>(ex, n);
    std::vector<std::shared_ptr<libnet::client>> clients;
    for (int i = 0; i < n; ++i) {
        libnet::client_options options;
        options.id = "c" + std::to_string(i);
        options.listen = "127.0.0.1:0"; // any free port, advertised in the directory
        options.mesh = true;            // link with every other client that listens
        auto c = std::make_shared<libnet::client>(ex, std::move(options));
        auto [ec] = co_await c->async_connect("127.0.0.1", port, use_tuple);
        check(!ec, c->id() + " connecting: " + ec.message());
        clients.push_back(c);
        // Its own coroutine, so no client's receive loop waits for another's.
        asio::co_spawn(ex, run_client(c, n, t), [t](std::exception_ptr e) {
            if (e && !t->failure)
                t->failure = e;
            if (--t->running == 0)
                t->done.cancel();
        });
    }
    while (t->running > 0)
        co_await t->done.async_wait(use_tuple);
    if (t->failure)
        std::rethrow_exception(t->failure);
    check(t->greetings == n * (n - 1), std::to_string(t->greetings) + " greetings in all");

    // Leave only once everyone has heard everyone: a client leaving earlier would show up as
    // link_down and peer_left events in the loops of those still waiting for greetings.
    for (auto const& c : clients) {
        auto [ec] = co_await c->async_close(use_tuple);
        check(!ec, c->id() + " leaving: " + ec.message());
    }
    std::cout << n << " clients heard " << t->greetings << " greetings, all direct" << std::endl;
}

} // namespace

int main(int argc, char** argv) {
    int const n = argc > 1 ? std::atoi(argv[1]) : 4;
    if (n < 2 || n > 20) {
        std::cerr << "usage: libnet-mesh_hello [clients, 2-20; default 4]" << std::endl;
        return 2;
    }
    asio::io_context ioc;
    libnet::server server(ioc.get_executor()); // 127.0.0.1, port 0: any free port
    std::optional<libnet::error_code> stopped;
    server.async_run([&stopped](libnet::error_code ec) { stopped = ec; });

    bool done = false;
    std::exception_ptr failure;
    auto port = std::to_string(server.local_endpoint().port());
    asio::co_spawn(ioc, mesh(port, n), [&](std::exception_ptr e) {
        done = true;
        failure = e;
        server.stop();
    });
    ioc.run_for(20s);
    try {
        if (failure)
            std::rethrow_exception(failure);
        check(done && stopped.has_value(), "did not finish in time");
        check(!*stopped, "server: " + stopped->message());
        // The server only introduced the peers: it routed none of the greetings.
        check(server.stats().routed == 0, "the server routed greetings");
    } catch (const std::exception& e) {
        std::cerr << "mesh_hello failed: " << e.what() << std::endl;
        return 1;
    }
}
