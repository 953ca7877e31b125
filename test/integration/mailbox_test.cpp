// SPDX-License-Identifier: BSL-1.0
// Access control, mailboxes (store-and-forward, ACKs, redelivery, pull mode, quotas, TTL)
// and the SQLite store.

#include "harness.hpp"

#include <libnet/access.hpp>
#include <libnet/store.hpp>

#include <filesystem>
#include <fstream>
#include <random>

using namespace test;

namespace {

asio::awaitable<std::unique_ptr<libnet::client>>
connect_opts(asio::io_context& ioc, const server& s, libnet::client_options o) {
    auto r = co_await try_connect(ioc, s, std::move(o));
    INFO("connect: " << r.second.message());
    REQUIRE_FALSE(r.second);
    co_return std::move(r.first);
}

asio::awaitable<libnet::receipt> confirmed(libnet::client& c, std::string to, std::string body) {
    auto [ec, r] = co_await c.async_send_confirmed(std::move(to), std::move(body), use_tuple);
    INFO("confirmed send: " << ec.message());
    REQUIRE_FALSE(ec);
    co_return r;
}

asio::awaitable<error_code> confirmed_error(libnet::client& c, std::string to, std::string body) {
    auto [ec, r] = co_await c.async_send_confirmed(std::move(to), std::move(body), use_tuple);
    co_return ec;
}

std::string temp_db() {
    static std::mt19937_64 rng(std::random_device{}());
    auto p = std::filesystem::temp_directory_path() /
             ("libnet-mailbox-" + std::to_string(rng()) + ".db");
    return p.string();
}

void remove_db(const std::string& path) {
    for (auto const* suffix : {"", "-wal", "-shm", "-journal"})
        std::filesystem::remove(path + suffix);
}

} // namespace

TEST_CASE("access: an id not on the allow list is refused with not_allowed") {
    run([](asio::io_context& ioc) -> asio::awaitable<void> {
        server s(ioc, allow("alice,bob"));
        auto a = co_await connect(ioc, s, "alice");
        auto const mallory = with_id("mallory");
        auto r = co_await try_connect(ioc, s, mallory);
        CHECK(r.second == libnet::error::not_allowed);
        // An unnamed client gets an ip:port id, which is not on the list either.
        libnet::client_options unnamed; // a named local: GCC 12 and braced temporaries
        auto anon = co_await try_connect(ioc, s, unnamed);
        CHECK(anon.second == libnet::error::not_allowed);

        raw m(ioc);
        co_await m.connect(s);
        co_await m.send(libnet::msg::hello{libnet::protocol_version, "mallory", {}, {}});
        co_await m.expect_error_and_close(libnet::error::not_allowed);
        co_await close(*a);
        co_await s.stop();
        CHECK(s->stats().refused == 3);
        CHECK(s->stats().registrations == 1);
    });
}

TEST_CASE("access: a secret is checked in HELLO, and a wrong one is answered late") {
    run([](asio::io_context& ioc) -> asio::awaitable<void> {
        auto o = allow("bob");
        o.secrets["alice"] = "open:sesame"; // on the list through its secret
        o.auth_failure_delay = 200ms;
        server s(ioc, o);

        auto good = with_id("alice");
        good.credentials = "open:sesame";
        auto a = co_await connect_opts(ioc, s, good);

        auto wrong = with_id("alice");
        wrong.credentials = "open:sesamf";
        co_await close(*a); // free the id: a wrong secret must fail for itself, not id_taken
        auto const t0 = std::chrono::steady_clock::now();
        auto w = co_await try_connect(ioc, s, wrong);
        auto const waited = std::chrono::steady_clock::now() - t0;
        CHECK(w.second == libnet::error::auth_failed);
        CHECK(waited >= 200ms);

        auto const no_secret = with_id("alice");
        auto missing = co_await try_connect(ioc, s, no_secret);
        CHECK(missing.second == libnet::error::auth_failed);

        // Ids without a secret need none.
        auto b = co_await connect(ioc, s, "bob");
        co_await close(*b);
        co_await s.stop();
        CHECK(s->stats().refused == 2);
    });
}

