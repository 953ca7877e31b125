// SPDX-License-Identifier: BSL-1.0
#include "harness.hpp"

#include <future>
#include <map>
#include <mutex>
#include <set>
#include <thread>

// The directory under load: batched announcements keep every view exact, presence opt-out
// and lookups, and join storms that nothing blocks.

using namespace test;

namespace {

std::string name(const char* prefix, int i) {
    return prefix + std::to_string(i);
}

// What the coroutines of a multi-threaded test saw; asserted after the threads joined
// (Catch2 assertions are not thread-safe).
struct tally {
    std::mutex mutex;
    std::vector<std::string> problems;

    void problem(std::string p) {
        std::lock_guard lock(mutex);
        problems.push_back(std::move(p));
    }
};

// Keeps a view from the snapshot and the events, checking each delta against it, until
// `marker` joins: then the view must be exactly `expected`.
asio::awaitable<void> watch(libnet::client& c, std::string marker, std::set<std::string> expected,
                            std::shared_ptr<tally> t) {
    std::set<std::string> view;
    for (auto const& p : c.directory())
        view.insert(p.id);
    for (;;) {
        auto [ec, ev] = co_await c.async_receive(20s, use_tuple);
        if (ec) {
            t->problem(c.id() + ": " + ec.message());
            co_return;
        }
        if (auto* j = std::get_if<libnet::peer_joined>(&ev)) {
            if (!view.insert(j->peer.id).second)
                t->problem(c.id() + ": JOINED " + j->peer.id + " already in view");
            if (j->peer.id == marker)
                break;
        } else if (auto* l = std::get_if<libnet::peer_left>(&ev)) {
            if (view.erase(l->id) != 1)
                t->problem(c.id() + ": LEFT " + l->id + " not in view");
        }
    }
    if (view != expected)
        t->problem(c.id() + ": view has " + std::to_string(view.size()) + " ids, expected " +
                   std::to_string(expected.size()));
    std::set<std::string> listed;
    for (auto const& p : c.directory())
        listed.insert(p.id);
    if (listed != expected)
        t->problem(c.id() + ": directory() disagrees with the events");
}

// Joins and leaves twice, then joins for good and returns that client. Leaving by BYE
// reuses `id` (async_close completes once the server has let the id go); dropping the
// connection uses ids of its own, since the server may not have seen the drop yet.
asio::awaitable<std::shared_ptr<libnet::client>> churn(asio::io_context& ioc, std::string port,
                                                       std::string id, bool abort,
                                                       std::shared_ptr<tally> t) {
    for (int round = 0; round < 2; ++round) {
        auto const as = abort ? id + "-" + std::to_string(round) : id;
        libnet::client c(ioc.get_executor(), with_id(as));
        auto [ec] = co_await c.async_connect("127.0.0.1", port, use_tuple);
        if (ec) {
            t->problem(as + ": connect: " + ec.message());
            co_return nullptr;
        }
        if (abort)
            continue; // the destructor drops the connection
        auto [cec] = co_await c.async_close(use_tuple);
        if (cec)
            t->problem(id + ": close: " + cec.message());
    }
    auto c = std::make_shared<libnet::client>(ioc.get_executor(), with_id(id));
    auto [ec] = co_await c->async_connect("127.0.0.1", port, use_tuple);
    if (ec)
        t->problem(id + ": last connect: " + ec.message());
    co_return c;
}

} // namespace

