// SPDX-License-Identifier: BSL-1.0
// store_bench: mailboxes and the message store, against an in-process server that runs on an
// io_context thread (or several) of its own, while the clients run on the main thread.
//
// 1. Confirmed sends: S senders each keep W async_send_confirmed in flight to an offline id
//    with a mailbox, for a fixed time, with synchronous=FULL, NORMAL and the memory store.
//    Every receipt must say "durable" (not, for memory). Reports confirmed messages/s and
//    the latency from each send's start to its receipt. A fresh database for each case.
// 2. Login replay: the offline id's mailbox is filled with M messages (batches, then one
//    confirmed send), the server is replaced by a new one on the same database (the restart
//    is timed: open with integrity check, then load), and the recipient logs in and receives
//    all M, checking their order. The memory store replays without a restart.
//
// Exits 1 if anything fails or a message is missing or out of order; 2 on a usage error.

#include "harness.hpp"

#include <libnet/client.hpp>
#include <libnet/server.hpp>
#include <libnet/store.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/deferred.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <iomanip>
#include <iostream>
#include <limits>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace asio = boost::asio;
using clock_type = std::chrono::steady_clock;
using seconds_d = std::chrono::duration<double>;

namespace {

using namespace bench;
constexpr std::size_t batch = 1024; // bodies per async_send_batch, events per receive
constexpr std::string_view recipient = "inbox";

enum class store_kind { full, normal, memory };
constexpr std::string_view store_names[] = {"full", "normal", "memory"};
// One sender one at a time, one sender with a window, many senders with a window; replay.
enum class case_kind { serial, window, senders, replay };
constexpr std::string_view case_names[] = {"serial", "window", "senders", "replay"};

struct settings {
    std::size_t seconds = 2, window = 64, senders = 16, replay = 100'000, size = 64, threads = 1,
                group_us = 0; // sqlite_store_options::group_window
    std::vector<store_kind> stores{store_kind::full, store_kind::normal, store_kind::memory};
    std::vector<case_kind> cases{case_kind::serial, case_kind::window, case_kind::senders,
                                 case_kind::replay};
    std::string dir = std::filesystem::temp_directory_path().string();

    bool has(case_kind c) const { return std::find(cases.begin(), cases.end(), c) != cases.end(); }
};

// A comma-separated list of names, each one of `names`, as their enumerators.
template <class Enum, std::size_t N>
std::vector<Enum> parse_list(std::string_view flag, const std::string& list,
                             const std::string_view (&names)[N]) {
    std::vector<Enum> out;
    for (std::size_t at = 0; at <= list.size();) {
        auto const comma = std::min(list.find(',', at), list.size());
        auto const name = std::string_view(list).substr(at, comma - at);
        auto const it = std::find(std::begin(names), std::end(names), name);
        if (it == std::end(names))
            throw std::invalid_argument(std::string(flag) + ": unknown " + std::string(name));
        out.push_back(static_cast<Enum>(it - std::begin(names)));
        at = comma + 1;
    }
    return out;
}

settings parse(int argc, char** argv) {
    settings s;
    std::pair<std::string_view, std::size_t*> const numbers[] = {
        {"--seconds", &s.seconds},         {"--window", &s.window}, {"--senders", &s.senders},
        {"--replay", &s.replay},           {"--size", &s.size},     {"--threads", &s.threads},
        {"--group-window-us", &s.group_us}};
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
        if (flag == "--sync")
            s.stores = parse_list<store_kind>(flag, value, store_names);
        else if (flag == "--cases")
            s.cases = parse_list<case_kind>(flag, value, case_names);
        else if (flag == "--dir")
            s.dir = value;
        else if (number == std::end(numbers))
            throw std::invalid_argument("unknown option " + std::string(flag));
    }
    if (s.seconds < 1 || s.window < 1 || s.senders < 1 || s.replay < 1 || s.threads < 1 ||
        s.threads > 64)
        throw std::invalid_argument("need 1+ seconds, a window, senders, messages, 1-64 threads");
    if (s.size < 12 || s.size > libnet::default_max_frame_size / 2)
        throw std::invalid_argument("--size must be between 12 and 524288");
    return s;
}

std::string label(store_kind k) {
    return k == store_kind::full     ? "sqlite FULL"
           : k == store_kind::normal ? "sqlite NORMAL"
                                     : "memory";
}