// HELLO for `id` with `secret` over a raw connection from `local`; the answer's code
// (0 for WELCOME).
asio::awaitable<std::uint16_t> hello_from(asio::io_context& ioc, const server& s, std::string local,
                                          std::string id, std::string secret) {
    raw r(ioc);
    co_await r.connect(s, local);
    co_await r.send(libnet::msg::hello{libnet::protocol_version, id, {}, secret});
    for (;;) {
        auto f = co_await r.read();
        REQUIRE(f.has_value());
        if (f->first == static_cast<std::uint16_t>(libnet::frame_type::welcome))
            co_return 0;
        if (f->first == static_cast<std::uint16_t>(libnet::frame_type::error)) {
            libnet::msg::error e;
            REQUIRE_FALSE(libnet::msg::decode(libnet::frame_view{f->first, f->second}, e));
            co_return e.code;
        }
    }
}

TEST_CASE("access: guesses beyond the limit are refused, the right secret from elsewhere works") {
    run([](asio::io_context& ioc) -> asio::awaitable<void> {
        libnet::server_options o;
        o.secrets["bob"] = "right";
        o.auth_failure_delay = 10ms;
        o.guesses.address_burst = 3;
        o.guesses.id_burst = 3;
        o.guesses.refill = std::chrono::hours(1);
        server s(ioc, o);
        using libnet::error;
        struct attempt {
            std::string from, secret;
            error answer; // 0: WELCOME
        };
        std::vector<attempt> const attempts{
            {"127.0.0.1", "guess", error::auth_failed},
            {"127.0.0.1", "guess", error::auth_failed},
            {"127.0.0.1", "guess", error::auth_failed},
            // Over the limit: refused at once, unchecked, even with the right secret.
            {"127.0.0.1", "guess", error::rate_limited},
            {"127.0.0.1", "right", error::rate_limited},
            // Another address that never failed gets in with the right secret...
            {"127.0.0.2", "right", error{}},
            // ... while a new guesser meets bob's spent bucket after its first failure.
            {"127.0.0.3", "guess", error::auth_failed},
            {"127.0.0.3", "guess", error::rate_limited},
        };
        for (std::size_t i = 0; i < attempts.size(); ++i) {
            auto const& a = attempts[i];
            auto const code = co_await hello_from(ioc, s, a.from, "bob", a.secret);
            INFO("attempt " << i << " from " << a.from);
            CHECK(code == static_cast<std::uint16_t>(a.answer));
        }
        co_await s.stop();
    });
}

TEST_CASE("access: connections that do not register are capped per address") {
    run([](asio::io_context& ioc) -> asio::awaitable<void> {
        libnet::server_options o;
        o.guesses.unregistered_per_address = 2;
        server s(ioc, o);
        raw first(ioc), second(ioc), third(ioc);
        co_await first.connect(s);
        co_await second.connect(s);
        co_await third.connect(s);
        co_await third.expect_error_and_close(libnet::error::rate_limited);
        // Registering frees a place.
        co_await first.send(libnet::msg::hello{libnet::protocol_version, "first", {}, {}});
        libnet::msg::welcome w;
        std::vector<std::uint8_t> storage;
        co_await first.expect(w, storage);
        auto c = co_await connect(ioc, s, "fourth");
        co_await close(*c);
        co_await s.stop();
    });
}

TEST_CASE("access: secrets never reach the log") {
    std::vector<std::string> lines;
    run([&lines](asio::io_context& ioc) -> asio::awaitable<void> {
        auto o = allow("bob");
        o.secrets["alice"] = "hunter2-secret";
        o.auth_failure_delay = 1ms;
        o.log = [&lines](libnet::log_level, std::string_view l) {
            lines.emplace_back(l);
        };
        server s(ioc, o);
        auto good = with_id("alice");
        good.credentials = "hunter2-secret";
        auto a = co_await connect_opts(ioc, s, good);
        co_await close(*a);
        auto bad = with_id("alice");
        bad.credentials = "hunter3-secret";
        auto r = co_await try_connect(ioc, s, bad);
        CHECK(r.second == libnet::error::auth_failed);
        co_await s.stop();
    });
    REQUIRE_FALSE(lines.empty());
    for (auto const& l : lines) {
        INFO(l);
        CHECK(l.find("hunter") == std::string::npos);
    }
}