TEST_CASE("directory: every view stays exact under concurrent joins and leaves, 2 threads") {
    asio::io_context ioc;
    libnet::server srv(ioc.get_executor(), {});
    auto stopped = srv.async_run(asio::use_future);
    std::vector<std::thread> threads;
    struct joiner { // a failed REQUIRE must not leave the threads running
        asio::io_context& ioc;
        std::vector<std::thread>& threads;
        ~joiner() {
            ioc.stop();
            for (auto& th : threads)
                th.join();
        }
    };
    auto const port = std::to_string(srv.local_endpoint().port());
    auto t = std::make_shared<tally>();
    constexpr int observers = 4, churners = 40;
    std::set<std::string> expected;
    std::vector<std::unique_ptr<libnet::client>> obs;
    std::vector<std::future<void>> watching;
    std::vector<std::shared_ptr<libnet::client>> parked;
    {
        auto work = asio::make_work_guard(ioc);
        joiner join{ioc, threads};
        for (int i = 0; i < 2; ++i)
            threads.emplace_back([&ioc] { ioc.run(); });
        for (int i = 0; i < observers; ++i) {
            obs.push_back(
                std::make_unique<libnet::client>(ioc.get_executor(), with_id(name("o", i))));
            expected.insert(name("o", i));
            auto f = obs.back()->async_connect("127.0.0.1", port, asio::use_future);
            REQUIRE(f.wait_for(10s) == std::future_status::ready);
            REQUIRE_NOTHROW(f.get());
        }
        for (int i = 0; i < churners; ++i)
            expected.insert(name("x", i));
        expected.insert("marker");
        for (auto& o : obs)
            watching.push_back(
                asio::co_spawn(ioc, watch(*o, "marker", expected, t), asio::use_future));
        std::vector<std::future<std::shared_ptr<libnet::client>>> churning;
        for (int i = 0; i < churners; ++i)
            churning.push_back(asio::co_spawn(ioc, churn(ioc, port, name("x", i), i % 2 == 0, t),
                                              asio::use_future));
        for (auto& f : churning) {
            REQUIRE(f.wait_for(20s) == std::future_status::ready);
            parked.push_back(f.get()); // online until the server stops
        }
        INFO("first problem: " << (t->problems.empty() ? "" : t->problems.front()));
        REQUIRE(srv.stats().online == static_cast<std::size_t>(observers + churners));
        libnet::client marker(ioc.get_executor(), with_id("marker"));
        auto mf = marker.async_connect("127.0.0.1", port, asio::use_future);
        REQUIRE(mf.wait_for(10s) == std::future_status::ready);
        REQUIRE_NOTHROW(mf.get());
        for (auto& w : watching) {
            REQUIRE(w.wait_for(20s) == std::future_status::ready);
            w.get();
        }
        srv.stop(); // the parked churners, the marker and the observers get TERM
        REQUIRE(stopped.wait_for(10s) == std::future_status::ready);
        stopped.get();
        work.reset();
    }
    INFO(t->problems.size() << " problems, first: "
                            << (t->problems.empty() ? "" : t->problems.front()));
    CHECK(t->problems.empty());
}

TEST_CASE("directory: a client without presence is listed and routable but told nothing") {
    run([](asio::io_context& ioc) -> asio::awaitable<void> {
        server s(ioc);
        auto a = co_await connect(ioc, s, "alice");
        auto quiet_options = with_id("quiet");
        quiet_options.directory = false;
        libnet::client q(ioc.get_executor(), quiet_options);
        auto [ec] = co_await q.async_connect("127.0.0.1", s.port(), use_tuple);
        REQUIRE_FALSE(ec);
        CHECK(q.directory().empty());
        auto joined = co_await expect<libnet::peer_joined>(*a); // others see it
        CHECK(joined.peer.id == "quiet");
        auto b = co_await connect(ioc, s, "bob");
        co_await expect<libnet::peer_joined>(*a);
        // bob's snapshot lists it too
        std::set<std::string> listed;
        for (auto const& p : b->directory())
            listed.insert(p.id);
        CHECK(listed == std::set<std::string>{"alice", "quiet", "bob"});

        // bob joined and alice will leave: the first thing quiet hears is a message.
        co_await b->async_send("quiet", "hello quiet", use_tuple);
        auto m = co_await expect<libnet::message>(q);
        CHECK(m.from == "bob");
        CHECK(m.body == "hello quiet");
        co_await q.async_send("alice", "hello alice", use_tuple);
        auto back = co_await expect<libnet::message>(*a);
        CHECK(back.from == "quiet");

        // Lookups, from either kind of client.
        auto [lec, found] = co_await q.async_lookup("bob", use_tuple);
        REQUIRE_FALSE(lec);
        REQUIRE(found.has_value());
        CHECK(found->id == "bob");
        CHECK(found->join_seq == 3);
        auto [mec, missing] = co_await a->async_lookup("nobody", use_tuple);
        REQUIRE_FALSE(mec);
        CHECK_FALSE(missing.has_value());
        auto [sec, self] = co_await a->async_lookup("quiet", use_tuple);
        REQUIRE_FALSE(sec);
        REQUIRE(self.has_value());
        CHECK(self->join_seq == 2);

        co_await close(*a);
        co_await expect<libnet::peer_left>(*b);
        auto [gone_ec, gone] = co_await q.async_lookup("alice", use_tuple);
        REQUIRE_FALSE(gone_ec);
        CHECK_FALSE(gone.has_value());
        co_await close(q);
        auto left = co_await expect<libnet::peer_left>(*b); // its leaving is announced
        CHECK(left.id == "quiet");
        co_await close(*b);
        co_await s.stop();
    });
}

