// SPDX-License-Identifier: BSL-1.0
// route_bench: a load generator for libnet's routing path, against an in-process server (sharing
// the clients' io_context) or an external one (--server HOST:PORT, e.g. a running net-server).
//
// 1. Throughput: N clients each send M messages round-robin to the others, keeping W sends in
//    flight (W = 1: one co_await async_send at a time), or, with --batch B, B at a time with
//    async_send_batch, received with async_receive_batch; every client receives what is
//    addressed to it. Each body carries the sender's index and a per-pair sequence number, so
//    loss, duplication and reordering are detected.
// 2. Latency: client 0 sends to client 1, which echoes back; K timed round trips after warm-up.
//
// Exits 1 if a message is missing or out of order, or anything fails; 2 on a usage error.

#include "harness.hpp"

#include <libnet/client.hpp>
#include <libnet/server.hpp>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/deferred.hpp>
#include <boost/asio/experimental/parallel_group.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <iostream>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <type_traits>
#include <unistd.h>
#include <vector>

namespace asio = boost::asio;
using clock_type = std::chrono::steady_clock;

namespace {

constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);
constexpr std::size_t warmup_round_trips = 1000;
// A receive this long without an event fails the run instead of hanging it.
constexpr auto idle_limit = std::chrono::seconds(10);
// The body starts with the sender's index and the per-pair sequence number.
constexpr std::size_t stamp_size = sizeof(std::uint32_t) + sizeof(std::uint64_t);

struct settings {
    std::size_t clients = 16, messages = 20'000, window = 256, size = 64, round_trips = 10'000,
                threads = 1, batch = 0;
    std::string host, port; // empty host: in-process server
    std::string tls_ca;     // with --server: connect with TLS, trusting this CA file
};

settings parse(int argc, char** argv) {
    settings s;
    std::pair<std::string_view, std::size_t*> const numbers[] = {
        {"--clients", &s.clients}, {"--messages", &s.messages},       {"--window", &s.window},
        {"--size", &s.size},       {"--round-trips", &s.round_trips}, {"--threads", &s.threads},
        {"--batch", &s.batch}};
    if (argc % 2 == 0)
        throw std::invalid_argument(std::string(argv[argc - 1]) + " needs a value");
    for (int i = 1; i < argc; i += 2) {
        std::string_view const flag = argv[i];
        std::string const value = argv[i + 1];
        auto const number = std::find_if(std::begin(numbers), std::end(numbers),
                                         [&](auto const& n) { return n.first == flag; });
        std::size_t used = 0;
        if (number != std::end(numbers))
            *number->second = std::stoull(value, &used);
        if (number != std::end(numbers) && used != value.size())
            throw std::invalid_argument(value + " is not a number");
        if (flag == "--server") {
            auto const colon = value.rfind(':');
            if (colon == std::string::npos || colon == 0 || colon + 1 == value.size())
                throw std::invalid_argument("--server: expected HOST:PORT, got " + value);
            s.host = value.substr(0, colon);
            s.port = value.substr(colon + 1);
        } else if (flag == "--tls-ca") {
            s.tls_ca = value;
        } else if (number == std::end(numbers))
            throw std::invalid_argument("unknown option " + std::string(flag));
    }
    if (!s.tls_ca.empty() && s.host.empty())
        throw std::invalid_argument("--tls-ca needs --server");
    if (s.clients < 2 || s.window < 1 || s.threads < 1 || s.threads > 64 || s.round_trips < 1)
        throw std::invalid_argument("need 2+ clients, a window and round trips, 1-64 threads");
    if (s.size < stamp_size || s.size > libnet::default_max_frame_size / 2)
        throw std::invalid_argument("--size must be between 12 and 524288");
    return s;
}

// The recipient of `from`'s k-th message: the others in turn, one message (or, with --batch B,
// one batch of B) each.
std::size_t recipient(const settings& s, std::size_t from, std::size_t k) {
    auto const per_turn = std::max<std::size_t>(s.batch, 1);
    return (from + 1 + (k / per_turn) % (s.clients - 1)) % s.clients;
}

// How many of `from`'s messages go to `to`: the turns t with recipient `to` are those with
// t % (clients - 1) fixed. Counted per turn, not per message: receivers ask at the start of
// the timed run.
std::uint64_t pair_count(const settings& s, std::size_t from, std::size_t to) {
    if (from == to)
        return 0;
    auto const per_turn = std::max<std::size_t>(s.batch, 1);
    std::uint64_t n = 0;
    for (auto t = (to + s.clients - from - 1) % s.clients; t * per_turn < s.messages;
         t += s.clients - 1)
        n += std::min(per_turn, s.messages - t * per_turn);
    return n;
}

