// SPDX-License-Identifier: BSL-1.0
// Memos: a server and three clients in one process. client1 leaves a memo for client3 whose
// body claims to come from someone else; client3 trusts the server's stamp, not the body. A
// memo to an unknown id comes back as an error event, and client2 then ends the session.

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

constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);

void check(bool ok, const std::string& what) {
    if (!ok)
        throw std::runtime_error(what);
}

void say(const libnet::client& c, const std::string& text) {
    std::cout << "[" << c.id() << "] " << text << std::endl;
}

// The next event, which must be a T; a deadline turns a missing event into an error.
template <class T>
asio::awaitable<T> expect(libnet::client& c) {
    auto [ec, ev] = co_await c.async_receive(2s, use_tuple);
    check(!ec, c.id() + " waiting for an event: " + ec.message());
    auto* e = std::get_if<T>(&ev);
    check(e != nullptr, c.id() + " got event #" + std::to_string(ev.index()));
    co_return std::move(*e);
}

asio::awaitable<std::unique_ptr<libnet::client>> join(std::string id, std::string port) {
    auto ex = co_await asio::this_coro::executor;
    libnet::client_options options;
    options.id = id;
    auto c = std::make_unique<libnet::client>(ex, std::move(options));
    auto [ec] = co_await c->async_connect("127.0.0.1", port, use_tuple);
    check(!ec, id + " connecting: " + ec.message());
    say(*c, "registered");
    co_return c;
}

asio::awaitable<void> script(std::string port) {
    auto c1 = co_await join("client1", port);
    auto c2 = co_await join("client2", port);
    auto c3 = co_await join("client3", port);
    // Each arrival is announced to those already there; take those events off the queues.
    co_await expect<libnet::peer_joined>(*c1);
    co_await expect<libnet::peer_joined>(*c1);
    co_await expect<libnet::peer_joined>(*c2);

    // The body is the sender's free text and may claim anything. `from` is what to trust: the
    // server fills it in with the sender's registered id, and a client cannot set it.
    std::string const body = "from: mallory -- the meeting moved to 3pm";
    auto [sent] = co_await c1->async_send("client3", body, use_tuple);
    check(!sent, "client1 sending: " + sent.message());
    say(*c1, "-> client3: " + body);
    auto memo = co_await expect<libnet::message>(*c3);
    say(*c3, "<- " + memo.from + ": " + memo.body);
    check(memo.from == "client1" && memo.body == body, "the memo was not stamped by client1");
    say(*c3, "memo stamped by the server as from " + memo.from + ", whatever its body says");

    // The send itself succeeds (it only means "written"); the server answers with an ERROR.
    auto [lost] = co_await c1->async_send("client9", "anyone there?", use_tuple);
    check(!lost, "client1 sending: " + lost.message());
    say(*c1, "-> client9: anyone there?");
    auto err = co_await expect<libnet::server_error>(*c1);
    check(err.code == libnet::error::no_such_client && err.id == "client9",
          "expected no_such_client about client9");
    say(*c1, "server error about " + err.id + ": " + err.code.message());

    auto [term] = co_await c2->async_terminate("done for today", use_tuple);
    check(!term, "client2 terminating: " + term.message());
    say(*c2, "sent TERM");
    auto t1 = co_await expect<libnet::terminated>(*c1);
    auto t2 = co_await expect<libnet::terminated>(*c2);
    auto t3 = co_await expect<libnet::terminated>(*c3);
    check(t1.by == "client2" && t2.by == "client2" && t3.by == "client2", "TERM not by client2");
    say(*c1, "terminated by " + t1.by);
    say(*c2, "terminated by " + t2.by);
    say(*c3, "terminated by " + t3.by);
}

} // namespace

int main() {
    asio::io_context ioc;
    libnet::server server(ioc.get_executor()); // 127.0.0.1, port 0: any free port
    std::optional<libnet::error_code> stopped;
    // A callback as completion token: runs once the server has stopped and drained.
    server.async_run([&stopped](libnet::error_code ec) { stopped = ec; });

    bool done = false;
    std::exception_ptr failure;
    auto port = std::to_string(server.local_endpoint().port());
    asio::co_spawn(ioc, script(port), [&](std::exception_ptr e) {
        done = true;
        failure = e;
        server.stop(); // a client's TERM stopped it already; this covers a failed script
    });
    ioc.run_for(10s);
    try {
        if (failure)
            std::rethrow_exception(failure);
        check(done && stopped.has_value(), "did not finish in time");
        check(!*stopped, "server: " + stopped->message());
    } catch (const std::exception& e) {
        std::cerr << "memo failed: " << e.what() << std::endl;
        return 1;
    }
    auto stats = server.stats();
    std::cout << "server stopped: " << stats.routed << " memo routed, "
              << stats.errors[libnet::error::no_such_client] << " to an unknown id" << std::endl;
}