std::string sender_id(std::size_t i) {
    return "sender-" + std::to_string(i);
}

// The body starts with the sender's sequence number and index.
std::string make_body(std::size_t size, std::uint32_t sender, std::uint64_t k) {
    std::string body(size, 'x');
    std::memcpy(body.data(), &k, sizeof k);
    std::memcpy(body.data() + sizeof k, &sender, sizeof sender);
    return body;
}

std::shared_ptr<libnet::message_store> make_store(const settings& s, store_kind kind,
                                                  const std::string& path) {
    if (kind == store_kind::memory)
        return libnet::make_memory_store();
    libnet::sqlite_store_options o;
    o.path = path;
    o.full_sync = kind == store_kind::full;
    o.group_window = std::chrono::microseconds(s.group_us);
    return libnet::make_sqlite_store(std::move(o));
}

libnet::server_options server_options_for(std::shared_ptr<libnet::message_store> store,
                                          std::size_t senders) {
    libnet::server_options o;
    o.store = std::move(store);
    o.allow_ids.emplace(recipient); // an id on the allow list has a mailbox from the start
    for (std::size_t i = 0; i < senders; ++i)
        o.allow_ids.insert(sender_id(i));
    o.mailbox_max_messages = std::numeric_limits<std::size_t>::max() / 2; // no quota
    o.mailbox_max_bytes = std::numeric_limits<std::size_t>::max() / 2;
    o.log = [](libnet::log_level level, std::string_view line) {
        if (level >= libnet::log_level::warn)
            std::cerr << "server: " << line << std::endl;
    };
    return o;
}

// Keeps up to `window` confirmed sends in flight until `deadline`. Each completion (a
// callback on the client's strand, like this coroutine) records its latency, frees a slot and
// wakes the loop.
asio::awaitable<void> send_confirmed(libnet::client& c, std::uint32_t self, bool durable,
                                     const settings& s, std::size_t window,
                                     clock_type::time_point deadline, std::vector<double>& us) {
    asio::steady_timer slot(c.get_executor(), clock_type::time_point::max());
    std::size_t in_flight = 0;
    std::string failed;
    auto done = [&](clock_type::time_point start, libnet::error_code ec, libnet::receipt r) {
        --in_flight;
        us.push_back(std::chrono::duration<double, std::micro>(clock_type::now() - start).count());
        if (failed.empty() && ec)
            failed = "confirmed send: " + ec.message();
        else if (failed.empty() && (r.durable != durable || r.offline != 1))
            failed = "a receipt with durable=" + std::to_string(r.durable) +
                     " offline=" + std::to_string(r.offline);
        slot.cancel();
    };
    for (std::uint64_t k = 0;; ++k) {
        while (in_flight == window)
            co_await slot.async_wait(use_tuple);
        if (!failed.empty() || clock_type::now() >= deadline)
            break;
        ++in_flight;
        c.async_send_confirmed(
            std::string(recipient), make_body(s.size, self, k),
            [&done, start = clock_type::now()](libnet::error_code ec, libnet::receipt r) {
                done(start, ec, std::move(r));
            });
    }
    while (in_flight != 0) // `done` refers to this frame: outlive every send
        co_await slot.async_wait(use_tuple);
    if (!failed.empty())
        throw std::runtime_error(c.id() + ": " + failed);
}

