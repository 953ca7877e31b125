// SPDX-License-Identifier: BSL-1.0
// Message types of the application's own (0x8000-0xFFFF). The server answers "uppercase"
// (0x8001) itself, with a handler; "position" (0x8002) goes from rover to base over a direct
// link, and a handler on base takes it. A server hook, on_register, turns away "guest" ids.

#include <libnet/client.hpp>
#include <libnet/server.hpp>

#include <boost/algorithm/string/case_conv.hpp>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <chrono>
#include <cstdint>
#include <iostream>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <variant>

namespace asio = boost::asio;
using namespace std::chrono_literals;
using libnet::route;

namespace {

constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);
constexpr std::uint16_t uppercase = 0x8001;
constexpr std::uint16_t position = 0x8002;

void check(bool ok, const std::string& what) {
    if (!ok)
        throw std::runtime_error(what);
}

// Where base's handler puts the position it takes, and a timer it cancels to say so.
struct inbox {
    explicit inbox(asio::any_io_executor ex) : arrived(ex) {}
    std::optional<libnet::message> position;
    asio::steady_timer arrived;
};

asio::awaitable<std::unique_ptr<libnet::client>> join(std::string port, std::string id,
                                                      libnet::client_options options) {
    options.id = id;
    auto c =
        std::make_unique<libnet::client>(co_await asio::this_coro::executor, std::move(options));
    auto [ec] = co_await c->async_connect("127.0.0.1", port, use_tuple);
    check(!ec, id + " connecting: " + ec.message());
    co_return c;
}

asio::awaitable<void> script(std::string port, std::shared_ptr<inbox> box) {
    libnet::client_options guest;
    guest.id = "guest7";
    libnet::client g(co_await asio::this_coro::executor, guest);
    auto [refused] = co_await g.async_connect("127.0.0.1", port, use_tuple);
    check(refused == libnet::error::not_permitted, "guest7 was let in");
    std::cout << "[guest7] refused: " << refused.message() << std::endl;

    libnet::client_options base_options;
    base_options.listen = "127.0.0.1:0";
    // Runs as the frame arrives, instead of queuing it as an event.
    base_options.app_handlers[position] = [box](const libnet::message& m) {
        std::cout << "[base] position from " << m.from
                  << (m.via == route::direct ? " [direct]: " : " [server]: ") << m.body
                  << std::endl;
        box->position = m;
        box->arrived.cancel();
    };
    auto base = co_await join(port, "base", base_options);
    libnet::client_options rover_options; // no `= {}` default in join: GCC 12 miscompiles it
    auto rover = co_await join(port, "rover", rover_options);

    // Addressed to no client, so the server's handler answers: same type, empty `from`.
    auto [asked] = co_await rover->async_send_app(uppercase, "", "hello", route::server, use_tuple);
    check(!asked, "rover asking: " + asked.message());
    auto [ec, ev] = co_await rover->async_receive(2s, use_tuple); // a deadline, not a hang
    check(!ec, "rover waiting for the reply: " + ec.message());
    auto* reply = std::get_if<libnet::message>(&ev);
    check(reply && reply->type == uppercase && reply->from.empty() && reply->body == "HELLO",
          "a bad reply");
    std::cout << "[rover] uppercase(\"hello\") = " << reply->body << std::endl;

    // Rover dials base (only base listens): the server introduces them, then stays out of it.
    auto [linked] = co_await rover->async_connect_peer("base", use_tuple);
    check(!linked, "rover linking with base: " + linked.message());
    auto [sent] =
        co_await rover->async_send_app(position, "base", "x=12 y=-3", route::direct, use_tuple);
    check(!sent, "rover sending its position: " + sent.message());
    box->arrived.expires_after(2s);
    while (!box->position) {
        auto [timeout] = co_await box->arrived.async_wait(use_tuple);
        check(timeout == asio::error::operation_aborted, "base got no position");
    }
    check(box->position->from == "rover" && box->position->via == route::direct, "bad position");

    auto [left1] = co_await rover->async_close(use_tuple);
    auto [left2] = co_await base->async_close(use_tuple);
    check(!left1 && !left2, "leaving: " + (left1 ? left1 : left2).message());
}

} // namespace

int main() {
    asio::io_context ioc;
    libnet::server_options options;
    options.app_handlers[uppercase] = [](const libnet::app_request& r,
                                         const libnet::app_responder& out) {
        out.reply(boost::algorithm::to_upper_copy(std::string(r.body))); // to r.from, same type
    };
    // A hook: sees each client asking to register (its id well-formed) and may refuse it.
    options.on_register = [](const libnet::registration& r) -> libnet::refusal {
        if (r.id.starts_with("guest"))
            return "no guests today";
        return std::nullopt;
    };
    libnet::server server(ioc.get_executor(), std::move(options));
    std::optional<libnet::error_code> stopped;
    server.async_run([&stopped](libnet::error_code ec) { stopped = ec; });

    bool done = false;
    std::exception_ptr failure;
    auto port = std::to_string(server.local_endpoint().port());
    auto box = std::make_shared<inbox>(ioc.get_executor());
    asio::co_spawn(ioc, script(port, box), [&](std::exception_ptr e) {
        done = true;
        failure = e;
        server.stop();
    });
    ioc.run_for(10s);
    try {
        if (failure)
            std::rethrow_exception(failure);
        check(done && stopped.has_value(), "did not finish in time");
        check(!*stopped, "server: " + stopped->message());
        // The reply came from a handler and the position over the link: nothing was routed.
        check(server.stats().routed == 0, "the server routed a message");
    } catch (const std::exception& e) {
        std::cerr << "custom_type failed: " << e.what() << std::endl;
        return 1;
    }
}
