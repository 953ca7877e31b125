// SPDX-License-Identifier: BSL-1.0
#include "peers_harness.hpp"

#include <libnet/detail/message_fields.hpp>

#include <algorithm>
#include <map>
#include <set>

// Direct links: advertising, the handshake, the mesh, and routes with fallback.

using namespace test;
using libnet::route;

TEST_CASE("peers: a listening client advertises its endpoint in the directory") {
    run([](asio::io_context& ioc) -> asio::awaitable<void> {
        server s(ioc);
        auto alice = co_await connect_with(ioc, s, listening("alice"));
        REQUIRE_FALSE(alice->listen_endpoint().empty());
        auto bob = co_await connect(ioc, s, "bob");
        auto dir = bob->directory();
        REQUIRE(dir.size() == 2);
        CHECK(dir[0].id == "alice");
        CHECK(dir[0].endpoint == alice->listen_endpoint());
        CHECK(dir[1].endpoint.empty()); // bob does not listen
        co_await close(*bob);
        co_await close(*alice);
        co_await s.stop();
    });
}

TEST_CASE("peers: connect_peer links two clients and messages say which way they came") {
    run([](asio::io_context& ioc) -> asio::awaitable<void> {
        server s(ioc);
        auto alice = co_await connect_with(ioc, s, listening("alice"));
        auto bob = co_await connect(ioc, s, "bob"); // dialing needs no listening socket
        auto [ec] = co_await bob->async_connect_peer("alice", use_tuple);
        REQUIRE_FALSE(ec);
        auto got1 = co_await next_of<libnet::link_up>(*bob);
        CHECK(got1.id == "alice");
        auto got2 = co_await next_of<libnet::link_up>(*alice);
        CHECK(got2.id == "bob");
        CHECK(bob->linked_peers() == std::vector<std::string>{"alice"});
        CHECK(alice->linked_peers() == std::vector<std::string>{"bob"});

        auto [e1] = co_await bob->async_send("alice", "direct hi", route::direct, use_tuple);
        REQUIRE_FALSE(e1);
        auto m1 = co_await next_of<libnet::message>(*alice);
        CHECK(m1.from == "bob");
        CHECK(m1.body == "direct hi");
        CHECK(m1.via == route::direct);

        auto [e2] = co_await bob->async_send("alice", "via server", route::server, use_tuple);
        REQUIRE_FALSE(e2);
        auto m2 = co_await next_of<libnet::message>(*alice);
        CHECK(m2.body == "via server");
        CHECK(m2.via == route::server);

        auto [e3] = co_await alice->async_send("bob", "auto reply", use_tuple);
        REQUIRE_FALSE(e3);
        auto m3 = co_await next_of<libnet::message>(*bob);
        CHECK(m3.from == "alice");
        CHECK(m3.via == route::direct);

        // A second connect_peer finds the link up.
        auto [e4] = co_await alice->async_connect_peer("bob", use_tuple);
        CHECK_FALSE(e4);
        co_await close(*bob);
        co_await close(*alice);
        co_await s.stop();
    });
}

TEST_CASE("peers: no link, no listener, no such client") {
    run([](asio::io_context& ioc) -> asio::awaitable<void> {
        server s(ioc);
        auto alice = co_await connect(ioc, s, "alice");
        auto bob = co_await connect(ioc, s, "bob");
        auto [e1] = co_await alice->async_send("bob", "x", route::direct, use_tuple);
        CHECK(e1 == libnet::error::no_peer_link);
        auto [e2] = co_await alice->async_connect_peer("bob", use_tuple);
        CHECK(e2 == libnet::error::no_peer_link); // bob does not listen
        auto [e3] = co_await alice->async_connect_peer("nobody", use_tuple);
        CHECK(e3 == libnet::error::no_such_client);
        auto [e4] = co_await alice->async_connect_peer("alice", use_tuple);
        CHECK(e4 == libnet::error::no_peer_link);
        // route::automatic without a link goes through the server.
        auto [e5] = co_await alice->async_send("bob", "fine", use_tuple);
        REQUIRE_FALSE(e5);
        auto m = co_await next_of<libnet::message>(*bob);
        CHECK(m.via == route::server);
        co_await close(*alice);
        co_await close(*bob);
        co_await s.stop();
    });
}

namespace {

// A registered raw connection that asks the server for introductions by hand.
struct intruder {
    raw conn;
    explicit intruder(asio::io_context& ioc) : conn(ioc) {}