TEST_CASE("directory: LOOKUP on the wire is answered with PRESENCE, matched by ref") {
    run([](asio::io_context& ioc) -> asio::awaitable<void> {
        server s(ioc);
        auto a = co_await connect(ioc, s, "alice");
        raw r(ioc);
        co_await r.connect(s);
        libnet::msg::hello h{libnet::protocol_version, "raw", {}, {}};
        h.flags = libnet::msg::hello_no_directory;
        co_await r.send(h);
        co_await r.send(libnet::msg::lookup{"alice", 41});
        co_await r.send(libnet::msg::lookup{"carol", 42});
        // WELCOME, then the answers in order: no DIRECTORY in between.
        auto w = co_await r.read();
        REQUIRE(w.has_value());
        CHECK(w->first == static_cast<std::uint16_t>(libnet::frame_type::welcome));
        for (std::uint64_t ref : {41, 42}) {
            auto f = co_await r.read();
            REQUIRE(f.has_value());
            REQUIRE(f->first == static_cast<std::uint16_t>(libnet::frame_type::presence));
            libnet::msg::presence p;
            REQUIRE_FALSE(libnet::msg::decode(libnet::frame_view{f->first, f->second}, p));
            CHECK(p.ref == ref);
            CHECK(p.join_seq == (ref == 41 ? 1u : 0u));
        }
        co_await close(*a);
        co_await s.stop();
    });
}

namespace {

// A raw client in a storm: registers as `id` and reads until its view holds every id in
// `all`; checks every delta against the view on the way.
asio::awaitable<void> storm_member(asio::io_context& ioc, const server& s, std::string id,
                                   std::shared_ptr<const std::set<std::string>> all,
                                   std::shared_ptr<tally> t, std::shared_ptr<int> left,
                                   std::shared_ptr<asio::steady_timer> done) {
    raw r(ioc);
    co_await r.connect(s);
    co_await r.send(libnet::msg::hello{libnet::protocol_version, id, {}, {}});
    std::set<std::string> view;
    auto complete = [&] {
        return std::includes(view.begin(), view.end(), all->begin(), all->end());
    };
    while (!complete()) {
        auto f = co_await r.read(10s);
        if (!f) {
            t->problem(id + ": closed before its view was complete");
            break;
        }
        libnet::frame_view const v{f->first, f->second};
        if (v.core_type() == libnet::frame_type::directory) {
            libnet::msg::directory d;
            if (libnet::msg::decode(v, d))
                t->problem(id + ": a delta did not decode");
            for (auto const& e : d.entries)
                view.insert(std::string(e.id));
        } else if (v.core_type() == libnet::frame_type::joined) {
            libnet::msg::joined j;
            if (libnet::msg::decode(v, j))
                t->problem(id + ": a delta did not decode");
            if (!view.insert(std::string(j.entry.id)).second)
                t->problem(id + ": JOINED " + std::string(j.entry.id) + " twice");
        } else if (v.core_type() == libnet::frame_type::left) {
            libnet::msg::left l;
            if (libnet::msg::decode(v, l))
                t->problem(id + ": a delta did not decode");
            if (view.erase(std::string(l.id)) != 1)
                t->problem(id + ": LEFT " + std::string(l.id) + " not in view");
        }
    }
    if (--*left == 0)
        done->cancel();
    co_await r.send(libnet::msg::bye{});
    while (co_await r.read()) {
    }
}

} // namespace

TEST_CASE("directory: a join storm completes while hostile connections get bounded work") {
    run([](asio::io_context& ioc) -> asio::awaitable<void> {
        libnet::server_options o;
        o.hello_timeout = 500ms;
        o.max_queue_bytes = 256 * 1024;
        server s(ioc, o);
        auto a = co_await connect(ioc, s, "alice");

        raw slow(ioc); // registers, then never reads again
        slow.socket().open(tcp::v4());
        slow.socket().set_option(asio::socket_base::receive_buffer_size(4096));
        co_await slow.connect(s);
        co_await slow.send(libnet::msg::hello{libnet::protocol_version, "slow", {}, {}});

        std::vector<std::unique_ptr<raw>> silent; // connect and never say HELLO
        for (int i = 0; i < 50; ++i) {
            silent.push_back(std::make_unique<raw>(ioc));
            co_await silent.back()->connect(s);
        }

        constexpr int members = 300;
        auto all = std::make_shared<std::set<std::string>>();
        for (int i = 0; i < members; ++i)
            all->insert(name("s", i));
        auto t = std::make_shared<tally>();
        auto left = std::make_shared<int>(members);
        auto done = std::make_shared<asio::steady_timer>(ioc, 20s);
        for (int i = 0; i < members; ++i)
            asio::co_spawn(ioc, storm_member(ioc, s, name("s", i), all, t, left, done),
                           asio::detached);
        co_await done->async_wait(use_tuple);
        INFO(*left << " storm members incomplete; problems: " << t->problems.size());
        REQUIRE(*left == 0);
        CHECK(t->problems.empty());

        // The joiner that never reads is cut once its queue passes the bound.
        std::string const body(16 * 1024, 'x');
        bool cut = false;
        for (int i = 0; i < 1000 && !cut; ++i) {
            co_await a->async_send("slow", body, use_tuple);
            for (;;) {
                auto [ec, ev] = co_await a->async_receive(0ms, use_tuple);
                if (ec)
                    break;
                if (auto* l = std::get_if<libnet::peer_left>(&ev); l && l->id == "slow") {
                    CHECK(l->reason == libnet::msg::leave_reason::slow_consumer);
                    cut = true;
                }
            }
        }
        CHECK(cut);
        // Connections that never registered were closed at their deadline, with the reason.
        for (auto& r : silent)
            co_await r->expect_error_and_close(libnet::error::hello_timeout);
        CHECK(s->stats().errors[libnet::error::hello_timeout] == 50);
        co_await close(*a);
        co_await s.stop();
    });
}

