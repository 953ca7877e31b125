// SPDX-License-Identifier: BSL-1.0
// server::update_access: the allow list and the secrets replaced while clients are online.

#include "harness.hpp"

#include <atomic>
#include <thread>

using namespace test;

namespace {

libnet::client_options with_secret(std::string id, std::string secret) {
    auto o = with_id(std::move(id));
    o.credentials = std::move(secret);
    return o;
}

} // namespace

TEST_CASE("access: update_access closes clients no longer allowed and keeps the others") {
    run([](asio::io_context& ioc) -> asio::awaitable<void> {
        auto o = allow("alice,bob");
        o.secrets["dave"] = "d1";
        server s(ioc, o);
        auto a = co_await connect(ioc, s, "alice");
        auto b = co_await connect(ioc, s, "bob");
        auto d = (co_await try_connect(ioc, s, with_secret("dave", "d1"))).first;
        REQUIRE(d->is_connected());

        // bob leaves the list, dave's secret changes, erin is new.
        auto const closed =
            s->update_access(libnet::parse_id_list("alice,erin"), secret_of("dave", "d2"));
        CHECK(closed == 2);
        CHECK(co_await end_of(*b) == libnet::error::not_allowed);
        CHECK(co_await end_of(*d) == libnet::error::auth_failed);
        std::set<std::string> gone;
        while (gone.size() < 2) {
            auto ev = co_await next_event(*a);
            if (auto* l = std::get_if<libnet::peer_left>(&ev))
                gone.insert(l->id);
        }
        CHECK(gone == libnet::parse_id_list("bob,dave"));

        // alice stayed; erin has a mailbox now; bob is refused; dave needs the new secret.
        auto [ec, r] = co_await a->async_send_confirmed("erin", "hello", use_tuple);
        CHECK_FALSE(ec);
        CHECK(r.offline == 1);
        auto again = co_await try_connect(ioc, s, with_id("bob"));
        CHECK(again.second == libnet::error::not_allowed);
        auto old = co_await try_connect(ioc, s, with_secret("dave", "d1"));
        CHECK(old.second == libnet::error::auth_failed);
        auto d2 = co_await try_connect(ioc, s, with_secret("dave", "d2"));
        CHECK_FALSE(d2.second);
        auto e = co_await connect(ioc, s, "erin");
        auto mail = co_await messages(*e, 1);
        CHECK(mail.front().body == "hello");
        CHECK(mail.front().from == "alice");

        co_await close(*e);
        co_await close(*d2.first);
        co_await close(*a);
        co_await s.stop();
    });
}

TEST_CASE("access: update_access refuses a change it cannot make and keeps the rules") {
    run([](asio::io_context& ioc) -> asio::awaitable<void> {
        server s(ioc, allow("alice"));
        auto a = co_await connect(ioc, s, "alice");
        std::set<std::string> const none;
        std::map<std::string, std::string> const no_secrets;
        // Turning the list off would let anyone in.
        CHECK_THROWS_AS(s->update_access(none, no_secrets), std::invalid_argument);
        CHECK_THROWS_AS(s->update_access(libnet::parse_id_list("alice"), secret_of("a b", "x")),
                        std::invalid_argument);
        auto bob = co_await try_connect(ioc, s, with_id("bob"));
        CHECK(bob.second == libnet::error::not_allowed);
        CHECK(a->is_connected());

        // Without an allow list only the secrets can change.
        server open(ioc);
        CHECK_THROWS_AS(open->update_access(libnet::parse_id_list("x"), no_secrets),
                        std::invalid_argument);
        CHECK(open->update_access(none, secret_of("carol", "c")) == 0);
        auto c = co_await try_connect(ioc, open, with_id("carol"));
        CHECK(c.second == libnet::error::auth_failed);
        auto anyone = co_await connect(ioc, open, "zed");

        co_await close(*anyone);
        co_await close(*a);
        co_await open.stop();
        co_await s.stop();
    });
}

// Registrations on two threads while another thread changes the rules: a client checked
// against the old rules must not slip in after the change.
TEST_CASE("access: clients registering while the rules change are held to the new ones") {
    constexpr int n = 40;
    asio::io_context ioc;
    libnet::server_options o;
    for (int i = 0; i < n; ++i)
        o.allow_ids.insert("c" + std::to_string(i));
    libnet::server srv(ioc.get_executor(), test_options(o));
    srv.async_run([](error_code) {});
    auto const port = std::to_string(srv.local_endpoint().port());

    std::atomic<int> welcomed{0};
    std::set<std::string> evens;
    for (int i = 0; i < n; i += 2)
        evens.insert("c" + std::to_string(i));
    std::thread changer([&] {
        welcomed.wait(0); // the storm has begun
        srv.update_access(evens, {});
    });

    std::vector<std::unique_ptr<libnet::client>> clients;
    std::vector<error_code> connected(n), ended(n);
    std::atomic<int> finished{0};
    // An odd id that got in must be closed: receive until the session ends.
    std::function<void(int)> drain = [&](int i) {
        clients[i]->async_receive(std::chrono::milliseconds(5000),
                                  [&, i](error_code ec, libnet::event) {
                                      if (!ec)
                                          return drain(i);
                                      ended[i] = ec;
                                      finished.fetch_add(1);
                                  });
    };
    for (int i = 0; i < n; ++i) {
        clients.push_back(
            std::make_unique<libnet::client>(ioc.get_executor(), with_id("c" + std::to_string(i))));
        clients.back()->async_connect("127.0.0.1", port, [&, i](error_code ec) {
            connected[i] = ec;
            welcomed.fetch_add(1);
            welcomed.notify_all();
            if (ec || i % 2 == 0)
                finished.fetch_add(1);
            else
                drain(i);
        });
    }
    auto const deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    std::thread second([&] { ioc.run_until(deadline); });
    while (finished.load() < n && std::chrono::steady_clock::now() < deadline)
        ioc.run_one_until(deadline);
    changer.join();
    REQUIRE(finished.load() == n);
    for (int i = 0; i < n; ++i) {
        INFO("c" << i << ": connect " << connected[i].message() << ", end " << ended[i].message());
        if (i % 2 == 0)
            CHECK_FALSE(connected[i]);
        else if (connected[i])
            CHECK(connected[i] == libnet::error::not_allowed);
        else
            CHECK(ended[i] == libnet::error::not_allowed);
    }
    for (int i = 0; i < n; i += 2)
        clients[i]->async_close([](error_code) {});
    srv.stop();
    ioc.run_until(deadline);
    second.join();
    CHECK(ioc.stopped());
}
