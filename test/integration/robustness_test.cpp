// SPDX-License-Identifier: BSL-1.0
#include "harness.hpp"

using namespace test;

namespace {

// A raw client that registers and then only does what the test says.
asio::awaitable<void> register_raw(raw& r, const server& s, std::string_view id) {
    co_await r.connect(s);
    co_await r.send(libnet::msg::hello{libnet::protocol_version, id, {}, {}});
    libnet::msg::directory d;
    std::vector<std::uint8_t> storage;
    co_await r.expect(d, storage);
}

} // namespace

TEST_CASE("robustness: an oversized frame gets ERROR and close, others are unaffected") {
    run([](asio::io_context& ioc) -> asio::awaitable<void> {
        libnet::server_options o;
        o.max_frame = 4096;
        server s(ioc, o);
        auto a = co_await connect(ioc, s, "alice");
        raw r(ioc);
        co_await register_raw(r, s, "big");
        co_await expect<libnet::peer_joined>(*a);

        std::vector<std::uint8_t> header(libnet::frame_header_size);
        libnet::write_header(header.data(), 0x0006, 4097);
        co_await r.write(header); // the value never needs to arrive
        co_await r.expect_error_and_close(libnet::error::frame_too_large);
        auto left = co_await expect<libnet::peer_left>(*a);
        CHECK(left.reason == libnet::msg::leave_reason::protocol_error);

        co_await a->async_send("alice", "still fine", use_tuple);
        {
            auto got = co_await expect<libnet::message>(*a);
            CHECK(got.body == "still fine");
        }
        co_await close(*a);
        co_await s.stop();
    });
}

TEST_CASE("robustness: garbage bytes get ERROR and close, others are unaffected") {
    run([](asio::io_context& ioc) -> asio::awaitable<void> {
        server s(ioc);
        auto a = co_await connect(ioc, s, "alice");
        raw r(ioc);
        co_await r.connect(s);
        std::string http = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
        co_await r.write(std::vector<std::uint8_t>(http.begin(), http.end()));
        // "GE" is no HELLO; its length is ~1.4 GB: either error is fine, a hang is not.
        auto f = co_await r.read();
        REQUIRE(f.has_value());
        CHECK(f->first == static_cast<std::uint16_t>(libnet::frame_type::error));
        {
            auto got = co_await r.read();
            CHECK_FALSE(got);
        }

        raw mid(ioc); // and garbage after registering
        co_await register_raw(mid, s, "mid");
        co_await expect<libnet::peer_joined>(*a);
        std::vector<std::uint8_t> bad_field(9, 0xff); // SEND whose 3-byte value is no field
        libnet::write_header(bad_field.data(), 0x0006, 3);
        co_await mid.write(bad_field);
        libnet::msg::error e;
        std::vector<std::uint8_t> storage;
        co_await mid.expect(e, storage);
        CHECK(e.code == static_cast<std::uint16_t>(libnet::error::malformed_field));
        // A malformed routed frame is refused but the connection stays.
        co_await mid.send(libnet::msg::send{"alice", "after all", 0});
        {
            auto got = co_await expect<libnet::message>(*a);
            CHECK(got.body == "after all");
        }

        co_await close(*a);
        co_await s.stop();
    });
}

TEST_CASE("robustness: a slow consumer is cut off without slowing the others") {
    run([](asio::io_context& ioc) -> asio::awaitable<void> {
        libnet::server_options o;
        o.max_queue_bytes = 256 * 1024;
        server s(ioc, o);
        auto a = co_await connect(ioc, s, "alice");
        auto c = co_await connect(ioc, s, "carol");
        raw slow(ioc);
        slow.socket().open(tcp::v4()); // a small window before connecting, so it stays small
        slow.socket().set_option(asio::socket_base::receive_buffer_size(4096));
        co_await register_raw(slow, s, "slow"); // and never reads again
        co_await expect<libnet::peer_joined>(*a);
        co_await expect<libnet::peer_joined>(*a);
        co_await expect<libnet::peer_joined>(*c);

        std::string const body(16 * 1024, 'x');
        bool cut = false;
        for (int i = 0; i < 1000 && !cut; ++i) {
            auto [ec] = co_await a->async_send("slow", body, use_tuple);
            REQUIRE_FALSE(ec);
            // carol is served promptly all along; the LEFT may come before her message.
            co_await a->async_send("carol", std::to_string(i), use_tuple);
            for (;;) {
                auto ev = co_await next_event(*c, 2000ms);
                if (auto* left = std::get_if<libnet::peer_left>(&ev)) {
                    CHECK(left->id == "slow");
                    CHECK(left->reason == libnet::msg::leave_reason::slow_consumer);
                    cut = true;
                    continue;
                }
                auto* m = std::get_if<libnet::message>(&ev);
                REQUIRE(m != nullptr);
                CHECK(m->body == std::to_string(i));
                break;
            }
        }
        REQUIRE(cut);
        CHECK(s->stats().slow_consumers == 1);
        CHECK(s->stats().errors[libnet::error::slow_consumer] == 1);

        co_await close(*a);
        co_await close(*c);
        co_await s.stop();
    });
}