asio::awaitable<void> confirmed_case(const settings& s, store_kind kind, std::size_t senders,
                                     std::size_t window) {
    temp_db db(s.dir, "store_bench");
    hosted_server server(server_options_for(make_store(s, kind, db.path()), senders), s.threads);
    std::vector<std::unique_ptr<libnet::client>> clients;
    for (std::size_t i = 0; i < senders; ++i)
        clients.push_back(co_await connect(sender_id(i), server.port()));
    std::vector<std::vector<double>> us(senders);
    std::vector<task> tasks;
    auto const start = clock_type::now();
    auto const deadline = start + std::chrono::seconds(s.seconds);
    for (std::size_t i = 0; i < senders; ++i)
        tasks.push_back(
            asio::co_spawn(clients[i]->get_executor(),
                           send_confirmed(*clients[i], static_cast<std::uint32_t>(i),
                                          kind != store_kind::memory, s, window, deadline, us[i]),
                           asio::deferred));
    co_await run_all(std::move(tasks));
    seconds_d const elapsed = clock_type::now() - start;
    for (auto& c : clients)
        co_await close(*c);
    std::vector<double> all;
    for (auto const& v : us)
        all.insert(all.end(), v.begin(), v.end());
    std::sort(all.begin(), all.end());
    auto const st = server.stats();
    if (st.stored != all.size() || st.stored_offline != all.size() || st.store_failures != 0)
        throw std::runtime_error("server stats disagree: " + std::to_string(all.size()) +
                                 " confirmed, stats " + to_string(st));
    auto at = [&](double q) {
        return all[std::min(all.size() - 1, static_cast<std::size_t>(q * all.size()))] / 1000;
    };
    std::cout << label(kind) << " senders=" << senders << " window=" << window << ": "
              << static_cast<std::uint64_t>(all.size() / elapsed.count()) << " msg/s, p50 "
              << at(0.5) << " ms, p99 " << at(0.99) << " ms (" << all.size() << " confirmed in "
              << elapsed.count() << " s)" << std::endl;
}

asio::awaitable<void> send_batches(libnet::client& c, std::uint64_t n, std::size_t size) {
    for (std::uint64_t k = 0; k < n;) {
        std::vector<std::string> bodies;
        for (; k < n && bodies.size() < batch; ++k)
            bodies.push_back(make_body(size, 0, k));
        auto [ec] = co_await c.async_send_batch(std::string(recipient), std::move(bodies),
                                                libnet::route::server, use_tuple);
        check(ec, "prefill: send batch");
    }
}

// Fills the recipient's mailbox with s.replay messages: batches, whose `stored` events must
// be taken (or the client's event queue fills up), then one confirmed send, committed after
// all of them. Returns the time it took.
asio::awaitable<seconds_d> prefill(const settings& s, bool durable, std::string port) {
    auto c = co_await connect(sender_id(0), port);
    auto const start = clock_type::now();
    auto const n = s.replay - 1;
    std::vector<task> tasks;
    tasks.push_back(asio::co_spawn(c->get_executor(), send_batches(*c, n, s.size), asio::deferred));
    auto stored = [](libnet::event& ev) {
        auto* st = std::get_if<libnet::stored>(&ev);
        if (st && st->offline != 1)
            throw std::runtime_error("prefill: stored for " + std::to_string(st->offline));
        return st != nullptr;
    };
    tasks.push_back(
        asio::co_spawn(c->get_executor(), receive_n(*c, n, batch, stored), asio::deferred));
    co_await run_all(std::move(tasks));
    auto [ec, r] = co_await c->async_send_confirmed(std::string(recipient), make_body(s.size, 0, n),
                                                    use_tuple);
    check(ec, "prefill: confirmed send");
    if (r.durable != durable)
        throw std::runtime_error("prefill: durable=" + std::to_string(r.durable));
    seconds_d const elapsed = clock_type::now() - start;
    co_await close(*c);
    co_return elapsed;
}

// Replaces the server by a new one on the same database; says how long that took.
std::string restart(std::optional<hosted_server>& server, std::weak_ptr<libnet::message_store> old,
                    const settings& s, store_kind kind, const std::string& path) {
    server.reset();
    if (!old.expired())
        throw std::runtime_error("the stopped server still holds its store");
    auto const t0 = clock_type::now();
    auto store = make_store(s, kind, path);
    auto const t1 = clock_type::now();
    server.emplace(server_options_for(std::move(store), 1), s.threads);
    std::chrono::duration<double, std::milli> const open = t1 - t0, load = clock_type::now() - t1;
    std::ostringstream out;
    out << std::setprecision(3) << "; restart: open+check " << open.count() << " ms, load "
        << load.count() << " ms";
    return out.str();
}

// Counts the mailbox messages among events, checking they come in the order prefill sent them.
struct in_order {
    std::uint64_t next = 0;
    bool operator()(libnet::event& ev) {
        auto* m = std::get_if<libnet::message>(&ev);
        if (!m)
            return false;
        std::uint64_t k = ~std::uint64_t{0};
        if (m->body.size() >= sizeof k)
            std::memcpy(&k, m->body.data(), sizeof k);
        if (!m->mailbox || m->from != sender_id(0) || k != next || m->seq != next + 1)
            throw std::runtime_error("replay: message " + std::to_string(next) + " due, body " +
                                     std::to_string(k) + " seq " + std::to_string(m->seq) +
                                     " came");
        ++next;
        return true;
    }
};

