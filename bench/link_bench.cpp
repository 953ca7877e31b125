// SPDX-License-Identifier: BSL-1.0
// link_bench: throughput of a direct link between two libnet clients, against a plain Asio TCP
// stream between the same two ends (--baseline).
//
// The sender (tx) sends a primer (libnet's tx waits for it to be taken: the link is then up and
// synchronised), then N messages of B bytes as fast as its window lets it. The receiver (rx)
// checks that every message comes once and in order (for libnet: over the link, not through the
// server) and times from tx's start, which every body carries, to the last arrival.
//
// Both ends run in this process on one thread (one io_context; libnet also gets an in-process
// server for registration and the introduction) unless --role picks one of them: rx then prints
// "link_bench: ready HOST:PORT" once tx may start, and the result at the end. Processes on one
// machine share its steady clock (CLOCK_MONOTONIC), so tx's stamp is valid in rx.
//
// Exits 1 if a message is missing, out of order or took the wrong route, or anything fails;
// 2 on a usage error.

#include "harness.hpp"

#include <libnet/client.hpp>
#include <libnet/server.hpp>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/deferred.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/experimental/parallel_group.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/endian/conversion.hpp>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <iostream>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <sys/resource.h>
#include <type_traits>
#include <vector>

namespace asio = boost::asio;
using asio::ip::tcp;
using namespace asio::experimental::awaitable_operators;
using clock_type = std::chrono::steady_clock;

namespace {

constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);
// A receive this long without an event fails the run instead of hanging it; the first one may
// wait for tx to start.
constexpr auto idle_limit = std::chrono::seconds(10);
constexpr auto start_limit = std::chrono::seconds(60);
// The body starts with the sequence number (0: the primer) and tx's start time; the rest is
// filler, and its last byte is checked too.
constexpr std::size_t stamp_size = 2 * sizeof(std::uint64_t);
constexpr char filler = 'x';
// The baseline's framing and read size.
constexpr std::size_t length_size = 4;
constexpr std::size_t read_size = 64 * 1024;

struct endpoint {
    std::string host, port;
    bool given() const { return !port.empty(); }
};

struct settings {
    std::size_t size = 64, messages = 1'000'000, window = 1024;
    std::size_t max_events = 0; // rx's client_options::max_events; 0: the library's default
    std::size_t batch = 0;      // libnet: 0 one operation per message, else per B messages
    bool baseline = false;
    bool plain_links = false; // --plain-links: libnet's links without TLS
    std::string role;         // "rx", "tx", or empty: both in this process
    endpoint server, connect; // --server (libnet), --connect (baseline tx)
    std::string listen;       // --listen PORT (baseline rx)
};

endpoint split(std::string_view flag, const std::string& value) {
    auto const colon = value.rfind(':');
    if (colon == std::string::npos || colon == 0 || colon + 1 == value.size())
        throw std::invalid_argument(std::string(flag) + ": expected HOST:PORT, got " + value);
    return {value.substr(0, colon), value.substr(colon + 1)};
}

void validate(const settings& s) {
    if (s.size < stamp_size || s.size > libnet::default_max_frame_size / 2)
        throw std::invalid_argument("--size must be between 16 and 524288");
    if (s.messages < 1 || s.window < 1)
        throw std::invalid_argument("need 1+ messages and a window of 1+");
    if (!s.role.empty() && s.role != "rx" && s.role != "tx")
        throw std::invalid_argument("--role is rx or tx");
    if (s.baseline && s.server.given())
        throw std::invalid_argument("--server is for libnet; --baseline takes --listen/--connect");
    if (!s.baseline && (!s.listen.empty() || s.connect.given()))
        throw std::invalid_argument("--listen and --connect are for --baseline");
    if (!s.baseline && s.server.given() == s.role.empty())
        throw std::invalid_argument("--role and --server go together");
    if (s.baseline &&
        (s.listen.empty() == (s.role == "rx") || s.connect.given() != (s.role == "tx")))
        throw std::invalid_argument("--baseline: --role rx takes --listen, --role tx --connect");
}