    asio::awaitable<void> join(const server& s, std::string_view id) {
        co_await conn.connect(s);
        co_await conn.send(libnet::msg::hello{libnet::protocol_version, id, {}, {}});
        libnet::msg::directory d;
        std::vector<std::uint8_t> storage;
        co_await conn.expect(d, storage);
    }
    /// INTRODUCTION to `to`: token and endpoint, owned.
    asio::awaitable<std::pair<std::string, std::string>> introduce(std::string_view to) {
        co_await conn.send(libnet::msg::intro_request{to, 7});
        libnet::msg::introduction in;
        std::vector<std::uint8_t> storage;
        co_await conn.expect(in, storage);
        co_return std::pair{std::string(in.token), std::string(in.endpoint)};
    }
};

// Dials `endpoint`, sends `hello` bytes and returns the ERROR code the peer answers with
// (0 when it answers PEER_WELCOME instead), checking that a refusal closes the link.
asio::awaitable<std::uint16_t> try_peer_hello(asio::io_context& ioc, const std::string& endpoint,
                                              const std::vector<std::uint8_t>& hello) {
    raw r(ioc);
    auto [ec] = co_await r.socket().async_connect(parse_endpoint(endpoint), use_tuple);
    REQUIRE_FALSE(ec);
    co_await r.write(hello);
    auto f = co_await r.read();
    REQUIRE(f.has_value());
    if (f->first == static_cast<std::uint16_t>(libnet::frame_type::peer_welcome))
        co_return 0;
    REQUIRE(f->first == static_cast<std::uint16_t>(libnet::frame_type::error));
    libnet::msg::error e;
    REQUIRE_FALSE(libnet::msg::decode(libnet::frame_view{f->first, f->second}, e));
    auto const code = e.code;
    for (;;) { // and then it closes
        auto more = co_await r.read();
        if (!more)
            break;
    }
    co_return code;
}

std::vector<std::uint8_t> hello_bytes(std::string_view id, std::string_view token) {
    std::vector<std::uint8_t> b;
    libnet::msg::encode(libnet::msg::peer_hello{libnet::protocol_version, id, token, 42}, b);
    return b;
}

// PEER_HELLO with no token field at all.
std::vector<std::uint8_t> hello_without_token(std::string_view id) {
    using namespace libnet::msg;
    std::vector<std::uint8_t> b(64);
    detail::field_writer w{b.data() + libnet::frame_header_size};
    w.u16(tag::version, libnet::protocol_version);
    w.str(tag::client_id, id);
    w.field(tag::link, std::uint64_t{42}, detail::field_presence::required);
    auto const len = static_cast<std::size_t>(w.pos - b.data()) - libnet::frame_header_size;
    libnet::write_header(b.data(), static_cast<std::uint16_t>(libnet::frame_type::peer_hello),
                         static_cast<std::uint32_t>(len));
    b.resize(libnet::frame_header_size + len);
    return b;
}

} // namespace

// The token rules on plain links, where raw PEER_HELLOs can be sent; tls_test.cpp has them
// over TLS, where a token is also bound to the dialer's key.
static libnet::client_options plain_listening(std::string id) {
    auto o = listening(std::move(id));
    o.encrypt_links = false;
    return o;
}

TEST_CASE("peers: a peer must prove its id with a valid one-time token") {
    run([](asio::io_context& ioc) -> asio::awaitable<void> {
        server s(ioc);
        auto bob = co_await connect_with(ioc, s, plain_listening("bob"));
        auto carol = co_await connect_with(ioc, s, plain_listening("carol"));
        intruder mallory(ioc);
        co_await mallory.join(s, "mallory");
        auto const auth_failed = static_cast<std::uint16_t>(libnet::error::auth_failed);
        auto const at_bob = bob->listen_endpoint();

        // No token, and a made-up one.
        auto got3 = co_await try_peer_hello(ioc, at_bob, hello_without_token("mallory"));
        CHECK(got3 == auth_failed);
        auto const junk = std::string(56, 'x');
        auto got4 = co_await try_peer_hello(ioc, at_bob, hello_bytes("mallory", junk));
        CHECK(got4 == auth_failed);

        // A real token for mallory -> bob does not let mallory claim to be carol...
        auto [token, endpoint] = co_await mallory.introduce("bob");
        CHECK(endpoint == at_bob);
        auto got5 = co_await try_peer_hello(ioc, at_bob, hello_bytes("carol", token));
        CHECK(got5 == auth_failed);
        // ...nor work at carol's door (it is bound to the pair)...
        auto got6 =
            co_await try_peer_hello(ioc, carol->listen_endpoint(), hello_bytes("mallory", token));
        CHECK(got6 == auth_failed);
        // ...works once as itself (the server vouches for mallory -> bob)...
        auto got7 = co_await try_peer_hello(ioc, at_bob, hello_bytes("mallory", token));
        CHECK(got7 == 0);
        auto got8 = co_await next_of<libnet::link_up>(*bob);
        CHECK(got8.id == "mallory");
        // ...and never twice.
        auto got9 = co_await try_peer_hello(ioc, at_bob, hello_bytes("mallory", token));
        CHECK(got9 == auth_failed);

        CHECK(bob->is_connected());
        co_await close(*bob);
        co_await close(*carol);
        co_await s.stop();
    });
}