TEST_CASE("mailbox: messages to an offline id wait, then come in order before live traffic") {
    run([](asio::io_context& ioc) -> asio::awaitable<void> {
        server s(ioc, allow("alice,bob"));
        auto a = co_await connect(ioc, s, "alice");
        CHECK(a->has_mailbox());
        constexpr int n = 50;
        for (int i = 0; i < n; ++i) {
            auto [ec] = co_await a->async_send("bob", "m" + std::to_string(i), use_tuple);
            REQUIRE_FALSE(ec);
        }
        // A plain send to an offline id is confirmed as stored, not an error.
        for (int i = 0; i < n; ++i) {
            auto st = co_await expect<libnet::stored>(*a);
            CHECK(st.to == "bob");
            CHECK(st.offline == 1);
        }
        auto b = co_await connect(ioc, s, "bob");
        auto [lec] = co_await a->async_send("bob", "live", use_tuple);
        REQUIRE_FALSE(lec);
        auto got = co_await messages(*b, n + 1);
        for (int i = 0; i < n; ++i) {
            CHECK(got[i].from == "alice");
            CHECK(got[i].body == "m" + std::to_string(i));
            CHECK(got[i].mailbox);
            if (i > 0)
                CHECK(got[i].seq > got[i - 1].seq);
        }
        CHECK(got[n].body == "live");
        CHECK(b->last_delivered() == got[n].seq);
        co_await close(*b);
        co_await close(*a);
        co_await s.stop();
        auto const st = s->stats();
        CHECK(st.stored == n + 1);
        CHECK(st.stored_offline == n);
        CHECK(st.pending == 0); // bob acknowledged everything before leaving
        CHECK(st.acked == n + 1);
    });
}

TEST_CASE("mailbox: a broadcast is stored for every allowed id that is offline") {
    run([](asio::io_context& ioc) -> asio::awaitable<void> {
        server s(ioc, allow("a,b,c,d"));
        auto a = co_await connect(ioc, s, "a");
        auto b = co_await connect(ioc, s, "b");
        auto [ec, r] = co_await a->async_broadcast_confirmed("to all", use_tuple);
        REQUIRE_FALSE(ec);
        CHECK(r.offline == 2);
        CHECK(r.refused.empty());
        auto live = co_await messages(*b, 1);
        CHECK(live[0].body == "to all");
        CHECK(live[0].broadcast);
        std::vector<std::string> const late_ids{"c", "d"};
        for (auto const& id : late_ids) {
            auto late = co_await connect(ioc, s, id);
            auto got = co_await messages(*late, 1);
            CHECK(got[0].from == "a");
            CHECK(got[0].body == "to all");
            CHECK(got[0].broadcast);
            co_await close(*late);
        }
        co_await close(*a);
        co_await close(*b);
        co_await s.stop();
    });
}

TEST_CASE("mailbox: confirmed sends report where the message went") {
    run([](asio::io_context& ioc) -> asio::awaitable<void> {
        server s(ioc, allow("alice,bob,carol"));
        auto a = co_await connect(ioc, s, "alice");
        auto b = co_await connect(ioc, s, "bob");
        auto online = co_await confirmed(*a, "bob", "hi");
        CHECK(online.offline == 0);
        CHECK_FALSE(online.durable); // a memory store
        auto offline = co_await confirmed(*a, "carol", "later");
        CHECK(offline.offline == 1);
        auto unknown = co_await confirmed_error(*a, "nobody", "x");
        CHECK(unknown == libnet::error::no_such_client);
        auto got = co_await messages(*b, 1);
        CHECK(got[0].body == "hi");
        co_await close(*a);
        co_await close(*b);
        co_await s.stop();
    });
}

