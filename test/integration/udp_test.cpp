// SPDX-License-Identifier: BSL-1.0
// The UDP transport (docs/protocol.md §17): UDP clients are ordinary clients; sessions
// survive loss and a port change; the handshake keeps no state for unproven addresses.
#include "../../libnet/src/udp/datagram.hpp"
#include "harness.hpp"
#include "udp_proxy.hpp"

using namespace test;
namespace udp = libnet::detail::udp;
using udp_endpoint = asio::ip::udp::endpoint;

namespace {

// Timeouts for loopback: the defaults are for the Internet.
libnet::udp_transport fast_transport() {
    libnet::udp_transport t;
    t.initial_rto = 100ms;
    t.min_rto = 20ms;
    t.max_rto = 1000ms;
    return t;
}

libnet::server_options udp_server() {
    libnet::server_options o;
    o.udp.enabled = true;
    o.udp.transport = fast_transport();
    return o;
}

asio::awaitable<std::unique_ptr<libnet::client>> connect_udp(asio::io_context& ioc, udp_endpoint to,
                                                             std::string id) {
    auto o = with_id(id);
    o.udp = fast_transport();
    auto c = std::make_unique<libnet::client>(ioc.get_executor(), o);
    auto [ec] = co_await c->async_connect("udp://127.0.0.1", std::to_string(to.port()), use_tuple);
    INFO("connect " << id << " over UDP: " << ec.message());
    REQUIRE_FALSE(ec);
    co_return c;
}

// Sends `count` messages "<prefix><n>" to `to`, in order.
asio::awaitable<void> send_numbered(libnet::client* c, std::string to, std::string prefix,
                                    int count) {
    for (int i = 0; i < count; ++i) {
        auto [ec] = co_await c->async_send(to, prefix + std::to_string(i), use_tuple);
        REQUIRE_FALSE(ec);
    }
}

// Receives `count` messages from `from` and checks each is the next one; at `turn`
// received, calls `at_turn`.
asio::awaitable<void> receive_numbered(libnet::client* c, std::string from, std::string prefix,
                                       int count, int turn, std::function<void()> at_turn) {
    int next = 0;
    while (next < count) {
        auto ev = co_await next_event(*c, 10'000ms);
        auto* m = std::get_if<libnet::message>(&ev);
        if (!m)
            continue;
        REQUIRE(m->from == from);
        REQUIRE(m->body == prefix + std::to_string(next)); // once each, in order
        if (++next == turn && at_turn)
            at_turn();
    }
}

// A UDP socket speaking datagrams by hand.
class raw_udp {
public:
    raw_udp(asio::io_context& ioc, udp_endpoint server)
        : sock_(ioc, udp_endpoint(asio::ip::make_address("127.0.0.1"), 0)), server_(server) {}

    template <class D>
    void send(const D& d) {
        std::vector<std::uint8_t> out(udp::max_datagram);
        out.resize(udp::encode(d, out));
        send_bytes(out);
    }
    void send_bytes(const std::vector<std::uint8_t>& b) { sock_.send_to(asio::buffer(b), server_); }
    /// The next datagram within `limit` (bytes), or nothing.
    asio::awaitable<std::optional<std::vector<std::uint8_t>>>
    receive(std::chrono::milliseconds limit = 2000ms) {
        using namespace asio::experimental::awaitable_operators;
        std::vector<std::uint8_t> buf(udp::max_datagram);
        asio::steady_timer timer(sock_.get_executor(), limit);
        udp_endpoint from;
        auto r = co_await (sock_.async_receive_from(asio::buffer(buf), from, use_tuple) ||
                           timer.async_wait(use_tuple));
        if (r.index() == 1)
            co_return std::nullopt;
        auto [ec, n] = std::get<0>(r);
        REQUIRE_FALSE(ec);
        buf.resize(n);
        co_return buf;
    }
    template <class D>
    asio::awaitable<D> expect(std::size_t* size = nullptr) {
        auto b = co_await receive();
        INFO("no datagram came");
        REQUIRE(b);
        auto r = udp::decode(*b);
        REQUIRE(r.value);
        INFO("another kind of datagram came: #" << r.value->index());
        REQUIRE(std::holds_alternative<D>(*r.value));
        if (size)
            *size = b->size();
        co_return std::get<D>(*r.value);
    }
    /// INIT, COOKIE, INIT with the cookie, ACCEPT: the session's connection id.
    asio::awaitable<std::uint64_t> open(std::uint64_t nonce, udp::cookie_bytes* cookie = nullptr) {
        udp::init_datagram init;
        init.nonce = nonce;
        send(init);
        auto c = co_await expect<udp::cookie_datagram>();
        init.cookie = c.cookie;
        if (cookie)
            *cookie = c.cookie;
        send(init);
        auto a = co_await expect<udp::accept_datagram>();
        CHECK(a.nonce == nonce);
        co_return a.cid;
    }
    /// Asks the session `cid` for an acknowledgement: true if it answers, false if the
    /// server says it has no such session (RESET).
    asio::awaitable<bool> alive(std::uint64_t cid) {
        udp::data_datagram d;
        d.cid = cid;
        d.flags = udp::flag_ack_request;
        send(d);
        for (;;) {
            auto b = co_await receive();
            REQUIRE(b);
            auto r = udp::decode(*b);
            REQUIRE(r.value);
            if (std::holds_alternative<udp::reset_datagram>(*r.value))
                co_return false;
            if (std::holds_alternative<udp::data_datagram>(*r.value))
                co_return true;
        }
    }

private:
    asio::ip::udp::socket sock_;
    udp_endpoint server_;
};

// Waits for `pred` to hold, asking again every few milliseconds, for at most `limit`.
asio::awaitable<bool> eventually(std::function<bool()> pred, std::chrono::milliseconds limit) {
    auto const end = std::chrono::steady_clock::now() + limit;
    asio::steady_timer t(co_await asio::this_coro::executor);
    while (!pred()) {
        if (std::chrono::steady_clock::now() >= end)
            co_return false;
        t.expires_after(5ms);
        co_await t.async_wait(use_tuple);
    }
    co_return true;
}

} // namespace

TEST_CASE("udp: a UDP client and a TCP client see each other and exchange messages") {
    run([](asio::io_context& ioc) -> asio::awaitable<void> {
        server s(ioc, udp_server());
        REQUIRE(s->udp_endpoint().port() != 0);
        auto a = co_await connect_udp(ioc, s->udp_endpoint(), "alice");
        auto b = co_await connect(ioc, s, "bob");
        auto joined = co_await expect<libnet::peer_joined>(*a);
        CHECK(joined.peer.id == "bob");
        REQUIRE(b->directory().size() == 2);
        CHECK(b->directory()[0].id == "alice");

        auto [ec] = co_await a->async_send("bob", "over udp", use_tuple);
        REQUIRE_FALSE(ec);
        auto m = co_await expect<libnet::message>(*b);
        CHECK(m.from == "alice");
        CHECK(m.body == "over udp");
        std::tie(ec) = co_await b->async_broadcast(std::string(5000, 'x'), use_tuple);
        REQUIRE_FALSE(ec); // larger than a datagram: fragmented and put back together
        auto big = co_await expect<libnet::message>(*a);
        CHECK(big.broadcast);
        CHECK(big.body == std::string(5000, 'x'));
        CHECK(s->stats().udp_sessions == 1);
        CHECK(s->stats().connections == 2);

        co_await close(*a);
        auto left = co_await expect<libnet::peer_left>(*b);
        CHECK(left.id == "alice");
        CHECK(left.reason == libnet::msg::leave_reason::bye);
        co_await close(*b);
        co_await s.stop();
        CHECK(s->stats().udp_sessions == 0);
    });
}

TEST_CASE("udp: on_accept sees a UDP client's address and can refuse it") {
    run([](asio::io_context& ioc) -> asio::awaitable<void> {
        auto so = udp_server();
        auto seen = std::make_shared<std::vector<asio::ip::tcp::endpoint>>();
        so.on_accept = [seen](const asio::ip::tcp::endpoint& from) {
            seen->push_back(from);
            return false;
        };
        server s(ioc, so);
        auto o = with_id("alice");
        o.udp = fast_transport();
        libnet::client a(ioc.get_executor(), o);
        auto [ec] = co_await a.async_connect("udp://127.0.0.1",
                                             std::to_string(s->udp_endpoint().port()), use_tuple);
        CHECK(ec == libnet::error::session_reset);
        REQUIRE(seen->size() == 1);
        CHECK(seen->front().address().to_string() == "127.0.0.1");
        CHECK(seen->front().port() != 0);
        CHECK(s->stats().connections == 1);
        CHECK(s->stats().registrations == 0);
        co_await s.stop();
    });
}

// The server on 127.0.0.2: Linux reaches it from 127.0.0.1, so the address a client
// advertises tells its own address from the server's.
TEST_CASE("udp: a client listening on every interface advertises its own address") {
    run([](asio::io_context& ioc) -> asio::awaitable<void> {
        auto so = udp_server();
        so.host = "127.0.0.2";
        server s(ioc, so);
        auto o = with_id("alice");
        o.udp = fast_transport();
        o.listen = ":0";
        libnet::client a(ioc.get_executor(), o);
        auto [ec] = co_await a.async_connect("udp://127.0.0.2",
                                             std::to_string(s->udp_endpoint().port()), use_tuple);
        REQUIRE_FALSE(ec);
        REQUIRE(a.directory().size() == 1);
        auto const advertised = a.directory()[0].endpoint;
        CHECK(advertised.starts_with("127.0.0.1:"));
        CHECK_FALSE(advertised.ends_with(":0"));
        co_await close(a);
        co_await s.stop();
    });
}

TEST_CASE("udp: 10,000 messages each way arrive once and in order at 10 % loss") {
    run(
        [](asio::io_context& ioc) -> asio::awaitable<void> {
            using namespace asio::experimental::awaitable_operators;
            server s(ioc, udp_server());
            lossy_proxy::conditions c;
            c.loss = 0.10;
            c.duplicate = 0.02;
            c.reorder = 0.05;
            c.delay = 200us;
            auto proxy = std::make_shared<lossy_proxy>(ioc, s->udp_endpoint(), c, 42);
            proxy->start();
            auto a = co_await connect_udp(ioc, proxy->endpoint(), "alice");
            auto b = co_await connect(ioc, s, "bob");
            int const n = 10'000;
            // Halfway, the client's NAT gives it a new port: the session follows it.
            auto const first_port = proxy->back_port();
            auto moved = [proxy] {
                proxy->change_port();
            };
            co_await (send_numbered(a.get(), "bob", "a", n) &&
                      send_numbered(b.get(), "alice", "b", n) &&
                      receive_numbered(b.get(), "alice", "a", n, 0, {}) &&
                      receive_numbered(a.get(), "bob", "b", n, n / 2, moved));
            CHECK(proxy->back_port() != first_port);
            CHECK(proxy->up().dropped * 20 > proxy->up().forwarded); // 10 %, give or take
            CHECK(proxy->down().dropped * 20 > proxy->down().forwarded);
            CHECK(proxy->up().duplicated > 0);
            co_await close(*a);
            co_await close(*b);
            co_await s.stop();
            proxy->stop();
        },
        90s);
}

// The client's PING waits behind 1.5 MB that a window of 8 packets over 50 ms round
// trips takes seconds to carry; the heartbeats allow 900 ms. The peer acknowledging the
// data before the PING keeps the session alive (protocol.md §9) while the write is under way.
TEST_CASE("udp: a client sending a long backlog over a slow path is not taken for lost") {
    run(
        [](asio::io_context& ioc) -> asio::awaitable<void> {
            auto so = udp_server();
            so.heartbeat_interval = 300ms;
            so.heartbeat_misses = 2;
            so.udp.transport.window = 8;
            server s(ioc, so);
            lossy_proxy::conditions slow;
            slow.delay = 25ms;
            auto proxy = std::make_shared<lossy_proxy>(ioc, s->udp_endpoint(), slow, 1);
            proxy->start();
            auto a = co_await connect_udp(ioc, proxy->endpoint(), "alice");
            auto b = co_await connect(ioc, s, "bob");
            int const n = 1500;
            auto const body = std::string(1000, 'x');
            for (int i = 0; i < n; ++i) {
                auto [ec] = co_await a->async_send("bob", std::to_string(i) + body, use_tuple);
                REQUIRE_FALSE(ec);
            }
            for (int i = 0; i < n; ++i) {
                auto ev = co_await next_event(*b, 20'000ms);
                auto* m = std::get_if<libnet::message>(&ev);
                INFO("event " << ev.index() << " at message " << i);
                REQUIRE(m);
                REQUIRE(m->body == std::to_string(i) + body);
            }
            CHECK(s->stats().lost == 0);
            co_await close(*a);
            co_await close(*b);
            co_await s.stop();
            proxy->stop();
        },
        60s);
}

TEST_CASE("udp: a first datagram gets only a cookie no larger than itself and no state") {
    run([](asio::io_context& ioc) -> asio::awaitable<void> {
        server s(ioc, udp_server());
        raw_udp r(ioc, s->udp_endpoint());
        std::vector<std::uint8_t> shorter(40, 0); // an INIT under 64 bytes: ignored
        shorter[0] = 1;
        shorter[1] = 1;
        r.send_bytes(shorter);
        udp::init_datagram first;
        first.nonce = 7;
        r.send(first);
        std::size_t size = 0;
        auto c = co_await r.expect<udp::cookie_datagram>(&size); // the first answer is this
        CHECK(c.nonce == 7);
        CHECK(size <= udp::min_init_size);
        CHECK(s->stats().udp_sessions == 0);
        CHECK(s->stats().udp_cookies == 0);
        CHECK(s->stats().connections == 0);
        // Data for a session that does not exist gets a RESET, no larger than it.
        bool const known = co_await r.alive(12345);
        CHECK_FALSE(known);
        co_await s.stop();
    });
}

TEST_CASE("udp: replayed and forged cookies are refused") {
    run([](asio::io_context& ioc) -> asio::awaitable<void> {
        server s(ioc, udp_server());
        raw_udp r(ioc, s->udp_endpoint());
        udp::cookie_bytes cookie{};
        auto const cid = co_await r.open(7, &cookie);
        CHECK(s->stats().udp_sessions == 1);
        // The same INIT again (its ACCEPT lost): the same session, nothing new.
        udp::init_datagram again; // named: GCC 12 and braced temporaries in coroutines
        again.nonce = 7;
        again.cookie = cookie;
        r.send(again);
        auto const again_accepted = co_await r.expect<udp::accept_datagram>();
        CHECK(again_accepted.cid == cid);
        CHECK(s->stats().udp_sessions == 1);

        // From another address, the cookie is worth nothing: a fresh one, no session.
        raw_udp other(ioc, s->udp_endpoint());
        other.send(again);
        co_await other.expect<udp::cookie_datagram>();
        auto forged = cookie;
        forged[12] ^= 0x01;
        udp::init_datagram forged_init;
        forged_init.nonce = 8;
        forged_init.cookie = forged;
        r.send(forged_init);
        co_await r.expect<udp::cookie_datagram>();
        CHECK(s->stats().udp_sessions == 1);

        // The session ends; its cookie does not open another.
        r.send(udp::reset_datagram{cid});
        bool const ended =
            co_await eventually([&s] { return s->stats().udp_sessions == 0; }, 2000ms);
        CHECK(ended);
        r.send(again);
        udp::init_datagram fresh;
        fresh.nonce = 9;
        r.send(fresh); // answered: the replay was not
        auto const answer = co_await r.expect<udp::cookie_datagram>();
        CHECK(answer.nonce == 9);
        CHECK(s->stats().udp_sessions == 0);
        CHECK(s->stats().udp_cookies == 1);
        co_await s.stop();
    });
}

TEST_CASE("udp: a client notices a server restart through the reset") {
    run([](asio::io_context& ioc) -> asio::awaitable<void> {
        server first(ioc, udp_server());
        server second(ioc, udp_server()); // the restarted server: same address, no sessions
        auto proxy =
            std::make_shared<lossy_proxy>(ioc, first->udp_endpoint(), lossy_proxy::conditions{}, 1);
        proxy->start();
        auto a = co_await connect_udp(ioc, proxy->endpoint(), "alice");
        proxy->redirect(second->udp_endpoint());
        auto [ec] = co_await a->async_send("nobody", "hello?", use_tuple);
        REQUIRE_FALSE(ec);
        auto end = co_await end_of(*a);
        CHECK(end == libnet::error::session_reset);
        co_await first.stop();
        co_await second.stop();
        proxy->stop();
    });
}

TEST_CASE("udp: a client the server can no longer reach leaves as lost and not as an error") {
    run([](asio::io_context& ioc) -> asio::awaitable<void> {
        auto so = udp_server();
        so.udp.transport.max_timeouts = 2;
        server s(ioc, so);
        lossy_proxy::conditions clear, cut;
        cut.loss = 1.0;
        auto proxy = std::make_shared<lossy_proxy>(ioc, s->udp_endpoint(), clear, 1);
        proxy->start();
        auto a = co_await connect_udp(ioc, proxy->endpoint(), "alice");
        auto b = co_await connect(ioc, s, "bob");
        co_await expect<libnet::peer_joined>(*a);
        proxy->set_conditions(cut);
        auto [ec] = co_await b->async_send("alice", "anyone there?", use_tuple);
        REQUIRE_FALSE(ec);
        auto left = co_await expect<libnet::peer_left>(*b);
        CHECK(left.id == "alice");
        CHECK(left.reason == libnet::msg::leave_reason::lost);
        auto const st = s->stats();
        CHECK(st.lost == 1);
        CHECK(st.errors.empty());
        proxy->set_conditions(clear); // alice speaks again: the server knows her no more
        std::tie(ec) = co_await a->async_send("bob", "back", use_tuple);
        REQUIRE_FALSE(ec);
        auto const end = co_await end_of(*a);
        CHECK(end == libnet::error::session_reset);
        co_await close(*b);
        co_await s.stop();
        proxy->stop();
    });
}

TEST_CASE("udp: fragments that never complete are dropped after the reassembly timeout") {
    run([](asio::io_context& ioc) -> asio::awaitable<void> {
        auto o = udp_server();
        o.udp.transport.reassembly_timeout = 300ms;
        o.udp.transport.window = 16;
        server s(ioc, o);
        raw_udp r(ioc, s->udp_endpoint());
        auto const cid = co_await r.open(1);
        // The first fragment of a 5,000-byte HELLO, then packets far ahead of a missing one.
        std::vector<std::uint8_t> part(1000, 0);
        part[0] = 0x00;
        part[1] = 0x01;
        part[4] = 0x13;
        part[5] = 0x82; // 5,000
        udp::data_datagram d;
        d.cid = cid;
        d.flags = udp::flag_packet | udp::flag_continues;
        d.number = 0;
        d.payload = part;
        r.send(d);
        d.flags = udp::flag_packet | udp::flag_continued | udp::flag_continues;
        for (std::uint32_t n = 2; n < 200; ++n) {
            d.number = n;
            r.send(d);
        }
        // Of those, the server holds no more than its window.
        std::size_t held = 0;
        for (;;) {
            auto b = co_await r.receive(100ms);
            if (!b)
                break;
            auto got = udp::decode(*b);
            REQUIRE(got.value);
            if (auto* ack = std::get_if<udp::data_datagram>(&*got.value)) {
                std::size_t sum = 0;
                for (std::size_t i = 0; i < ack->ack.count; ++i)
                    sum += ack->ack.ranges[i].length;
                held = std::max(held, sum);
            }
        }
        CHECK(held > 0);
        CHECK(held <= 16);
        // Nothing completes them: the session is dropped, and everything with it.
        bool const dropped =
            co_await eventually([&s] { return s->stats().udp_sessions == 0; }, 3000ms);
        CHECK(dropped);
        bool const still = co_await r.alive(cid);
        CHECK_FALSE(still);
        co_await s.stop();
    });
}
