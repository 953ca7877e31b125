// SPDX-License-Identifier: BSL-1.0
#include <libnet/blocking_client.hpp>
#include <libnet/server.hpp>

#include <boost/asio/io_context.hpp>

#include <catch2/catch.hpp>

#include <thread>

using namespace std::chrono_literals;

TEST_CASE("blocking_client: connect, send, receive, terminate without running Asio") {
    boost::asio::io_context ioc;
    libnet::server srv(ioc.get_executor());
    bool stopped = false;
    srv.async_run([&](libnet::error_code) { stopped = true; });
    std::thread server_thread([&] { ioc.run(); });
    auto const port = std::to_string(srv.local_endpoint().port());

    {
        libnet::client_options oa, ob;
        oa.id = "alice";
        ob.id = "bob";
        libnet::blocking_client a(oa), b(ob);
        a.connect("127.0.0.1", port);
        b.connect("127.0.0.1", port);
        CHECK(b.directory().size() == 2);

        auto joined = a.receive(5s);
        REQUIRE(joined);
        CHECK(std::get<libnet::peer_joined>(*joined).peer.id == "bob");
        CHECK_FALSE(a.receive(50ms)); // nothing else pending: times out, loses nothing

        a.send("bob", "hello");
        auto m = b.receive(5s);
        REQUIRE(m);
        CHECK(std::get<libnet::message>(*m).from == "alice");
        CHECK(std::get<libnet::message>(*m).body == "hello");

        b.terminate("bye all");
        auto t = a.receive(5s);
        REQUIRE(t);
        CHECK(std::get<libnet::terminated>(*t).by == "bob");
        try {
            a.receive(5s);
            FAIL("receive after TERM must throw");
        } catch (const boost::system::system_error& e) {
            CHECK(e.code() == libnet::error::terminated);
        }
    }
    server_thread.join();
    CHECK(stopped);
}

namespace {

// A server on its own thread for blocking clients; stopped and joined at the end.
class server_thread {
public:
    explicit server_thread(libnet::server_options o = {}) : srv_(ioc_.get_executor(), o) {
        srv_.async_run([](libnet::error_code) {});
        thread_ = std::thread([this] { ioc_.run(); });
    }
    ~server_thread() {
        srv_.stop();
        thread_.join();
    }
    std::string port() const { return std::to_string(srv_.local_endpoint().port()); }

private:
    boost::asio::io_context ioc_;
    libnet::server srv_;
    std::thread thread_;
};

libnet::client_options named(std::string id) {
    libnet::client_options o;
    o.id = std::move(id);
    o.close_timeout = 250ms;
    return o;
}

// The next event of type T within 5 s, skipping others.
template <class T>
T next(libnet::blocking_client& c) {
    for (int i = 0; i < 100; ++i) {
        auto ev = c.receive(5s);
        REQUIRE(ev);
        if (auto* p = std::get_if<T>(&*ev))
            return std::move(*p);
    }
    FAIL("no such event");
    return {};
}

} // namespace

TEST_CASE("blocking_client: confirmed sends, pull mode and last_delivered") {
    libnet::server_options o;
    o.allow_ids = {"alice", "bob"}; // mailboxes for both
    server_thread s(o);
    libnet::blocking_client a(named("alice"));
    a.connect("127.0.0.1", s.port());
    CHECK(a.has_mailbox());
    auto r = a.send_confirmed("bob", "one");
    CHECK(r.offline == 1);
    a.send_confirmed("bob", "two");
    try {
        a.send_confirmed("mallory", "x");
        FAIL("a confirmed send to an unknown id must throw");
    } catch (const boost::system::system_error& e) {
        CHECK(e.code() == libnet::error::no_such_client);
    }
    auto bo = named("bob");
    bo.pull = true;
    std::uint64_t seen = 0;
    {
        libnet::blocking_client b(bo);
        b.connect("127.0.0.1", s.port());
        auto got = b.fetch(1);
        REQUIRE(got.size() == 1);
        CHECK(got[0].body == "one");
        CHECK(b.last_delivered() == got[0].seq);
        seen = b.last_delivered();
        b.close();
    }
    bo.resume_after = seen; // what the last session took does not come again
    libnet::blocking_client b(bo);
    b.connect("127.0.0.1", s.port());
    auto rest = b.fetch(10);
    REQUIRE(rest.size() == 1);
    CHECK(rest[0].body == "two");
    CHECK(b.fetch(10).empty());
    auto br = a.broadcast_confirmed("all");
    CHECK(br.offline == 0);
    b.close();
    a.close();
}

TEST_CASE("blocking_client: lookups, application types and direct links") {
    server_thread s;
    auto oa = named("alice");
    oa.listen = "127.0.0.1:0";
    auto ob = named("bob");
    ob.listen = "127.0.0.1:0";
    libnet::blocking_client a(oa), b(ob);
    a.connect("127.0.0.1", s.port());
    b.connect("127.0.0.1", s.port());
    CHECK_FALSE(a.listen_endpoint().empty());
    auto found = a.lookup("bob");
    REQUIRE(found);
    CHECK(found->endpoint == b.listen_endpoint());
    CHECK_FALSE(a.lookup("nobody"));

    a.send_app(0x8001, "bob", "typed");
    auto m = next<libnet::message>(b);
    CHECK(m.type == 0x8001);
    CHECK(m.body == "typed");
    CHECK_THROWS_AS(a.send_app(0x0042, "bob", "x"), boost::system::system_error);

    a.connect_peer("bob");
    CHECK(a.linked_peers() == std::vector<std::string>{"bob"});
    a.send("bob", "over the link", libnet::route::direct);
    auto d = next<libnet::message>(b);
    CHECK(d.body == "over the link");
    CHECK(d.via == libnet::route::direct);
    CHECK(a.is_connected());
    a.close();
    CHECK_FALSE(a.is_connected());
    b.close();
}