settings parse(int argc, char** argv) {
    settings s;
    std::pair<std::string_view, std::size_t*> const numbers[] = {{"--size", &s.size},
                                                                 {"--messages", &s.messages},
                                                                 {"--window", &s.window},
                                                                 {"--max-events", &s.max_events},
                                                                 {"--batch", &s.batch}};
    for (int i = 1; i < argc; ++i) {
        std::string_view const flag = argv[i];
        if (flag == "--baseline") {
            s.baseline = true;
            continue;
        }
        if (flag == "--plain-links") {
            s.plain_links = true;
            continue;
        }
        if (i + 1 == argc)
            throw std::invalid_argument(std::string(flag) + " needs a value");
        std::string const value = argv[++i];
        auto const number = std::find_if(std::begin(numbers), std::end(numbers),
                                         [&](auto const& n) { return n.first == flag; });
        std::size_t used = 0;
        if (number != std::end(numbers)) {
            *number->second = std::stoull(value, &used);
            if (used != value.size())
                throw std::invalid_argument(value + " is not a number");
        } else if (flag == "--role") {
            s.role = value;
        } else if (flag == "--server" || flag == "--connect") {
            (flag == "--server" ? s.server : s.connect) = split(flag, value);
        } else if (flag == "--listen") {
            s.listen = value;
            if (std::stoul(value, &used) > 65535 || used != value.size())
                throw std::invalid_argument("--listen: expected a port, got " + value);
        } else {
            throw std::invalid_argument("unknown option " + std::string(flag));
        }
    }
    validate(s);
    return s;
}

using bench::check;

// Writes the stamp at `at` in `body`: the sequence number and tx's start time.
void stamp(std::string& body, std::size_t at, std::uint64_t seq, clock_type::time_point start) {
    std::int64_t const ns =
        std::chrono::duration_cast<std::chrono::nanoseconds>(start.time_since_epoch()).count();
    std::memcpy(body.data() + at, &seq, sizeof seq);
    std::memcpy(body.data() + at + sizeof seq, &ns, sizeof ns);
}

// The receiving end's checks and clock: message 0 is the primer, 1..N are timed.
class tally {
public:
    explicit tally(const settings& s) : s_(s) {}

    bool done() const { return next_ > s_.messages; }
    std::string progress() const {
        return std::to_string(next_ == 0 ? 0 : next_ - 1) + " of " + std::to_string(s_.messages);
    }

    void arrived(std::string_view body) {
        std::uint64_t seq = 0;
        std::int64_t start_ns = 0;
        if (body.size() != s_.size || body.back() != filler)
            throw std::runtime_error("rx: a body of " + std::to_string(body.size()) +
                                     " B not stamped by tx");
        std::memcpy(&seq, body.data(), sizeof seq);
        std::memcpy(&start_ns, body.data() + sizeof seq, sizeof start_ns);
        if (seq != next_)
            throw std::runtime_error("rx: message " + std::to_string(seq) + " came when " +
                                     std::to_string(next_) + " was due");
        if (seq == 1)
            start_ = clock_type::time_point(std::chrono::duration_cast<clock_type::duration>(
                std::chrono::nanoseconds(start_ns)));
        if (seq == s_.messages)
            end_ = clock_type::now();
        ++next_;
    }

    void report() const {
        std::chrono::duration<double> const elapsed = end_ - start_;
        auto const rate = static_cast<double>(s_.messages) / elapsed.count();
        std::cout << "throughput: " << s_.messages << " messages in " << elapsed.count()
                  << " s: " << static_cast<std::uint64_t>(rate) << " msg/s, "
                  << rate * static_cast<double>(s_.size) / 1e6 << " MB/s of payload" << std::endl;
    }

private:
    const settings& s_;
    std::uint64_t next_ = 0;
    clock_type::time_point start_, end_;
};

void report_sent(const settings& s, clock_type::duration took) {
    std::cout << "tx: " << s.messages << " sends completed in "
              << std::chrono::duration<double>(took).count() << " s" << std::endl;
}

// Runs every task to completion concurrently; rethrows the first failure.
using task = decltype(asio::co_spawn(std::declval<asio::any_io_executor>(),
                                     std::declval<asio::awaitable<void>>(), asio::deferred));
asio::awaitable<void> run_all(std::vector<task> tasks) {
    auto [order, errors] = co_await asio::experimental::make_parallel_group(std::move(tasks))
                               .async_wait(asio::experimental::wait_for_all(), asio::use_awaitable);
    for (auto const& e : errors)
        if (e)
            std::rethrow_exception(e);
}

// --- libnet --------------------------------------------------------------------------------