TEST_CASE("peers: an expired token is refused") {
    run([](asio::io_context& ioc) -> asio::awaitable<void> {
        libnet::server_options so;
        so.peer_token_ttl = std::chrono::milliseconds(0); // expired as soon as issued
        server s(ioc, so);
        auto bob = co_await connect_with(ioc, s, plain_listening("bob"));
        intruder mallory(ioc);
        co_await mallory.join(s, "mallory");
        auto [token, endpoint] = co_await mallory.introduce("bob");
        auto got10 = co_await try_peer_hello(ioc, endpoint, hello_bytes("mallory", token));
        CHECK(got10 == static_cast<std::uint16_t>(libnet::error::auth_failed));
        // The library's own dial fails the same way, with the peer's reason.
        auto alice = co_await connect(ioc, s, "alice");
        auto [ec] = co_await alice->async_connect_peer("bob", use_tuple);
        CHECK(ec == libnet::error::auth_failed);
        CHECK(bob->linked_peers().empty());
        co_await close(*alice);
        co_await close(*bob);
        co_await s.stop();
    });
}

TEST_CASE("peers: a 6-client mesh forms exactly 15 links, one per pair") {
    run([](asio::io_context& ioc) -> asio::awaitable<void> {
        server s(ioc);
        std::vector<std::unique_ptr<libnet::client>> cs;
        for (int i = 0; i < 6; ++i)
            cs.push_back(co_await connect_with(ioc, s, listening("p" + std::to_string(i), true)));
        std::set<std::pair<std::string, std::string>> pairs;
        for (auto& c : cs) {
            for (int k = 0; k < 5; ++k) {
                std::vector<libnet::event> skipped;
                auto up = co_await next_of<libnet::link_up>(*c, &skipped);
                for (auto const& e : skipped)
                    REQUIRE_FALSE(std::holds_alternative<libnet::link_down>(e));
                pairs.insert(std::minmax(c->id(), up.id));
            }
            CHECK(c->linked_peers().size() == 5);
        }
        CHECK(pairs.size() == 15);
        // Each pair talks over its link.
        for (auto& c : cs)
            for (auto& d : cs)
                if (c != d) {
                    auto [ec] = co_await c->async_send(d->id(), "hi from " + c->id(), route::direct,
                                                       use_tuple);
                    REQUIRE_FALSE(ec);
                }
        for (auto& d : cs)
            for (int k = 0; k < 5; ++k) {
                auto m = co_await next_of<libnet::message>(*d);
                CHECK(m.via == route::direct);
                CHECK(m.body == "hi from " + m.from);
            }
        for (auto& c : cs)
            co_await close(*c);
        co_await s.stop();
    });
}

TEST_CASE("peers: a client that leaves is unlinked, and linked again when it rejoins") {
    run([](asio::io_context& ioc) -> asio::awaitable<void> {
        server s(ioc);
        auto a = co_await connect_with(ioc, s, listening("a", true));
        auto b = co_await connect_with(ioc, s, listening("b", true));
        auto got11 = co_await next_of<libnet::link_up>(*a);
        CHECK(got11.id == "b");
        auto got12 = co_await next_of<libnet::link_up>(*b);
        CHECK(got12.id == "a");
        co_await close(*b);
        auto got13 = co_await next_of<libnet::link_down>(*a);
        CHECK(got13.id == "b");
        auto got14 = co_await next_of<libnet::peer_left>(*a);
        CHECK(got14.id == "b");
        CHECK(a->linked_peers().empty());

        auto b2 = co_await connect_with(ioc, s, listening("b", true));
        auto got15 = co_await next_of<libnet::link_up>(*a);
        CHECK(got15.id == "b");
        auto got16 = co_await next_of<libnet::link_up>(*b2);
        CHECK(got16.id == "a");
        auto [ec] = co_await b2->async_send("a", "back", route::direct, use_tuple);
        REQUIRE_FALSE(ec);
        auto got17 = co_await next_of<libnet::message>(*a);
        CHECK(got17.body == "back");
        co_await close(*a);
        co_await close(*b2);
        co_await s.stop();
    });
}