TEST_CASE("mailbox: what was not acknowledged comes again, and the client drops what it saw") {
    run([](asio::io_context& ioc) -> asio::awaitable<void> {
        server s(ioc, allow("alice,bob"));
        auto a = co_await connect(ioc, s, "alice");
        for (int i = 1; i <= 3; ++i)
            co_await confirmed(*a, "bob", "m" + std::to_string(i));

        // bob by hand: takes all three, acknowledges only the first, and vanishes.
        {
            raw bob(ioc);
            co_await bob.connect(s);
            co_await bob.send(libnet::msg::hello{libnet::protocol_version, "bob", {}, {}});
            std::vector<std::uint8_t> storage;
            libnet::msg::welcome w;
            co_await bob.expect(w, storage);
            CHECK((w.flags & libnet::msg::welcome_mailbox) != 0);
            CHECK(w.pending == 3);
            std::vector<std::uint64_t> seqs;
            for (int i = 0; i < 3; ++i) {
                libnet::msg::deliver d;
                co_await bob.expect(d, storage);
                CHECK((d.flags & libnet::msg::flag_mailbox) != 0);
                seqs.push_back(d.seq);
            }
            co_await bob.send(libnet::msg::ack{seqs[0], 0});
            co_await bob.send(libnet::msg::bye{});
            while (co_await bob.read()) {
            }
        }
        auto b = co_await connect(ioc, s, "bob");
        auto got = co_await messages(*b, 2);
        CHECK(got[0].body == "m2");
        CHECK(got[1].body == "m3");
        auto const seen = b->last_delivered();
        // The connection dies without a goodbye: nothing more is acknowledged.
        b.reset();

        // A later session that says what it saw gets only what is new.
        co_await confirmed(*a, "bob", "m4");
        auto o = with_id("bob");
        o.resume_after = seen;
        auto b2 = co_await connect_opts(ioc, s, o);
        auto more = co_await messages(*b2, 1);
        CHECK(more[0].body == "m4");
        CHECK(more[0].seq > seen);
        co_await close(*b2);
        co_await close(*a);
        co_await s.stop();
    });
}

namespace {

using frame_bytes = std::pair<std::uint16_t, std::vector<std::uint8_t>>;

asio::awaitable<frame_bytes> read_frame(tcp::socket& sock, libnet::detail::frame_reader& reader) {
    for (;;) {
        auto r = reader.next();
        REQUIRE(r.status != libnet::decode_status::error);
        if (r.status == libnet::decode_status::ok)
            co_return frame_bytes{r.frame.type, std::vector<std::uint8_t>(r.frame.value.begin(),
                                                                          r.frame.value.end())};
        auto [ec, n] = co_await sock.async_read_some(reader.prepare(), use_tuple);
        REQUIRE_FALSE(ec);
        reader.commit(n);
    }
}

struct fake_result {
    std::uint64_t acked = 0;
    bool done = false;
    asio::steady_timer* signal = nullptr;
};

// A server by hand: registers the client with a mailbox, delivers ids 1, 2, 2, 1, 3, reads
// the ACKs up to 3, and closes after BYE.
asio::awaitable<void> redelivering_server(tcp::acceptor& acc, fake_result& out) {
    auto [aec, sock] = co_await acc.async_accept(use_tuple);
    REQUIRE_FALSE(aec);
    libnet::detail::frame_reader reader(libnet::default_max_frame_size);
    auto hello = co_await read_frame(sock, reader);
    CHECK(hello.first == static_cast<std::uint16_t>(libnet::frame_type::hello));
    std::vector<std::uint8_t> frames;
    libnet::msg::welcome w;
    w.id = "bob";
    w.flags = libnet::msg::welcome_mailbox;
    libnet::msg::encode(w, frames);
    libnet::msg::directory d;
    libnet::msg::directory_entry self;
    self.id = "bob";
    self.join_seq = 1;
    d.entries.push_back(self);
    libnet::msg::encode(d, frames);
    std::vector<std::uint64_t> const ids{1, 2, 2, 1, 3};
    for (auto id : ids) {
        auto const body = "m" + std::to_string(id);
        libnet::msg::deliver m;
        m.from = "alice";
        m.body = body;
        m.seq = id;
        m.flags = libnet::msg::flag_mailbox;
        libnet::msg::encode(m, frames);
    }
    auto [wec, wn] = co_await asio::async_write(sock, asio::buffer(frames), use_tuple);
    REQUIRE_FALSE(wec);
    for (;;) {
        auto f = co_await read_frame(sock, reader);
        if (f.first == static_cast<std::uint16_t>(libnet::frame_type::bye))
            break;
        if (f.first != static_cast<std::uint16_t>(libnet::frame_type::ack))
            continue;
        libnet::msg::ack a;
        REQUIRE_FALSE(libnet::msg::decode(libnet::frame_view{f.first, f.second}, a));
        CHECK(a.seq > out.acked); // cumulative, increasing
        out.acked = a.seq;
        if (out.acked == 3)
            out.signal->cancel();
    }
    sock.close();
    out.done = true;
    out.signal->cancel();
}

} // namespace

