// SPDX-License-Identifier: BSL-1.0
// Store-and-forward with access control and a durable store: only alice, bob and carol may
// register, alice needs her secret, and what alice sends while the others are offline
// waits in their mailboxes, in a SQLite file that outlives a restart of the server. Bob
// gets his messages pushed at login; carol is in pull mode and fetches hers.

#include <libnet/client.hpp>
#include <libnet/server.hpp>
#include <libnet/store.hpp>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <chrono>
#include <filesystem>
#include <functional>
#include <iostream>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <unistd.h>
#include <variant>
#include <vector>

namespace asio = boost::asio;
using namespace std::chrono_literals;

namespace {

constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);

void check(bool ok, const std::string& what) {
    if (!ok)
        throw std::runtime_error(what);
}

libnet::server_options options(const std::string& db) {
    libnet::server_options o;
    o.allow_ids = {"alice", "bob", "carol"};
    o.secrets["alice"] = "correct horse";
    o.auth_failure_delay = 100ms;
    o.store = libnet::open_store("sqlite:" + db);
    return o;
}

asio::awaitable<libnet::error_code> try_join(std::string port, libnet::client_options o,
                                             std::unique_ptr<libnet::client>& out) {
    out = std::make_unique<libnet::client>(co_await asio::this_coro::executor, std::move(o));
    auto [ec] = co_await out->async_connect("127.0.0.1", port, use_tuple);
    co_return ec;
}

// Before the restart: refusals, then alice leaves messages for the others.
asio::awaitable<void> before(std::string port) {
    std::unique_ptr<libnet::client> c;
    libnet::client_options mallory;
    mallory.id = "mallory";
    auto refused = co_await try_join(port, mallory, c);
    check(refused == libnet::error::not_allowed, "mallory was let in");
    std::cout << "[mallory] refused: " << refused.message() << std::endl;
    libnet::client_options impostor;
    impostor.id = "alice";
    impostor.credentials = "battery staple";
    auto wrong = co_await try_join(port, impostor, c);
    check(wrong == libnet::error::auth_failed, "a wrong secret was accepted");
    std::cout << "[alice?] refused: " << wrong.message() << std::endl;

    libnet::client_options alice_options;
    alice_options.id = "alice";
    alice_options.credentials = "correct horse";
    std::unique_ptr<libnet::client> alice;
    auto ec = co_await try_join(port, alice_options, alice);
    check(!ec, "alice: " + ec.message());
    // Completes once the message is committed to the database.
    auto [sent, r1] = co_await alice->async_send_confirmed("bob", "see you at five", use_tuple);
    check(!sent && r1.durable && r1.offline == 1, "send to bob: " + sent.message());
    std::cout << "[alice] to bob: stored" << std::endl;
    auto [all, r2] = co_await alice->async_broadcast_confirmed("maintenance at six", use_tuple);
    check(!all && r2.offline == 2, "broadcast: " + all.message());
    std::cout << "[alice] to everyone: stored for " << r2.offline << " offline" << std::endl;
    auto [left] = co_await alice->async_close(use_tuple);
    check(!left, "alice leaving: " + left.message());
}

// After the restart: bob's messages come at login, carol fetches hers.
asio::awaitable<void> after(std::string port) {
    libnet::client_options bob_options;
    bob_options.id = "bob";
    std::unique_ptr<libnet::client> bob;
    auto ec = co_await try_join(port, bob_options, bob);
    check(!ec, "bob: " + ec.message());
    std::vector<std::string> const expected_bodies{"see you at five", "maintenance at six"};
    for (auto const& expected : expected_bodies) { // a named list: GCC 12 and coroutines
        auto [rec, ev] = co_await bob->async_receive(2s, use_tuple);
        check(!rec, "bob waiting: " + rec.message());
        auto* m = std::get_if<libnet::message>(&ev);
        check(m && m->from == "alice" && m->body == expected, "bob got the wrong message");
        std::cout << "[bob] [" << m->from << "] " << m->body << " (message " << m->seq << ")"
                  << std::endl;
    }

    libnet::client_options carol_options;
    carol_options.id = "carol";
    carol_options.pull = true;
    std::unique_ptr<libnet::client> carol;
    ec = co_await try_join(port, carol_options, carol);
    check(!ec, "carol: " + ec.message());
    auto [fec, got] = co_await carol->async_fetch(10, use_tuple);
    check(!fec && got.size() == 1 && got[0].body == "maintenance at six", "carol's fetch");
    std::cout << "[carol] fetched [" << got[0].from << "] " << got[0].body << std::endl;

    auto [l1] = co_await bob->async_close(use_tuple);
    auto [l2] = co_await carol->async_close(use_tuple);
    check(!l1 && !l2, "leaving");
}

// Runs one server over `db` with `script` as its clients, then stops it.
void session(const std::string& db, std::function<asio::awaitable<void>(std::string)> script) {
    asio::io_context ioc;
    libnet::server server(ioc.get_executor(), options(db));
    std::optional<libnet::error_code> stopped;
    server.async_run([&stopped](libnet::error_code ec) { stopped = ec; });
    std::exception_ptr failure;
    bool done = false;
    asio::co_spawn(ioc, script(std::to_string(server.local_endpoint().port())),
                   [&](std::exception_ptr e) {
                       done = true;
                       failure = e;
                       server.stop();
                   });
    ioc.run_for(10s);
    if (failure)
        std::rethrow_exception(failure);
    check(done && stopped && !*stopped, "did not finish in time");
    std::cout << "server: " << server.stats() << std::endl;
}

} // namespace

int main() {
    auto const db = (std::filesystem::temp_directory_path() /
                     ("libnet-mailbox-example-" + std::to_string(::getpid()) + ".db"))
                        .string();
    int status = 0;
    try {
        session(db, before);
        std::cout << "-- server restarted on " << db << std::endl;
        session(db, after);
    } catch (const std::exception& e) {
        std::cerr << "mailbox failed: " << e.what() << std::endl;
        status = 1;
    }
    for (auto const* suffix : {"", "-wal", "-shm"})
        std::filesystem::remove(db + suffix);
    return status;
}