using bench::check;

// The next message (peer_joined/left events are skipped); any error or server_error throws.
asio::awaitable<libnet::message> next_message(libnet::client& c) {
    for (;;) {
        auto [ec, ev] = co_await c.async_receive(idle_limit, use_tuple);
        check(ec, [&] { return c.id() + ": receive"; });
        if (auto* m = std::get_if<libnet::message>(&ev))
            co_return std::move(*m);
        if (auto* e = std::get_if<libnet::server_error>(&ev))
            check(e->code, [&] { return c.id() + ": server error"; });
    }
}

// With a window of 1, co_awaits each send. Otherwise keeps up to `window` sends in flight: each
// completion (a callback on the client's strand, like this coroutine) frees a slot and wakes the
// loop. Sends are started in sequence order on one strand, and the client completes and delivers
// them in the order they were started.
asio::awaitable<void> send_all(libnet::client& c, const std::vector<std::string>& ids,
                               std::uint32_t self, const settings& s, clock_type::time_point& end) {
    auto const n = ids.size();
    std::vector<std::uint64_t> seq(n, 0);
    std::string body(s.size, 'x');
    asio::steady_timer slot(c.get_executor(), clock_type::time_point::max());
    std::size_t in_flight = 0;
    libnet::error_code failed;
    auto done = [&](libnet::error_code ec) {
        --in_flight;
        if (ec && !failed)
            failed = ec;
        slot.cancel();
    };
    auto stamp = [&](std::size_t k) { // the k-th message's recipient; its number goes in body
        auto const to = recipient(s, self, k);
        std::memcpy(body.data(), &self, sizeof self);
        std::memcpy(body.data() + sizeof self, &seq[to], sizeof seq[to]);
        ++seq[to];
        return to;
    };
    for (std::size_t k = 0; k < s.messages && s.batch != 0;) { // async_send_batch
        std::vector<std::string> bodies;
        auto const to = recipient(s, self, k);
        for (; k < s.messages && bodies.size() < s.batch; ++k) {
            stamp(k);
            bodies.push_back(body);
        }
        auto [ec] = co_await c.async_send_batch(ids[to], std::move(bodies),
                                                libnet::route::automatic, use_tuple);
        check(ec, [&] { return c.id() + ": send batch"; });
    }
    for (std::size_t k = 0; k < s.messages && !failed && s.batch == 0; ++k) {
        if (s.window == 1) { // one at a time, as most applications write it
            auto const to = stamp(k);
            auto [ec] = co_await c.async_send(ids[to], body, use_tuple);
            check(ec, [&] { return c.id() + ": send"; });
            continue;
        }
        while (in_flight == s.window)
            co_await slot.async_wait(use_tuple);
        auto const to = stamp(k);
        ++in_flight;
        c.async_send(ids[to], body, done);
    }
    while (in_flight != 0) // `done` refers to this frame: outlive every send
        co_await slot.async_wait(use_tuple);
    check(failed, c.id() + ": send");
    end = clock_type::now();
}

// Every message must come once and in order from its sender: a gap in the sequence numbers
// means a loss, an old number a duplicate or reordering; a last message that never comes times
// the receive out.
asio::awaitable<void> receive_all(libnet::client& c, const std::vector<std::string>& ids,
                                  std::size_t self, const settings& s) {
    std::uint64_t expected = 0;
    for (std::size_t i = 0; i < ids.size(); ++i)
        expected += pair_count(s, i, self);
    std::vector<std::uint64_t> next(ids.size(), 0);
    std::vector<libnet::message> ready; // with --batch: async_receive_batch's, in order
    std::size_t taken = 0;
    for (std::uint64_t got = 0; got < expected; ++got) {
        if (s.batch != 0 && taken == ready.size()) {
            ready.clear();
            taken = 0;
            while (ready.empty()) {
                auto [ec, events] = co_await c.async_receive_batch(4096, use_tuple);
                check(ec, [&] { return c.id() + ": receive batch"; });
                for (auto& ev : events)
                    if (auto* m = std::get_if<libnet::message>(&ev))
                        ready.push_back(std::move(*m));
            }
        }
        libnet::message m; // no ?: around co_await (GCC 12 miscompiles it)
        if (s.batch != 0)
            m = std::move(ready[taken++]);
        else
            m = co_await next_message(c);
        std::uint32_t from = 0;
        std::uint64_t seq = 0;
        if (m.body.size() == s.size) {
            std::memcpy(&from, m.body.data(), sizeof from);
            std::memcpy(&seq, m.body.data() + sizeof from, sizeof seq);
        }
        if (m.body.size() != s.size || from >= ids.size() || m.from != ids[from])
            throw std::runtime_error(c.id() + ": a body not stamped by its sender " + m.from);
        if (seq != next[from])
            throw std::runtime_error(c.id() + ": from " + m.from + ": message " +
                                     std::to_string(seq) + " came when " +
                                     std::to_string(next[from]) + " was due");
        ++next[from];
    }
    for (std::size_t i = 0; i < ids.size(); ++i)
        if (next[i] != pair_count(s, i, self))
            throw std::runtime_error(c.id() + ": wrong number of messages from " + ids[i]);
}

