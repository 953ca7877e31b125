// SPDX-License-Identifier: BSL-1.0
// libFuzzer target for whole sessions: a real server (or client) on loopback, driven by
// a script taken from the fuzzer's bytes, with invariants checked after every run.
//
// Input: [mode] then records [op][len][len bytes], at most 64.
//   mode even: server. Two raw connections get the bytes of ops 0 and 1; op 2 has the
//     well-behaved client "a" send the bytes to "fz" (so frames flow back to the raw
//     connections); op 3 lets time pass (len % 8 ms).
//   mode odd: client. A fake server accepts a libnet::client, then writes the bytes of
//     ops 0 and 1 to it as its answer; ops 2 and 3 let time pass.
// Invariants: no crash, leak or hang (every run ends within its deadlines); every byte
// the library sends is a well-formed frame within the limit; the server still registers
// a new client afterwards, whose directory has no duplicate and lists "a"; the server
// and the client stop in bounded time.
#include <libnet/client.hpp>
#include <libnet/codec.hpp>
#include <libnet/detail/frame_reader.hpp>
#include <libnet/server.hpp>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <set>
#include <span>
#include <string>
#include <vector>

namespace asio = boost::asio;
using asio::ip::tcp;
using namespace std::chrono_literals;
using namespace asio::experimental::awaitable_operators;

#define FUZZ_CHECK(cond) ((cond) ? void() : fail(#cond, __LINE__))

namespace {

constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);
constexpr std::uint32_t max_frame = 4096;

[[noreturn]] void fail(const char* what, int line) {
    std::fprintf(stderr, "fuzz_session: invariant broken at line %d: %s\n", line, what);
    std::abort();
}

struct step {
    std::uint8_t op;
    std::vector<std::uint8_t> bytes;
};

std::vector<step> script(std::span<const std::uint8_t> in) {
    std::vector<step> out;
    while (in.size() >= 2 && out.size() < 64) {
        auto const op = static_cast<std::uint8_t>(in[0] % 4);
        std::size_t const n = std::min<std::size_t>(in[1], in.size() - 2);
        out.push_back({op, {in.begin() + 2, in.begin() + 2 + static_cast<std::ptrdiff_t>(n)}});
        in = in.subspan(2 + n);
    }
    return out;
}

// Everything one side of a socket receives, until it closes.
asio::awaitable<void> collect(std::shared_ptr<tcp::socket> s,
                              std::shared_ptr<std::vector<std::uint8_t>> into) {
    std::uint8_t buf[4096];
    for (;;) {
        auto [ec, n] = co_await s->async_read_some(asio::buffer(buf), use_tuple);
        if (ec)
            co_return;
        into->insert(into->end(), buf, buf + n);
    }
}

// The library only ever writes whole, well-formed frames within `limit`.
void check_frames(const std::vector<std::uint8_t>& bytes, std::uint32_t limit) {
    std::span<const std::uint8_t> rest(bytes);
    while (!rest.empty()) {
        auto const r = libnet::decode_frame(rest, limit);
        if (r.status == libnet::decode_status::need_more)
            return; // cut by a close mid-write
        FUZZ_CHECK(r.status == libnet::decode_status::ok);
        rest = rest.subspan(r.consumed);
    }
}

asio::awaitable<void> pause(std::chrono::milliseconds d) {
    asio::steady_timer t(co_await asio::this_coro::executor, d);
    co_await t.async_wait(use_tuple);
}