// Keeps up to `window` sends in flight, as route_bench does: each completion (on the client's
// strand, like this coroutine) frees a slot and wakes the loop.
asio::awaitable<void> libnet_send(libnet::client& c, std::string peer, const settings& s) {
    auto [lec] = co_await c.async_connect_peer(peer, use_tuple);
    check(lec, "tx: connect to peer " + peer);
    std::string body(s.size, filler);
    stamp(body, 0, 0, {});
    // A direct send completes once the link is up and synchronised (docs/protocol.md §15).
    auto [pec] = co_await c.async_send(peer, body, libnet::route::direct, use_tuple);
    check(pec, "tx: primer");
    asio::steady_timer slot(c.get_executor(), clock_type::time_point::max());
    std::size_t in_flight = 0;
    libnet::error_code failed;
    auto done = [&](libnet::error_code ec) {
        --in_flight;
        if (ec && !failed)
            failed = ec;
        slot.cancel();
    };
    auto const start = clock_type::now();
    if (s.batch != 0) { // async_send_batch: one operation per `batch` messages
        std::vector<std::string> bodies;
        for (std::uint64_t k = 1; k <= s.messages;) {
            bodies.clear();
            for (; bodies.size() < s.batch && k <= s.messages; ++k) {
                stamp(body, 0, k, start);
                bodies.push_back(body);
            }
            auto [ec] = co_await c.async_send_batch(peer, std::move(bodies), libnet::route::direct,
                                                    use_tuple);
            check(ec, "tx: send");
        }
        report_sent(s, clock_type::now() - start);
        co_return;
    }
    for (std::uint64_t k = 1; k <= s.messages && !failed; ++k) {
        if (s.window == 1) { // one at a time, as most applications write it
            stamp(body, 0, k, start);
            auto [ec] = co_await c.async_send(peer, body, libnet::route::direct, use_tuple);
            check(ec, "tx: send");
            continue;
        }
        while (in_flight == s.window)
            co_await slot.async_wait(use_tuple);
        stamp(body, 0, k, start);
        ++in_flight;
        c.async_send(peer, body, libnet::route::direct, done);
    }
    while (in_flight != 0) // `done` refers to this frame: outlive every send
        co_await slot.async_wait(use_tuple);
    check(failed, "tx: send");
    report_sent(s, clock_type::now() - start);
}

void check_event(const libnet::event& ev, const std::string& peer, tally& t) {
    if (auto* m = std::get_if<libnet::message>(&ev)) {
        if (m->from != peer)
            throw std::runtime_error("rx: a message from " + m->from);
        if (m->via != libnet::route::direct)
            throw std::runtime_error("rx: a message came through the server, with " + t.progress() +
                                     " in over the link");
        t.arrived(m->body);
    } else if (auto* e = std::get_if<libnet::server_error>(&ev)) {
        check(e->code, "rx: server error");
    } // link_up, link_down (tx leaving), peer_joined, peer_left: nothing to check
}

asio::awaitable<void> libnet_receive(libnet::client& c, std::string peer, tally& t,
                                     std::size_t batch) {
    auto limit = clock_type::duration(start_limit);
    while (!t.done()) {
        if (batch != 0) { // async_receive_batch: whatever is queued, at once
            auto [ec, events] = co_await c.async_receive_batch(batch * 4, use_tuple);
            check(ec, [&] { return "rx: receive, with " + t.progress() + " messages in"; });
            for (auto const& ev : events)
                check_event(ev, peer, t);
            continue;
        }
        auto [ec, ev] = co_await c.async_receive(limit, use_tuple);
        check(ec, [&] { return "rx: receive, with " + t.progress() + " messages in"; });
        limit = idle_limit;
        check_event(ev, peer, t);
    }
}

// rx listens; --max-events bounds its event queue (a link pauses reading while it is full).
asio::awaitable<std::unique_ptr<libnet::client>> join(std::string id, const settings& s) {
    auto const ex = co_await asio::this_coro::executor;
    libnet::client_options o;
    o.encrypt_links = !s.plain_links;
    o.id = id;
    if (id == "rx") {
        o.listen = "127.0.0.1:0";
        if (s.max_events != 0)
            o.max_events = s.max_events;
    }
    auto c = std::make_unique<libnet::client>(ex, std::move(o));
    auto [ec] = co_await c->async_connect(s.server.host, s.server.port, use_tuple);
    check(ec, "connect " + id);
    co_return c;
}

asio::awaitable<void> leave(std::unique_ptr<libnet::client>& c) {
    if (!c)
        co_return;
    auto [ec] = co_await c->async_close(use_tuple);
    check(ec, "close " + c->id());
}