TEST_CASE("mailbox: the client library drops a redelivered message id") {
    run([](asio::io_context& ioc) -> asio::awaitable<void> {
        tcp::acceptor acc(ioc, {asio::ip::make_address("127.0.0.1"), 0});
        asio::steady_timer signal(ioc, std::chrono::steady_clock::time_point::max());
        fake_result result;
        result.signal = &signal;
        asio::co_spawn(ioc, redelivering_server(acc, result), asio::detached);

        libnet::client c(ioc.get_executor(), with_id("bob"));
        auto const port = std::to_string(acc.local_endpoint().port());
        auto [ec] = co_await c.async_connect("127.0.0.1", port, use_tuple);
        REQUIRE_FALSE(ec);
        auto got = co_await messages(c, 3);
        CHECK(got[0].body == "m1");
        CHECK(got[1].body == "m2");
        CHECK(got[2].body == "m3");
        // Nothing else is queued: the duplicates were dropped.
        auto [rec, ev] = co_await c.async_receive(50ms, use_tuple);
        CHECK(rec == asio::error::timed_out);
        signal.expires_after(5s);
        while (result.acked < 3)
            co_await signal.async_wait(use_tuple);
        CHECK(result.acked == 3);
        auto [cec] = co_await c.async_close(use_tuple);
        CHECK_FALSE(cec);
        CHECK(result.done);
    });
}

TEST_CASE("mailbox: resuming after ids the server no longer has does not drop new messages") {
    run([](asio::io_context& ioc) -> asio::awaitable<void> {
        // A memory store starts its ids again after a restart: a client resuming from an
        // earlier server's id must not take the new ones for duplicates.
        server s(ioc, allow("alice,bob"));
        auto o = with_id("bob");
        o.resume_after = 40;
        auto b = co_await connect_opts(ioc, s, o);
        CHECK(b->last_delivered() == 0);
        auto a = co_await connect(ioc, s, "alice");
        co_await confirmed(*a, "bob", "fresh");
        auto got = co_await messages(*b, 1);
        CHECK(got[0].body == "fresh");
        CHECK(got[0].seq == 1);
        CHECK(b->last_delivered() == 1);
        co_await close(*b);
        co_await close(*a);
        co_await s.stop();
    });
}

TEST_CASE("mailbox: pull mode keeps messages until GET asks for them") {
    run([](asio::io_context& ioc) -> asio::awaitable<void> {
        server s(ioc, allow("alice,bob"));
        auto a = co_await connect(ioc, s, "alice");
        auto po = with_id("bob");
        po.pull = true;
        auto b = co_await connect_opts(ioc, s, po);
        for (int i = 0; i < 5; ++i)
            co_await confirmed(*a, "bob", "p" + std::to_string(i));
        // Nothing is pushed.
        auto [rec, ev] = co_await b->async_receive(100ms, use_tuple);
        CHECK(rec == asio::error::timed_out);

        auto [e1, first] = co_await b->async_fetch(3, use_tuple);
        REQUIRE_FALSE(e1);
        REQUIRE(first.size() == 3);
        CHECK(first[0].body == "p0");
        CHECK(first[2].body == "p2");
        auto [e2, second] = co_await b->async_fetch(10, use_tuple);
        REQUIRE_FALSE(e2);
        REQUIRE(second.size() == 2);
        CHECK(second[0].body == "p3");
        CHECK(second[1].body == "p4");
        auto [e3, none] = co_await b->async_fetch(10, use_tuple);
        REQUIRE_FALSE(e3);
        CHECK(none.empty());
        co_await close(*b);

        // What was fetched was acknowledged: a new session finds the mailbox empty.
        auto b2 = co_await connect_opts(ioc, s, po);
        auto [e4, after] = co_await b2->async_fetch(10, use_tuple);
        REQUIRE_FALSE(e4);
        CHECK(after.empty());
        co_await close(*b2);

        // Fetching needs pull mode.
        auto [e5, x] = co_await a->async_fetch(1, use_tuple);
        CHECK(e5 == libnet::error::not_permitted);
        co_await close(*a);
        co_await s.stop();
        CHECK(s->stats().pending == 0);
    });
}