TEST_CASE("heartbeat: the server drops a client that stops answering PINGs") {
    run([](asio::io_context& ioc) -> asio::awaitable<void> {
        libnet::server_options o;
        o.heartbeat_interval = 100ms;
        o.heartbeat_misses = 2;
        server s(ioc, o);
        auto a = co_await connect(ioc, s, "alice");
        raw mute(ioc);
        co_await register_raw(mute, s, "mute"); // reads nothing, answers nothing
        co_await expect<libnet::peer_joined>(*a);
        auto left = co_await expect<libnet::peer_left>(*a, 3000ms);
        CHECK(left.id == "mute"); // alice, a library client, answers and stays
        CHECK(left.reason == libnet::msg::leave_reason::lost);
        CHECK(a->is_connected());
        CHECK(s->stats().lost == 1);
        co_await close(*a);
        co_await s.stop();
    });
}

TEST_CASE("heartbeat: a client detects a server that went silent") {
    run([](asio::io_context& ioc) -> asio::awaitable<void> {
        // A fake server: registers the client with a 100 ms heartbeat, then never answers.
        auto acceptor = std::make_shared<tcp::acceptor>(
            ioc, tcp::endpoint{asio::ip::make_address("127.0.0.1"), 0});
        asio::co_spawn(
            ioc,
            [](std::shared_ptr<tcp::acceptor> acceptor) -> asio::awaitable<void> {
                auto [aec, peer] = co_await acceptor->async_accept(use_tuple);
                REQUIRE_FALSE(aec);
                std::vector<std::uint8_t> out;
                libnet::msg::encode(
                    libnet::msg::welcome{libnet::protocol_version, "lonely", 4096, 100, 2, {}},
                    out);
                libnet::msg::directory d;
                d.entries.push_back({"lonely", 1, {}});
                libnet::msg::encode(d, out);
                co_await asio::async_write(peer, asio::buffer(out), use_tuple);
                std::array<char, 256> sink;
                for (;;) { // swallow PINGs until the client gives up and closes
                    auto [ec, n] = co_await peer.async_read_some(asio::buffer(sink), use_tuple);
                    if (ec)
                        break;
                }
            }(acceptor),
            asio::detached);

        libnet::client c(ioc.get_executor(), with_id("lonely"));
        auto port = std::to_string(acceptor->local_endpoint().port());
        auto [cec] = co_await c.async_connect("127.0.0.1", port, use_tuple);
        REQUIRE_FALSE(cec);
        auto const started = std::chrono::steady_clock::now();
        auto end = co_await end_of(c, 3000ms);
        CHECK(end == libnet::error::heartbeat_timeout);
        CHECK(std::chrono::steady_clock::now() - started < 2s);
        CHECK_FALSE(c.is_connected());
    });
}

TEST_CASE("lifecycle: closing without BYE is reported as closed, not bye") {
    run([](asio::io_context& ioc) -> asio::awaitable<void> {
        server s(ioc);
        auto a = co_await connect(ioc, s, "alice");
        {
            raw r(ioc);
            co_await register_raw(r, s, "abrupt");
            co_await expect<libnet::peer_joined>(*a);
            r.socket().close();
        }
        auto left = co_await expect<libnet::peer_left>(*a);
        CHECK(left.id == "abrupt");
        CHECK(left.reason == libnet::msg::leave_reason::closed);
        co_await close(*a);
        co_await s.stop();
    });
}

TEST_CASE("robustness: before HELLO a frame may declare at most 64 KiB, refused unallocated") {
    run([](asio::io_context& ioc) -> asio::awaitable<void> {
        server s(ioc);
        raw r(ioc);
        co_await r.connect(s);
        std::vector<std::uint8_t> header(libnet::frame_header_size);
        libnet::write_header(header.data(), 0x0001, 64 * 1024 + 1);
        co_await r.write(header);
        co_await r.expect_error_and_close(libnet::error::frame_too_large);

        // A HELLO that uses most of it is fine, and afterwards max_frame applies.
        raw ok(ioc);
        co_await ok.connect(s);
        std::string const secret(60 * 1024, 's'); // credentials the server ignores
        co_await ok.send(libnet::msg::hello{libnet::protocol_version, "big", {}, secret});
        libnet::msg::welcome w;
        std::vector<std::uint8_t> storage;
        co_await ok.expect(w, storage);
        std::string const body(200 * 1024, 'b');
        co_await ok.send(libnet::msg::send{"big", body, 1});
        libnet::msg::deliver d;
        co_await ok.expect(d, storage);
        CHECK(d.body.size() == body.size());
        co_await s.stop();
    });
}