// rx and tx, or the one --role picks.
asio::awaitable<void> libnet_bench(settings s) {
    std::unique_ptr<libnet::client> rx, tx;
    if (s.role != "tx")
        rx = co_await join("rx", s);
    if (s.role == "rx")
        std::cout << "link_bench: ready " << rx->listen_endpoint() << std::endl;
    if (s.role != "rx")
        tx = co_await join("tx", s);
    tally t(s);
    std::vector<task> tasks;
    if (rx)
        tasks.push_back(asio::co_spawn(rx->get_executor(), libnet_receive(*rx, "tx", t, s.batch),
                                       asio::deferred));
    if (tx)
        tasks.push_back(
            asio::co_spawn(tx->get_executor(), libnet_send(*tx, "rx", s), asio::deferred));
    co_await run_all(std::move(tasks));
    if (rx)
        t.report();
    co_await leave(tx); // its BYE follows the messages over the link
    co_await leave(rx);
}

// --- the baseline: plain Asio --------------------------------------------------------------

// Frames (4-byte big-endian length + payload) are built into one allocation each, as libnet
// encodes a message, and queued in order; a writer drains the whole queue in one gather
// write, one write in flight. The producer waits while `window` frames wait for the writer.
class plain_sender {
public:
    plain_sender(tcp::socket& socket, const settings& s)
        : socket_(socket), s_(s), wake_(socket.get_executor(), clock_type::time_point::max()),
          room_(socket.get_executor(), clock_type::time_point::max()) {}

    asio::awaitable<void> run() {
        co_await (produce() && write_loop());
        check(failed_, "tx: write");
    }

private:
    asio::awaitable<void> produce() {
        clock_type::time_point start;
        for (std::uint64_t k = 0; k <= s_.messages && !failed_; ++k) {
            while (queue_.size() >= s_.window && !failed_)
                co_await room_.async_wait(use_tuple);
            if (k == 1)
                start = clock_type::now();
            std::string frame(length_size + s_.size, filler);
            boost::endian::store_big_u32(reinterpret_cast<unsigned char*>(frame.data()),
                                         static_cast<std::uint32_t>(s_.size));
            stamp(frame, length_size, k, start);
            queue_.push_back(std::move(frame));
            if (writer_idle_) {
                writer_idle_ = false;
                wake_.cancel();
            }
        }
        producing_ = false;
        wake_.cancel();
        if (!failed_)
            report_sent(s_, clock_type::now() - start);
    }

    asio::awaitable<void> write_loop() {
        std::vector<std::string> batch;
        std::vector<asio::const_buffer> buffers;
        while (!failed_) {
            if (queue_.empty()) {
                if (!producing_)
                    break;
                writer_idle_ = true;
                co_await wake_.async_wait(use_tuple);
                continue;
            }
            batch.swap(queue_);
            room_.cancel(); // the producer refills while this batch is written
            buffers.clear();
            for (auto const& f : batch)
                buffers.push_back(asio::buffer(f));
            auto [ec, n] = co_await asio::async_write(socket_, buffers, use_tuple);
            batch.clear();
            if (ec) {
                failed_ = ec;
                room_.cancel();
            }
        }
        boost::system::error_code ignored;
        socket_.shutdown(tcp::socket::shutdown_send, ignored);
    }

    tcp::socket& socket_;
    const settings& s_;
    asio::steady_timer wake_, room_;
    std::vector<std::string> queue_;
    bool writer_idle_ = false;
    bool producing_ = true;
    libnet::error_code failed_;
};

// Parses every frame in place: the length is checked before the frame is waited for.
asio::awaitable<void> plain_receive(tcp::socket& socket, tally& t, std::size_t size) {
    std::vector<char> buf(read_size + length_size + size);
    std::size_t begin = 0, end = 0;
    while (!t.done()) {
        while (end - begin >= length_size && !t.done()) {
            auto const len = boost::endian::load_big_u32(
                reinterpret_cast<const unsigned char*>(buf.data() + begin));
            if (len != size)
                throw std::runtime_error("rx: a frame of " + std::to_string(len) + " B");
            if (end - begin - length_size < len)
                break;
            t.arrived(std::string_view(buf.data() + begin + length_size, len));
            begin += length_size + len;
        }
        if (t.done())
            break;
        std::memmove(buf.data(), buf.data() + begin, end - begin);
        end -= begin;
        begin = 0;
        auto [ec, n] = co_await socket.async_read_some(
            asio::buffer(buf.data() + end, buf.size() - end), use_tuple);
        if (ec)
            throw std::runtime_error("rx: read, with " + t.progress() +
                                     " messages in: " + ec.message());
        end += n;
    }
}