TEST_CASE("mailbox: a full mailbox answers queue_full, never drops silently") {
    run([](asio::io_context& ioc) -> asio::awaitable<void> {
        auto o = allow("alice,bob,carol");
        o.mailbox_max_messages = 3;
        o.mailbox_max_bytes = 20;
        server s(ioc, o);
        auto a = co_await connect(ioc, s, "alice");
        for (int i = 0; i < 3; ++i)
            co_await confirmed(*a, "bob", "b" + std::to_string(i));
        auto full = co_await confirmed_error(*a, "bob", "b3");
        CHECK(full == libnet::error::queue_full);
        // Bytes count too.
        co_await confirmed(*a, "carol", std::string(15, 'x'));
        auto too_big = co_await confirmed_error(*a, "carol", std::string(6, 'y'));
        CHECK(too_big == libnet::error::queue_full);
        // A broadcast reaches who has room and names who had none.
        auto [ec, r] = co_await a->async_broadcast_confirmed("zz", use_tuple);
        REQUIRE_FALSE(ec);
        CHECK(r.offline == 1); // carol: 15 + 2 bytes fit
        REQUIRE(r.refused.size() == 1);
        CHECK(r.refused[0] == "bob");
        // A plain send over quota is reported as an event.
        auto [pec] = co_await a->async_send("bob", "plain", use_tuple);
        REQUIRE_FALSE(pec);
        auto err = co_await expect<libnet::server_error>(*a);
        CHECK(err.code == libnet::error::queue_full);
        CHECK(err.id == "bob");

        auto b = co_await connect(ioc, s, "bob");
        auto got = co_await messages(*b, 3);
        CHECK(got[0].body == "b0");
        CHECK(got[2].body == "b2");
        co_await close(*b);
        co_await close(*a);
        co_await s.stop();
    });
}

TEST_CASE("mailbox: messages older than the TTL are dropped unread") {
    run([](asio::io_context& ioc) -> asio::awaitable<void> {
        auto o = allow("alice,bob");
        o.message_ttl = 100ms;
        server s(ioc, o);
        auto a = co_await connect(ioc, s, "alice");
        co_await confirmed(*a, "bob", "old");
        // Time has to pass for a message to expire: this wait is the test, not a sync.
        asio::steady_timer t(ioc, 150ms);
        co_await t.async_wait(use_tuple);
        co_await confirmed(*a, "bob", "new");
        auto b = co_await connect(ioc, s, "bob");
        auto got = co_await messages(*b, 1);
        CHECK(got[0].body == "new");
        co_await close(*b);
        co_await close(*a);
        co_await s.stop();
        CHECK(s->stats().expired == 1);
        CHECK(s->stats().pending == 0);
    });
}

TEST_CASE("mailbox: a replay far larger than the session queue is paced, not cut off") {
    run([](asio::io_context& ioc) -> asio::awaitable<void> {
        auto o = allow("alice,bob");
        o.max_queue_bytes = 64 * 1024;
        server s(ioc, o);
        auto a = co_await connect(ioc, s, "alice");
        constexpr int n = 3000; // about 750 KB
        std::vector<std::string> bodies;
        for (int i = 0; i < n; ++i)
            bodies.push_back(std::to_string(i) + ":" + std::string(240, 'r'));
        auto [ec] = co_await a->async_send_batch("bob", bodies, libnet::route::server, use_tuple);
        REQUIRE_FALSE(ec);
        co_await confirmed(*a, "bob", "last");
        auto b = co_await connect(ioc, s, "bob");
        auto got = co_await messages(*b, n + 1);
        bool in_order = true;
        for (int i = 0; i < n; ++i)
            in_order = in_order && got[i].body == bodies[i];
        CHECK(in_order);
        CHECK(got[n].body == "last");
        co_await close(*b);
        co_await close(*a);
        co_await s.stop();
        CHECK(s->stats().slow_consumers == 0);
    });
}

