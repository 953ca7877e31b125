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