namespace {

// Receives `n` numbered messages from `from`, checking order and uniqueness; returns how
// many came each way.
asio::awaitable<std::map<route, int>> receive_numbered(libnet::client& c, int n) {
    std::map<route, int> ways;
    for (int i = 0; i < n; ++i) {
        auto m = co_await next_of<libnet::message>(c);
        INFO("message " << i << " arrived as " << m.body << " via " << static_cast<int>(m.via));
        REQUIRE(m.body == std::to_string(i));
        ++ways[m.via];
    }
    co_return ways;
}

} // namespace

TEST_CASE("peers: when a link is cut mid-stream, auto falls back with nothing lost or doubled") {
    run([](asio::io_context& ioc) -> asio::awaitable<void> {
        server s(ioc);
        // alice advertises a proxy in front of her listening socket, so the test can cut
        // the link like a failing network would. The proxy needs her port up front.
        tcp::acceptor spare(ioc, {asio::ip::make_address("127.0.0.1"), 0});
        auto const port = spare.local_endpoint().port();
        spare.close();
        proxy px(ioc, {asio::ip::make_address("127.0.0.1"), port});
        auto ao = with_id("alice");
        ao.listen = "127.0.0.1:" + std::to_string(port);
        ao.advertise = px.endpoint();
        auto a = co_await connect_with(ioc, s, ao);
        auto b = co_await connect(ioc, s, "bob");
        auto [lec] = co_await b->async_connect_peer("alice", use_tuple);
        REQUIRE_FALSE(lec);

        constexpr int n = 3000;
        for (int i = 0; i < n; ++i) {
            auto [ec] = co_await b->async_send("alice", std::to_string(i), use_tuple);
            REQUIRE_FALSE(ec);
            if (i == n / 3)
                px.kill(); // with messages on the wire and unacknowledged
        }
        auto ways = co_await receive_numbered(*a, n);
        CHECK(ways[route::direct] > 0);
        CHECK(ways[route::server] > 0);
        std::vector<libnet::event> skipped;
        auto down = co_await next_of<libnet::link_down>(*b, &skipped);
        CHECK(down.id == "alice");
        CHECK(b->linked_peers().empty());
        px.stop();
        co_await close(*a);
        co_await close(*b);
        co_await s.stop();
    });
}

TEST_CASE("peers: switching from the server to a new link keeps the order") {
    run([](asio::io_context& ioc) -> asio::awaitable<void> {
        server s(ioc);
        auto a = co_await connect_with(ioc, s, listening("alice"));
        auto b = co_await connect(ioc, s, "bob");
        constexpr int n = 4000;
        int sent = 0;
        bool linked = false;
        // Sends flow while the link is set up; some go each way.
        asio::co_spawn(
            ioc,
            [](libnet::client* b, bool* linked) -> asio::awaitable<void> {
                auto [ec] = co_await b->async_connect_peer("alice", use_tuple);
                CHECK_FALSE(ec);
                *linked = true;
            }(b.get(), &linked),
            asio::detached);
        for (; sent < n; ++sent) {
            auto [ec] = co_await b->async_send("alice", std::to_string(sent), use_tuple);
            REQUIRE_FALSE(ec);
        }
        auto ways = co_await receive_numbered(*a, n);
        CHECK(linked);
        CHECK(ways[route::server] > 0);
        CHECK(ways[route::direct] > 0);
        co_await close(*a);
        co_await close(*b);
        co_await s.stop();
    });
}

TEST_CASE("peers: a link paused by a full event queue resumes when the application catches up") {
    run([](asio::io_context& ioc) -> asio::awaitable<void> {
        server s(ioc);
        auto ao = listening("alice");
        ao.max_events = 8; // far fewer than what is sent: reading pauses many times
        auto a = co_await connect_with(ioc, s, ao);
        auto bo = with_id("bob");
        bo.max_queue_bytes = 256; // bob's window: he needs alice's ACKs to go on
        auto b = co_await connect_with(ioc, s, bo);
        auto [lec] = co_await b->async_connect_peer("alice", use_tuple);
        REQUIRE_FALSE(lec);
        constexpr int n = 500;
        int completed = 0;
        for (int i = 0; i < n; ++i) // all started at once; most wait for the window
            b->async_send("alice", std::to_string(i), route::direct, [&completed](error_code ec) {
                CHECK_FALSE(ec);
                ++completed;
            });
        auto ways = co_await receive_numbered(*a, n);
        CHECK(ways[route::direct] == n);
        CHECK(completed == n);
        co_await close(*a);
        co_await close(*b);
        co_await s.stop();
    });
}