TEST_CASE("store: SQLite keeps mailboxes, message ids and last-seen across restarts") {
    auto const path = temp_db();
    std::uint64_t first_seq = 0;
    run([&path](asio::io_context& ioc) -> asio::awaitable<void> {
        libnet::server_options o;
        o.store = libnet::open_store("sqlite:" + path);
        server s(ioc, o);
        auto b = co_await connect(ioc, s, "bob"); // seen once: it has a mailbox from now on
        CHECK(b->has_mailbox());
        co_await close(*b);
        auto a = co_await connect(ioc, s, "alice");
        for (int i = 1; i <= 3; ++i) {
            auto r = co_await confirmed(*a, "bob", "d" + std::to_string(i));
            CHECK(r.durable);
            CHECK(r.offline == 1);
        }
        co_await close(*a);
        co_await s.stop();
    });
    run([&path, &first_seq](asio::io_context& ioc) -> asio::awaitable<void> {
        libnet::server_options o;
        o.store = libnet::open_store("sqlite:" + path);
        server s(ioc, o);
        CHECK(s->stats().pending == 3);
        auto b = co_await connect(ioc, s, "bob");
        auto got = co_await messages(*b, 3);
        CHECK(got[0].body == "d1");
        CHECK(got[1].body == "d2");
        CHECK(got[2].body == "d3");
        first_seq = got[0].seq;
        CHECK(got[2].seq == first_seq + 2);
        co_await close(*b);
        co_await s.stop();
    });
    run([&path, &first_seq](asio::io_context& ioc) -> asio::awaitable<void> {
        libnet::server_options o;
        o.store = libnet::open_store("sqlite:" + path, false); // NORMAL reads the same file
        server s(ioc, o);
        CHECK(s->stats().pending == 0); // the ACKs were committed
        auto a = co_await connect(ioc, s, "alice");
        auto r = co_await confirmed(*a, "bob", "d4");
        CHECK(r.offline == 1);
        auto b = co_await connect(ioc, s, "bob");
        auto got = co_await messages(*b, 1);
        CHECK(got[0].body == "d4");
        CHECK(got[0].seq == first_seq + 3); // ids go on where they were
        co_await close(*b);
        co_await close(*a);
        co_await s.stop();
    });
    remove_db(path);
}

TEST_CASE("store: a sender that leaves right after sending still hears where it went") {
    auto const path = temp_db();
    run([&path](asio::io_context& ioc) -> asio::awaitable<void> {
        libnet::sqlite_store_options so;
        so.path = path;
        so.group_window = std::chrono::milliseconds(100); // commits that take their time
        libnet::server_options o;
        o.store = libnet::make_sqlite_store(so);
        server s(ioc, o);
        auto b = co_await connect(ioc, s, "bob"); // known: a mailbox from now on
        co_await close(*b);
        auto a = co_await connect(ioc, s, "alice");
        auto [ec] = co_await a->async_send("bob", "last words", use_tuple);
        REQUIRE_FALSE(ec);
        co_await close(*a); // BYE before the store has committed
        // The server answered before it closed; the answer stays receivable after close.
        auto [rec, ev] = co_await a->async_receive(1000ms, use_tuple);
        INFO("after close: " << rec.message());
        REQUIRE_FALSE(rec);
        auto* st = std::get_if<libnet::stored>(&ev);
        REQUIRE(st != nullptr);
        CHECK(st->to == "bob");
        CHECK(st->offline == 1);
        co_await s.stop();
    });
    remove_db(path);
}

TEST_CASE("store: a damaged database is refused at open") {
    auto const path = temp_db();
    {
        std::ofstream f(path, std::ios::binary);
        f << std::string(8192, '\x5a');
    }
    CHECK_THROWS_AS(libnet::open_store("sqlite:" + path), std::runtime_error);
    remove_db(path);
    CHECK_THROWS_AS(libnet::open_store("postgres://x"), std::invalid_argument);
    CHECK_THROWS_AS(libnet::open_store("sqlite:/nonexistent-dir/x.db"), std::runtime_error);
}