asio::awaitable<void> drive_server(const std::vector<step>& steps) {
    auto ex = co_await asio::this_coro::executor;
    libnet::server_options o;
    o.max_frame = max_frame;
    o.allow_ids = {"a", "fz", "fz2", "probe"}; // mailboxes, so ACK and GET do something
    o.hello_timeout = 300ms;
    o.frame_timeout = std::chrono::seconds(1);
    o.close_timeout = 50ms;
    o.auth_failure_delay = 5ms;
    o.allow_client_term = false; // a TERM would stop it: the probe must still get in
    libnet::server srv(ex, o);
    auto done = std::make_shared<bool>(false);
    srv.async_run([done](libnet::error_code) { *done = true; });
    auto const port = std::to_string(srv.local_endpoint().port());

    libnet::client_options co;
    co.id = "a";
    co.close_timeout = 100ms;
    libnet::client a(ex, co);
    auto [aec] = co_await a.async_connect("127.0.0.1", port, use_tuple);
    FUZZ_CHECK(!aec);

    std::shared_ptr<tcp::socket> raw[2];
    std::shared_ptr<std::vector<std::uint8_t>> got[2];
    for (int i = 0; i < 2; ++i) {
        raw[i] = std::make_shared<tcp::socket>(ex);
        got[i] = std::make_shared<std::vector<std::uint8_t>>();
        auto [ec] = co_await raw[i]->async_connect(srv.local_endpoint(), use_tuple);
        FUZZ_CHECK(!ec);
        asio::co_spawn(ex, collect(raw[i], got[i]), asio::detached);
    }
    for (auto const& s : steps) {
        if (s.op < 2) {
            auto [ec, n] = co_await asio::async_write(*raw[s.op], asio::buffer(s.bytes), use_tuple);
            (void)ec; // the server may have closed it: that is its right
            (void)n;
        } else if (s.op == 2) {
            auto [ec] =
                co_await a.async_send("fz", std::string(s.bytes.begin(), s.bytes.end()), use_tuple);
            (void)ec;
        } else {
            co_await pause(std::chrono::milliseconds(s.bytes.size() % 8));
        }
    }
    for (auto& r : raw) {
        boost::system::error_code ignored;
        r->shutdown(tcp::socket::shutdown_both, ignored);
        r->close(ignored);
    }

    // The server still works: a new client registers and sees a sane directory.
    libnet::client_options po;
    po.id = "probe";
    po.close_timeout = 100ms;
    po.connect_timeout = 2000ms;
    libnet::client probe(ex, po);
    auto [pec] = co_await probe.async_connect("127.0.0.1", port, use_tuple);
    FUZZ_CHECK(!pec);
    std::set<std::string> ids;
    bool has_a = false;
    for (auto const& p : probe.directory()) {
        FUZZ_CHECK(ids.insert(p.id).second);
        has_a = has_a || p.id == "a";
    }
    FUZZ_CHECK(has_a);
    co_await probe.async_close(use_tuple);
    co_await a.async_close(use_tuple);
    srv.stop();
    for (int i = 0; i < 200 && !*done; ++i)
        co_await pause(10ms);
    FUZZ_CHECK(*done); // stopped within 2 s
    for (auto const& g : got)
        check_frames(*g, libnet::default_max_frame_size);
}

asio::awaitable<void> drive_client(const std::vector<step>& steps) {
    auto ex = co_await asio::this_coro::executor;
    tcp::acceptor acceptor(ex, {asio::ip::make_address("127.0.0.1"), 0});
    libnet::client_options co;
    co.id = "c";
    co.max_frame = max_frame;
    co.connect_timeout = 300ms;
    co.close_timeout = 100ms;
    auto c = std::make_shared<libnet::client>(ex, co);
    auto connected = std::make_shared<bool>(false);
    auto const port = std::to_string(acceptor.local_endpoint().port());
    c->async_connect("127.0.0.1", port, [connected](libnet::error_code ec) { *connected = !ec; });
    auto [aec, peer] = co_await acceptor.async_accept(use_tuple);
    FUZZ_CHECK(!aec);
    auto sock = std::make_shared<tcp::socket>(std::move(peer));
    auto sent = std::make_shared<std::vector<std::uint8_t>>();
    asio::co_spawn(ex, collect(sock, sent), asio::detached);
    for (auto const& s : steps) {
        if (s.op < 2) {
            auto [ec, n] = co_await asio::async_write(*sock, asio::buffer(s.bytes), use_tuple);
            (void)ec;
            (void)n;
        } else {
            co_await pause(std::chrono::milliseconds(s.bytes.size() % 8));
        }
    }
    // Whatever came, the client hands out events until its session ends or goes quiet.
    for (int i = 0; i < 1000; ++i) {
        auto [ec, ev] = co_await c->async_receive(20ms, use_tuple);
        if (ec)
            break;
    }
    auto const start = std::chrono::steady_clock::now();
    boost::system::error_code ignored;
    sock->shutdown(tcp::socket::shutdown_send, ignored);
    co_await c->async_close(use_tuple);
    FUZZ_CHECK(std::chrono::steady_clock::now() - start < 2s);
    sock->close(ignored);
    check_frames(*sent, libnet::default_max_frame_size);
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size < 1)
        return 0;
    auto const steps = script({data + 1, size - 1});
    bool const server_mode = data[0] % 2 == 0;
    asio::io_context ioc;
    bool finished = false;
    asio::co_spawn(ioc, server_mode ? drive_server(steps) : drive_client(steps),
                   [&finished](std::exception_ptr e) {
                       if (e)
                           std::rethrow_exception(e);
                       finished = true;
                   });
    ioc.run_for(20s);
    FUZZ_CHECK(finished);
    return 0;
}