TEST_CASE("peers: a bulk transfer flows with a window smaller than the ACK interval") {
    run([](asio::io_context& ioc) -> asio::awaitable<void> {
        server s(ioc);
        auto a = co_await connect_with(ioc, s, listening("alice"));
        auto bo = with_id("bob");
        // Full reads make alice ACK once per 256 KiB; bob's window is smaller, so he stalls
        // unless a read that did not fill its buffer (he paused) is ACKed at once.
        bo.max_queue_bytes = 96 * 1024;
        auto b = co_await connect_with(ioc, s, bo);
        auto [lec] = co_await b->async_connect_peer("alice", use_tuple);
        REQUIRE_FALSE(lec);
        constexpr int n = 600; // 2.4 MB
        std::vector<std::string> bodies;
        for (int i = 0; i < n; ++i)
            bodies.push_back(std::to_string(i) + ":" + std::string(4096, 'k'));
        auto [ec] = co_await b->async_send_batch("alice", bodies, route::direct, use_tuple);
        REQUIRE_FALSE(ec);
        int next = 0;
        while (next < n) {
            auto ev = co_await next_event(*a);
            auto* m = std::get_if<libnet::message>(&ev);
            if (!m)
                continue; // link_up
            REQUIRE(m->body == bodies[next]);
            CHECK(m->via == route::direct);
            ++next;
        }
        co_await close(*a);
        co_await close(*b);
        co_await s.stop();
    });
}

TEST_CASE("peers: batches of sends and receives keep order and lose nothing") {
    run([](asio::io_context& ioc) -> asio::awaitable<void> {
        server s(ioc);
        auto a = co_await connect_with(ioc, s, listening("alice"));
        auto b = co_await connect(ioc, s, "bob");
        auto [lec] = co_await b->async_connect_peer("alice", use_tuple);
        REQUIRE_FALSE(lec);
        constexpr int n = 1000;
        std::vector<std::string> bodies;
        for (int i = 0; i < n; ++i)
            bodies.push_back(std::to_string(i));
        auto [ec] = co_await b->async_send_batch("alice", bodies, route::direct, use_tuple);
        REQUIRE_FALSE(ec);
        int next = 0;
        while (next < n) {
            auto [rec, events] = co_await a->async_receive_batch(64, use_tuple);
            REQUIRE_FALSE(rec);
            REQUIRE_FALSE(events.empty());
            CHECK(events.size() <= 64);
            for (auto& e : events) {
                auto* m = std::get_if<libnet::message>(&e);
                if (!m)
                    continue; // link_up and the like
                REQUIRE(m->body == std::to_string(next));
                CHECK(m->via == route::direct);
                ++next;
            }
        }
        auto [e2] = co_await b->async_send_batch("nobody", bodies, route::direct, use_tuple);
        CHECK(e2 == libnet::error::no_peer_link); // the first failure ends the batch
        co_await close(*a);
        co_await close(*b);
        co_await s.stop();
    });
}

TEST_CASE("peers: a send that could complete at once does not overtake one started before it") {
    run([](asio::io_context& ioc) -> asio::awaitable<void> {
        server s(ioc);
        auto a = co_await connect_with(ioc, s, listening("alice"));
        auto b = co_await connect(ioc, s, "bob");
        auto [lec] = co_await b->async_connect_peer("alice", use_tuple);
        REQUIRE_FALSE(lec);
        auto [pec] = co_await b->async_send("alice", "primer", route::direct, use_tuple);
        REQUIRE_FALSE(pec);
        int completed = 0;
        auto count = [&completed](error_code ec) {
            CHECK_FALSE(ec);
            ++completed;
        };
        // The batch starts a coroutine; the single send right after it could complete at
        // once, and must still go after the batch.
        std::vector<std::string> first{"a", "b"};
        b->async_send_batch("alice", first, route::direct, count);
        b->async_send("alice", "c", route::direct, count);
        std::string got;
        for (int i = 0; i < 4; ++i) {
            auto m = co_await next_of<libnet::message>(*a);
            got += m.body == "primer" ? std::string() : m.body;
        }
        CHECK(got == "abc");
        CHECK(completed == 2);
        co_await close(*a);
        co_await close(*b);
        co_await s.stop();
    });
}