asio::awaitable<void> echo(libnet::client& c, std::size_t count) {
    for (std::size_t i = 0; i < count; ++i) {
        auto m = co_await next_message(c);
        auto [ec] = co_await c.async_send(m.from, std::move(m.body), use_tuple);
        check(ec, [&] { return c.id() + ": echo"; });
    }
}

asio::awaitable<void> ping(libnet::client& c, std::string peer, const settings& s,
                           std::vector<double>& rtt_us) {
    std::string body(s.size, 'p');
    for (std::size_t i = 0; i < warmup_round_trips + s.round_trips; ++i) {
        auto const start = clock_type::now();
        auto [ec] = co_await c.async_send(peer, body, use_tuple);
        check(ec, [&] { return c.id() + ": ping"; });
        co_await next_message(c); // the echo
        std::chrono::duration<double, std::micro> const rtt = clock_type::now() - start;
        if (i >= warmup_round_trips)
            rtt_us.push_back(rtt.count());
    }
}

// Runs every task to completion concurrently, each on its own client's strand; rethrows the
// first failure.
using task = decltype(asio::co_spawn(std::declval<libnet::client::executor_type>(),
                                     std::declval<asio::awaitable<void>>(), asio::deferred));
asio::awaitable<void> run_all(std::vector<task> tasks) {
    auto [order, errors] = co_await asio::experimental::make_parallel_group(std::move(tasks))
                               .async_wait(asio::experimental::wait_for_all(), asio::use_awaitable);
    for (auto const& e : errors)
        if (e)
            std::rethrow_exception(e);
}

asio::awaitable<void> throughput(std::vector<std::unique_ptr<libnet::client>>& clients,
                                 const std::vector<std::string>& ids, const settings& s) {
    std::vector<clock_type::time_point> sent(ids.size());
    std::vector<task> tasks;
    for (std::size_t i = 0; i < ids.size(); ++i) {
        auto& c = *clients[i];
        auto const self = static_cast<std::uint32_t>(i);
        tasks.push_back(
            asio::co_spawn(c.get_executor(), send_all(c, ids, self, s, sent[i]), asio::deferred));
        tasks.push_back(
            asio::co_spawn(c.get_executor(), receive_all(c, ids, i, s), asio::deferred));
    }
    auto const start = clock_type::now();
    co_await run_all(std::move(tasks)); // throws unless every message arrived in order
    std::chrono::duration<double> const elapsed = clock_type::now() - start;
    std::chrono::duration<double> const sending =
        *std::max_element(sent.begin(), sent.end()) - start;
    auto const total = s.clients * s.messages;
    auto const rate = static_cast<double>(total) / elapsed.count();
    std::cout << "throughput: " << total << " messages in " << elapsed.count()
              << " s: " << static_cast<std::uint64_t>(rate) << " msg/s, "
              << rate * static_cast<double>(s.size) / 1e6
              << " MB/s of payload (all sends done after " << sending.count() << " s)" << std::endl;
}

asio::awaitable<void> latency(libnet::client& a, libnet::client& b, const settings& s) {
    std::vector<double> rtt;
    std::vector<task> tasks;
    tasks.push_back(asio::co_spawn(b.get_executor(), echo(b, warmup_round_trips + s.round_trips),
                                   asio::deferred));
    tasks.push_back(asio::co_spawn(a.get_executor(), ping(a, b.id(), s, rtt), asio::deferred));
    co_await run_all(std::move(tasks));
    std::sort(rtt.begin(), rtt.end());
    auto at = [&](double q) {
        return rtt[std::min(rtt.size() - 1, static_cast<std::size_t>(q * rtt.size()))];
    };
    std::cout << "latency: " << rtt.size() << " round trips of " << s.size << " B: p50 " << at(0.5)
              << " us, p90 " << at(0.9) << " us, p99 " << at(0.99) << " us, max " << rtt.back()
              << " us" << std::endl;
}

