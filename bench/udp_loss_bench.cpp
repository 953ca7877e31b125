// SPDX-License-Identifier: BSL-1.0
// udp_loss_bench: goodput and latency of a UDP client on a lossy path (docs/performance.md,
// "UDP"). An in-process server; client "u" reaches it over UDP through the tests' seeded
// lossy relay (test/integration/udp_proxy.hpp, loss both ways), client "t" over TCP.
// 1. Goodput: u sends M messages of S bytes to t; bytes of payload per second until t has
//    them all, in order.
// 2. Latency: u sends to t, t echoes; K timed round trips.
// For each loss rate given (default 0, 1 and 10 %), with the library's default UDP timeouts.
//
// usage: udp_loss_bench [--messages M] [--size S] [--round-trips K] [LOSS_PERCENT...]
// Exits 1 if a message is missing or out of order, 2 on a usage error.

#include "../test/integration/udp_proxy.hpp"

#include <libnet/client.hpp>
#include <libnet/server.hpp>

#include <boost/asio.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>

#include <algorithm>
#include <chrono>
#include <iostream>
#include <string>
#include <vector>

namespace asio = boost::asio;
using clock_type = std::chrono::steady_clock;
constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);

namespace {

struct settings {
    std::size_t messages = 20'000, size = 1024, round_trips = 1000;
    std::vector<double> losses;
};

void check(libnet::error_code ec, const std::string& what) {
    if (ec)
        throw std::runtime_error(what + ": " + ec.message());
}

asio::awaitable<libnet::message> next_message(libnet::client& c) {
    for (;;) {
        auto [ec, ev] = co_await c.async_receive(std::chrono::seconds(60), use_tuple);
        check(ec, "receive at " + c.id());
        if (auto* m = std::get_if<libnet::message>(&ev))
            co_return std::move(*m);
    }
}

asio::awaitable<void> send_all(libnet::client* u, std::size_t n, std::string body) {
    for (std::size_t i = 0; i < n; ++i) {
        std::string b = body;
        b.replace(0, std::min(b.size(), std::to_string(i).size()), std::to_string(i));
        auto [ec] = co_await u->async_send("t", std::move(b), use_tuple);
        check(ec, "send");
    }
}

asio::awaitable<void> receive_all(libnet::client* t, std::size_t n) {
    for (std::size_t i = 0; i < n; ++i) {
        auto m = co_await next_message(*t);
        if (!m.body.starts_with(std::to_string(i)))
            throw std::runtime_error("message " + std::to_string(i) + " missing or out of order");
    }
}

asio::awaitable<void> echo(libnet::client* t, std::size_t n) {
    for (std::size_t i = 0; i < n; ++i) {
        auto m = co_await next_message(*t);
        auto [ec] = co_await t->async_send("u", std::move(m.body), use_tuple);
        check(ec, "echo");
    }
}

asio::awaitable<std::vector<double>> ping(libnet::client* u, std::size_t n) {
    std::vector<double> us;
    for (std::size_t i = 0; i < n; ++i) {
        auto const start = clock_type::now();
        auto [ec] = co_await u->async_send("t", "ping", use_tuple);
        check(ec, "ping");
        co_await next_message(*u);
        us.push_back(std::chrono::duration<double, std::micro>(clock_type::now() - start).count());
    }
    co_return us;
}

asio::awaitable<void> run_one(asio::io_context& ioc, const settings& s, double loss) {
    using namespace asio::experimental::awaitable_operators;
    libnet::server_options so;
    so.udp.enabled = true;
    so.max_queue_bytes = 256u << 20;
    libnet::server server(ioc.get_executor(), so);
    server.async_run([](libnet::error_code) {});
    test::lossy_proxy::conditions c;
    c.loss = loss;
    auto proxy = std::make_shared<test::lossy_proxy>(ioc, server.udp_endpoint(), c, 7);
    proxy->start();
    libnet::client_options uo, to;
    uo.id = "u";
    to.id = "t";
    uo.max_queue_bytes = to.max_queue_bytes = 256u << 20;
    libnet::client u(ioc.get_executor(), uo), t(ioc.get_executor(), to);
    auto [uec] = co_await u.async_connect("udp://127.0.0.1",
                                          std::to_string(proxy->endpoint().port()), use_tuple);
    check(uec, "connect u");
    auto [tec] = co_await t.async_connect(
        "127.0.0.1", std::to_string(server.local_endpoint().port()), use_tuple);
    check(tec, "connect t");

    auto const start = clock_type::now();
    co_await (send_all(&u, s.messages, std::string(s.size, 'x')) && receive_all(&t, s.messages));
    std::chrono::duration<double> const took = clock_type::now() - start;
    auto us = co_await (ping(&u, s.round_trips) && echo(&t, s.round_trips));
    std::sort(us.begin(), us.end());
    auto at = [&](double q) {
        return us[static_cast<std::size_t>(q * (us.size() - 1))];
    };
    std::cout << "loss " << loss * 100 << " %: goodput " << s.messages * s.size / took.count() / 1e6
              << " MB/s (" << s.messages << " x " << s.size << " B in " << took.count()
              << " s); round trip p50 " << at(0.5) << " us, p90 " << at(0.9) << " us, p99 "
              << at(0.99) << " us; relay dropped " << proxy->up().dropped + proxy->down().dropped
              << " of "
              << proxy->up().forwarded + proxy->down().forwarded + proxy->up().dropped +
                     proxy->down().dropped
              << std::endl;
    co_await u.async_close(use_tuple);
    co_await t.async_close(use_tuple);
    server.stop();
    proxy->stop();
}

} // namespace

int main(int argc, char** argv) {
    settings s;
    try {
        for (int i = 1; i < argc; ++i) {
            std::string const a = argv[i];
            auto value = [&] {
                if (i + 1 >= argc)
                    throw std::invalid_argument(a + " needs a value");
                return std::stoull(argv[++i]);
            };
            if (a == "--messages")
                s.messages = value();
            else if (a == "--size")
                s.size = std::max<std::size_t>(value(), 8);
            else if (a == "--round-trips")
                s.round_trips = std::max<std::size_t>(value(), 1);
            else
                s.losses.push_back(std::stod(a) / 100);
        }
    } catch (const std::exception& e) {
        std::cerr << "udp_loss_bench: " << e.what()
                  << "\nusage: udp_loss_bench [--messages M] [--size S] [--round-trips K] "
                     "[LOSS_PERCENT...]\n";
        return 2;
    }
    if (s.losses.empty())
        s.losses = {0, 0.01, 0.10};
    for (double loss : s.losses) {
        asio::io_context ioc;
        bool failed = false;
        asio::co_spawn(ioc, run_one(ioc, s, loss), [&](std::exception_ptr e) {
            try {
                if (e)
                    std::rethrow_exception(e);
            } catch (const std::exception& x) {
                std::cerr << "udp_loss_bench: FAILED: " << x.what() << std::endl;
                failed = true;
                ioc.stop(); // the relay would keep running
            }
        });
        ioc.run();
        if (failed)
            return 1;
    }
    return 0;
}