TEST_CASE("robustness: a frame that stalls or trickles is cut at the frame deadline") {
    run([](asio::io_context& ioc) -> asio::awaitable<void> {
        libnet::server_options o;
        o.frame_timeout = 300ms;
        server s(ioc, o);
        auto a = co_await connect(ioc, s, "alice");
        std::vector<std::uint8_t> header(libnet::frame_header_size);
        libnet::write_header(header.data(), 0x0006, 1000);

        raw stall(ioc); // a header and nothing more
        co_await register_raw(stall, s, "stall");
        co_await expect<libnet::peer_joined>(*a);
        auto const started = std::chrono::steady_clock::now();
        co_await stall.write(header);
        co_await stall.expect_error_and_close(libnet::error::frame_timeout);
        CHECK(std::chrono::steady_clock::now() - started >= 300ms);
        auto left = co_await expect<libnet::peer_left>(*a);
        CHECK(left.reason == libnet::msg::leave_reason::protocol_error);

        raw trickle(ioc); // a byte every 50 ms keeps the connection alive, not the frame
        co_await register_raw(trickle, s, "trickle");
        co_await expect<libnet::peer_joined>(*a);
        co_await trickle.write(header);
        asio::steady_timer pace(ioc);
        bool cut = false;
        for (int i = 0; i < 40 && !cut; ++i) {
            pace.expires_after(50ms);
            co_await pace.async_wait(use_tuple);
            std::vector<std::uint8_t> one{'x'};
            auto [ec, n] =
                co_await asio::async_write(trickle.socket(), asio::buffer(one), use_tuple);
            cut = ec.failed();
            if (auto [pec, ev] = co_await a->async_receive(0ms, use_tuple); !pec)
                cut = cut || std::holds_alternative<libnet::peer_left>(ev);
        }
        CHECK(cut);
        CHECK(s->stats().errors[libnet::error::frame_timeout] == 2);
        co_await close(*a);
        co_await s.stop();
    });
}

TEST_CASE("robustness: a steady stream split mid-frame is never taken for a stalled frame") {
    run([](asio::io_context& ioc) -> asio::awaitable<void> {
        libnet::server_options o;
        o.frame_timeout = 200ms;
        server s(ioc, o);
        auto a = co_await connect(ioc, s, "alice");
        raw r(ioc);
        co_await register_raw(r, s, "stream");
        co_await expect<libnet::peer_joined>(*a);
        // 40 SENDs, written 1.5 frames at a time every 25 ms: a frame is always partial
        // between writes, for well past the deadline, yet each completes in time.
        std::vector<std::uint8_t> stream;
        for (int i = 0; i < 40; ++i)
            libnet::msg::encode(libnet::msg::send{"alice", std::to_string(i), 0}, stream);
        auto const chunk = stream.size() / 40 * 3 / 2;
        asio::steady_timer pace(ioc);
        for (std::size_t at = 0; at < stream.size(); at += chunk) {
            auto const n = std::min(chunk, stream.size() - at);
            co_await r.write(
                std::vector<std::uint8_t>(stream.begin() + at, stream.begin() + at + n));
            pace.expires_after(25ms);
            co_await pace.async_wait(use_tuple);
        }
        for (int i = 0; i < 40; ++i) {
            auto m = co_await expect<libnet::message>(*a);
            CHECK(m.body == std::to_string(i));
        }
        CHECK(s->stats().errors.count(libnet::error::frame_timeout) == 0);
        co_await close(*a);
        co_await s.stop();
    });
}