asio::awaitable<void> replay_case(const settings& s, store_kind kind) {
    temp_db db(s.dir, "store_bench");
    std::optional<hosted_server> server;
    auto store = make_store(s, kind, db.path());
    std::weak_ptr<libnet::message_store> const first = store;
    server.emplace(server_options_for(std::move(store), 1), s.threads);
    auto const filled = co_await prefill(s, kind != store_kind::memory, server->port());
    std::string restarted;
    if (kind != store_kind::memory)
        restarted = restart(server, first, s, kind, db.path());
    auto const start = clock_type::now();
    auto inbox = co_await connect(std::string(recipient), server->port());
    co_await receive_n(*inbox, s.replay, batch, in_order());
    seconds_d const elapsed = clock_type::now() - start;
    co_await close(*inbox); // acknowledges everything
    auto const st = server->stats();
    if (st.acked != s.replay || st.pending != 0)
        throw std::runtime_error("replay: stats after the close: " + to_string(st));
    std::cout << label(kind) << " replay: " << s.replay << " messages in " << elapsed.count()
              << " s: " << static_cast<std::uint64_t>(s.replay / elapsed.count())
              << " msg/s (prefill " << filled.count() << " s, "
              << static_cast<std::uint64_t>(s.replay / filled.count()) << " msg/s" << restarted
              << ")" << std::endl;
}

// fdatasync's latency bounds the commits of synchronous=FULL, and it varies with what else
// the machine's disk is doing: measured before the cases, to read their figures against.
void report_disk(const settings& s) {
    auto const us = probe_fdatasync(s.dir, 200);
    double sum = 0;
    for (auto v : us)
        sum += v;
    auto const mean = sum / static_cast<double>(us.size());
    std::cout << "disk: 4 KiB append + fdatasync in " << s.dir << ": p50 "
              << us[us.size() / 2] / 1000 << " ms, p99 " << us[us.size() * 99 / 100] / 1000
              << " ms, mean " << mean / 1000 << " ms (" << static_cast<std::uint64_t>(1e6 / mean)
              << "/s)" << std::endl;
}

asio::awaitable<void> run_cases(settings s) {
    if (std::find(s.stores.begin(), s.stores.end(), store_kind::full) != s.stores.end())
        report_disk(s);
    for (auto kind : s.stores) {
        if (s.has(case_kind::serial))
            co_await confirmed_case(s, kind, 1, 1);
        if (s.has(case_kind::window))
            co_await confirmed_case(s, kind, 1, s.window);
        if (s.has(case_kind::senders))
            co_await confirmed_case(s, kind, s.senders, s.window);
    }
    if (s.has(case_kind::replay))
        for (auto kind : s.stores)
            co_await replay_case(s, kind);
}

} // namespace

int main(int argc, char** argv) {
    settings s;
    try {
        s = parse(argc, argv);
    } catch (const std::exception& e) { // invalid_argument, or stoull's out_of_range
        std::cerr << "store_bench: " << e.what()
                  << "\nusage: store_bench [--seconds S] [--window W] [--senders N] [--replay M]"
                     " [--size B] [--threads T] [--group-window-us U] [--sync full,normal,memory]"
                     " [--cases serial,window,senders,replay] [--dir DIR]\n";
        return 2;
    }
    std::cout << "store_bench: " << s.size << " B bodies, " << s.seconds
              << " s per confirmed case, window " << s.window << ", " << s.senders
              << " senders, replay " << s.replay << ", databases in " << s.dir << ", " << s.threads
              << " server thread(s), group window " << s.group_us << " us" << std::endl;
    std::cout << std::setprecision(3);
    asio::io_context ioc(1);
    bool failed = false;
    asio::co_spawn(ioc, run_cases(s), [&](std::exception_ptr e) {
        try {
            if (e)
                std::rethrow_exception(e);
        } catch (const std::exception& x) {
            std::cerr << "store_bench: FAILED: " << x.what() << std::endl;
            failed = true;
        }
    });
    ioc.run();
    return failed ? 1 : 0;
}