TEST_CASE("directory: a PING right behind HELLO is answered after the snapshot") {
    run([](asio::io_context& ioc) -> asio::awaitable<void> {
        server s(ioc);
        raw r(ioc);
        co_await r.connect(s);
        std::vector<std::uint8_t> both;
        libnet::msg::encode(libnet::msg::hello{libnet::protocol_version, "eager", {}, {}}, both);
        libnet::msg::encode(libnet::msg::ping{7}, both);
        co_await r.write(both); // one read on the server: registered, then the PING
        std::vector<std::uint16_t> types;
        for (int i = 0; i < 3; ++i) {
            auto f = co_await r.read();
            REQUIRE(f.has_value());
            types.push_back(f->first);
        }
        using libnet::frame_type;
        auto t = [](frame_type ft) {
            return static_cast<std::uint16_t>(ft);
        };
        CHECK(types == std::vector<std::uint16_t>{t(frame_type::welcome), t(frame_type::directory),
                                                  t(frame_type::pong)});
        r.socket().close();
        co_await s.stop();
    });
}

namespace {

// A server from before lookups, by hand: WELCOME and DIRECTORY for one client, then
// ERROR(unknown_type) without a ref for LOOKUP, and a close once the client says BYE.
asio::awaitable<void> old_server(tcp::acceptor& acceptor) {
    auto [aec, sock] = co_await acceptor.async_accept(use_tuple);
    if (aec)
        co_return;
    std::vector<std::uint8_t> out;
    libnet::msg::welcome w;
    w.id = "asker";
    libnet::msg::encode(w, out);
    libnet::msg::directory d;
    d.entries.push_back({"asker", 1, {}});
    libnet::msg::encode(d, out);
    co_await asio::async_write(sock, asio::buffer(out), use_tuple);
    libnet::detail::frame_reader reader(libnet::default_max_frame_size);
    for (;;) {
        auto [ec, n] = co_await sock.async_read_some(reader.prepare(), use_tuple);
        if (ec)
            co_return;
        reader.commit(n);
        for (auto r = reader.next(); r.status == libnet::decode_status::ok; r = reader.next()) {
            if (r.frame.core_type() == libnet::frame_type::bye)
                co_return; // closes the socket
            if (r.frame.core_type() != libnet::frame_type::lookup)
                continue;
            libnet::msg::error e{static_cast<std::uint16_t>(libnet::error::unknown_type),
                                 "unknown frame type",
                                 0,
                                 r.frame.type,
                                 {}};
            std::vector<std::uint8_t> answer;
            libnet::msg::encode(e, answer);
            co_await asio::async_write(sock, asio::buffer(answer), use_tuple);
        }
    }
}

} // namespace

TEST_CASE("directory: async_lookup against a server without LOOKUP fails with unknown_type") {
    run([](asio::io_context& ioc) -> asio::awaitable<void> {
        // A hand-written server of the version before lookups: WELCOME, DIRECTORY, and
        // ERROR(unknown_type) without a ref for a type it does not know.
        tcp::acceptor acceptor(ioc, {asio::ip::make_address("127.0.0.1"), 0});
        auto const port = std::to_string(acceptor.local_endpoint().port());
        asio::co_spawn(ioc, old_server(acceptor), asio::detached);
        libnet::client c(ioc.get_executor(), with_id("asker"));
        auto [cec] = co_await c.async_connect("127.0.0.1", port, use_tuple);
        REQUIRE_FALSE(cec);
        auto [lec, found] = co_await c.async_lookup("bob", use_tuple);
        CHECK(lec == libnet::error::unknown_type);
        CHECK_FALSE(found.has_value());
        co_await close(c);
    });
}