TEST_CASE("robustness: a peer reading a long backlog is alive, one that stops reading is lost") {
    run([](asio::io_context& ioc) -> asio::awaitable<void> {
        libnet::server_options o;
        // Lost after 200 ms without a sign of life: long enough that a test process paused
        // by a loaded machine (the server and the reader share its one thread) is not.
        o.heartbeat_interval = 100ms;
        o.heartbeat_misses = 1;
        o.max_queue_bytes = 64u << 20;
        server s(ioc, o);
        auto a = co_await connect(ioc, s, "alice");
        raw r(ioc); // a small window: what it has not read stays in the server's queue
        r.socket().open(tcp::v4());
        r.socket().set_option(asio::socket_base::receive_buffer_size(4096));
        co_await register_raw(r, s, "busy");
        co_await expect<libnet::peer_joined>(*a);
        constexpr int count = 100;
        asio::co_spawn( // alice sends while busy reads
            ioc,
            [](libnet::client& c) -> asio::awaitable<void> {
                std::string const body(32 * 1024, 'x');
                for (int i = 0; i < count; ++i)
                    co_await c.async_send("busy", body, use_tuple);
            }(*a),
            asio::detached);
        // It reads the 3.2 MB backlog slowly (several heartbeat intervals) and answers each
        // PING once it gets to it, behind the backlog: taking our data is sign of life.
        asio::steady_timer pace(ioc);
        int got = 0;
        while (got < count) {
            auto f = co_await r.read();
            INFO("cut after " << got << " messages");
            REQUIRE(f.has_value());
            if (f->first == static_cast<std::uint16_t>(libnet::frame_type::ping)) {
                libnet::msg::ping p;
                REQUIRE_FALSE(libnet::msg::decode(libnet::frame_view{f->first, f->second}, p));
                co_await r.send(libnet::msg::pong{p.nonce});
            }
            if (f->first != static_cast<std::uint16_t>(libnet::frame_type::deliver))
                continue;
            if (++got % 2 == 0) {
                pace.expires_after(5ms);
                co_await pace.async_wait(use_tuple);
            }
        }
        CHECK(s->stats().lost == 0);
        // Once it stops reading and answering, it is declared lost.
        auto left = co_await expect<libnet::peer_left>(*a);
        CHECK(left.id == "busy");
        CHECK(left.reason == libnet::msg::leave_reason::lost);
        co_await close(*a);
        co_await s.stop();
    });
}

TEST_CASE("robustness: an undecodable PING PONG or BYE gets ERROR and the session goes on") {
    run([](asio::io_context& ioc) -> asio::awaitable<void> {
        server s(ioc);
        auto a = co_await connect(ioc, s, "alice");
        raw r(ioc);
        co_await register_raw(r, s, "prober");
        co_await expect<libnet::peer_joined>(*a);
        using bytes = std::vector<std::uint8_t>;
        // nonce (tag 19) with 2 bytes instead of 8: malformed_message (docs/protocol.md §4.3).
        bytes const bad_ping{0x00, 0x0c, 0x00, 0x00, 0x00, 0x08, 0x00,
                             0x13, 0x00, 0x00, 0x00, 0x02, 0x00, 0x01};
        bytes const bad_pong{0x00, 0x0d, 0x00, 0x00, 0x00, 0x08, 0x00,
                             0x13, 0x00, 0x00, 0x00, 0x02, 0x00, 0x01};
        // Three bytes cannot hold a field header: malformed_field, and not a clean BYE.
        bytes const bad_bye{0x00, 0x0b, 0x00, 0x00, 0x00, 0x03, 0x00, 0x01, 0x00};
        struct probe {
            const bytes* frame;
            libnet::error code;
            std::uint16_t type;
        };
        std::vector<probe> const probes{{&bad_ping, libnet::error::malformed_message, 0x000c},
                                        {&bad_pong, libnet::error::malformed_message, 0x000d},
                                        {&bad_bye, libnet::error::malformed_field, 0x000b}};
        for (auto const& p : probes) {
            co_await r.write(*p.frame);
            libnet::msg::error e;
            std::vector<std::uint8_t> storage;
            co_await r.expect(e, storage);
            CHECK(e.code == static_cast<std::uint16_t>(p.code));
            CHECK(e.ref_type == p.type);
        }
        // Still registered and answering: a good PING gets its PONG, a message gets through.
        co_await r.send(libnet::msg::ping{77});
        libnet::msg::pong pong;
        std::vector<std::uint8_t> storage;
        co_await r.expect(pong, storage);
        CHECK(pong.nonce == 77);
        co_await r.send(libnet::msg::send{"alice", "still here", 0, 0, 0, 0, 0});
        auto m = co_await expect<libnet::message>(*a);
        CHECK(m.body == "still here");
        // A well-formed BYE is a clean leave.
        co_await r.send(libnet::msg::bye{});
        auto left = co_await expect<libnet::peer_left>(*a);
        CHECK(left.reason == libnet::msg::leave_reason::bye);
        co_await close(*a);
        co_await s.stop();
    });
}