asio::awaitable<void> plain_bench(settings s) {
    auto const ex = co_await asio::this_coro::executor;
    tcp::socket rx(ex), tx(ex);
    tcp::acceptor acceptor(ex);
    if (s.role != "tx") {
        auto const port = static_cast<std::uint16_t>(s.listen.empty() ? 0 : std::stoul(s.listen));
        tcp::endpoint const local(asio::ip::make_address("127.0.0.1"), port);
        acceptor = tcp::acceptor(ex, local);
    }
    if (s.role == "rx")
        std::cout << "link_bench: ready " << acceptor.local_endpoint() << std::endl;
    if (s.role.empty())
        s.connect = {"127.0.0.1", std::to_string(acceptor.local_endpoint().port())};
    if (s.role != "rx") {
        tcp::resolver resolver(ex);
        auto const endpoints =
            co_await resolver.async_resolve(s.connect.host, s.connect.port, asio::use_awaitable);
        co_await asio::async_connect(tx, endpoints, asio::use_awaitable);
        tx.set_option(tcp::no_delay(true)); // as libnet's connections
    }
    if (s.role != "tx") {
        co_await acceptor.async_accept(rx, asio::use_awaitable);
        rx.set_option(tcp::no_delay(true));
    }
    tally t(s);
    plain_sender sender(tx, s);
    std::vector<task> tasks;
    if (rx.is_open())
        tasks.push_back(asio::co_spawn(ex, plain_receive(rx, t, s.size), asio::deferred));
    if (tx.is_open())
        tasks.push_back(asio::co_spawn(ex, sender.run(), asio::deferred));
    co_await run_all(std::move(tasks));
    if (rx.is_open())
        t.report();
}

std::string describe(const settings& s) {
    std::string d = s.baseline ? "plain Asio TCP (baseline), " : "libnet direct link, ";
    d += s.role.empty() ? "rx and tx in one process" : s.role + " process";
    if (!s.baseline)
        d += ", server " + s.server.host + ":" + s.server.port;
    return d + ", " + std::to_string(s.messages) + " messages of " + std::to_string(s.size) +
           " B, window " + std::to_string(s.window);
}

void report_cpu() {
    rusage u{};
    ::getrusage(RUSAGE_SELF, &u);
    auto seconds = [](const timeval& tv) {
        return tv.tv_sec + tv.tv_usec / 1e6;
    };
    std::cout << "cpu: " << seconds(u.ru_utime) << " s user, " << seconds(u.ru_stime)
              << " s system (this process)" << std::endl;
}

} // namespace

int main(int argc, char** argv) {
    settings s;
    try {
        s = parse(argc, argv);
    } catch (const std::exception& e) { // invalid_argument, or stoull's out_of_range
        std::cerr << "link_bench: " << e.what()
                  << "\nusage: link_bench [--size B] [--messages N] [--window W]"
                     " [--max-events E] [--batch B] [--role rx|tx --server HOST:PORT]\n"
                     "       link_bench --baseline [--size B] [--messages N] [--window W]"
                     " [--role rx --listen PORT | --role tx --connect HOST:PORT]\n";
        return 2;
    }
    asio::io_context ioc(1);
    std::optional<libnet::server> server; // libnet in one process: an in-process server
    if (!s.baseline && s.role.empty()) {
        libnet::server_options o;
        o.log = [](libnet::log_level level, std::string_view line) {
            if (level >= libnet::log_level::warn)
                std::cerr << "server: " << line << std::endl;
        };
        server.emplace(ioc.get_executor(), std::move(o));
        s.server = {"127.0.0.1", std::to_string(server->local_endpoint().port())};
        server->async_run([](libnet::error_code) {});
    }
    std::cout << "link_bench: " << describe(s) << std::endl;

    bool failed = false;
    auto bench = s.baseline ? plain_bench(s) : libnet_bench(s);
    asio::co_spawn(ioc, std::move(bench), [&](std::exception_ptr e) {
        if (server)
            server->stop();
        try {
            if (e)
                std::rethrow_exception(e);
        } catch (const std::exception& x) {
            std::cerr << "link_bench: FAILED: " << x.what() << std::endl;
            failed = true;
        }
    });
    ioc.run();
    report_cpu();
    return failed ? 1 : 0;
}