asio::awaitable<void> run_bench(settings s) {
    auto const ex = co_await asio::this_coro::executor;
    // Ids unique per process, so runs against a shared external server do not collide.
    auto const prefix = "bench" + std::to_string(::getpid()) + "-";
    std::vector<std::string> ids;
    std::vector<std::unique_ptr<libnet::client>> clients;
    std::shared_ptr<asio::ssl::context> tls;
    if (!s.tls_ca.empty()) {
        libnet::tls_files files;
        files.ca = s.tls_ca;
        tls = libnet::make_client_context(files);
    }
    for (std::size_t i = 0; i < s.clients; ++i) {
        libnet::client_options o;
        o.id = prefix + std::to_string(i);
        // Room for the whole window, so the window, not the queue bound, throttles a sender.
        o.max_queue_bytes = std::max(o.max_queue_bytes, s.window * (s.size + 256));
        if (!s.tls_ca.empty())
            o.tls.context = tls;
        ids.push_back(o.id);
        clients.push_back(std::make_unique<libnet::client>(ex, std::move(o)));
        auto [ec] = co_await clients.back()->async_connect(s.host, s.port, use_tuple);
        check(ec, "connect " + ids.back());
    }
    co_await throughput(clients, ids, s);
    co_await latency(*clients[0], *clients[1], s);
    for (auto& c : clients) {
        auto [ec] = co_await c->async_close(use_tuple);
        check(ec, "close " + c->id());
    }
}

libnet::server_options server_options_for(const settings& s) {
    libnet::server_options o;
    // A send completes once written to the server, so nothing but the recipient's reading bounds
    // what the server queues for it. Receivers fall far behind here (one event per receive, W
    // sends in flight per sender): the backlog fills the clients' event queues (max_events), the
    // kernel's socket buffers, then the server's queue. The default 8 MiB held in our runs, but
    // that hangs on socket buffer sizes and scheduling: leave room for all a recipient gets
    // (about M frames), at least the 64 MiB given to the external net-server (--max-queue).
    o.max_queue_bytes = std::max<std::size_t>(64u << 20, s.messages * (s.size + 256));
    o.log = [](libnet::log_level level, std::string_view line) {
        if (level >= libnet::log_level::warn)
            std::cerr << "server: " << line << std::endl;
    };
    return o;
}

} // namespace

int main(int argc, char** argv) {
    settings s;
    try {
        s = parse(argc, argv);
    } catch (const std::exception& e) { // invalid_argument, or stoull's out_of_range
        std::cerr << "route_bench: " << e.what()
                  << "\nusage: route_bench [--clients N] [--messages M] [--window W] [--size B]"
                     " [--round-trips K] [--threads T] [--batch B] [--server HOST:PORT [--tls-ca "
                     "FILE]]\n";
        return 2;
    }
    asio::io_context ioc(static_cast<int>(s.threads));
    std::optional<libnet::server> server; // in-process unless --server was given
    if (s.host.empty()) {
        server.emplace(ioc.get_executor(), server_options_for(s));
        s.host = "127.0.0.1";
        s.port = std::to_string(server->local_endpoint().port());
        server->async_run([](libnet::error_code) {});
    }
    std::cout << "route_bench: " << (server ? "in-process server " : "server ") << s.host << ":"
              << s.port << ", " << s.clients << " clients x " << s.messages << " messages of "
              << s.size << " B, window " << s.window << ", " << s.threads << " thread(s)"
              << std::endl;

    bool failed = false;
    asio::co_spawn(ioc, run_bench(s), [&](std::exception_ptr e) {
        if (server)
            server->stop();
        try {
            if (e)
                std::rethrow_exception(e);
        } catch (const std::exception& x) {
            std::cerr << "route_bench: FAILED: " << x.what() << std::endl;
            failed = true;
        }
    });
    std::vector<std::thread> pool;
    for (std::size_t i = 1; i < s.threads; ++i)
        pool.emplace_back([&ioc] { ioc.run(); });
    ioc.run();
    for (auto& t : pool)
        t.join();
    if (server)
        std::cout << "server stats: " << server->stats() << std::endl;
    return failed ? 1 : 0;
}
