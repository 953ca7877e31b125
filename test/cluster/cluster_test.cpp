// SPDX-License-Identifier: BSL-1.0
#include "cluster_harness.hpp"

#include <map>
#include <set>

// Several servers on one NATS cluster: one directory, one id space, messages across nodes.

using namespace test;

TEST_CASE("cluster: a SEND reaches a client on another node: 10000 in order") {
    nats_cluster nats;
    run(
        [&](asio::io_context& ioc) -> asio::awaitable<void> {
            server a(ioc, node(nats, 0, "a")), b(ioc, node(nats, 1, "b"));
            auto alice = co_await connect(ioc, a, "alice");
            auto bob = co_await connect(ioc, b, "bob");
            co_await sees(*alice, "bob");
            constexpr int count = 10'000;
            for (int i = 0; i < count; ++i) {
                auto [ec] = co_await alice->async_send("bob", std::to_string(i), use_tuple);
                REQUIRE_FALSE(ec);
            }
            auto got = co_await messages(*bob, count);
            for (int i = 0; i < count; ++i) {
                INFO("message " << i);
                REQUIRE(got[static_cast<std::size_t>(i)].body == std::to_string(i));
                REQUIRE(got[static_cast<std::size_t>(i)].from == "alice");
            }
            // A confirmed send is confirmed by the recipient's node; bob answers back.
            auto [ec, receipt] = co_await alice->async_send_confirmed("bob", "sure?", use_tuple);
            CHECK_FALSE(ec);
            CHECK(receipt.offline == 0);
            auto [ec2] = co_await bob->async_send("alice", "back", use_tuple);
            REQUIRE_FALSE(ec2);
            auto reply = co_await messages(*alice, 1);
            CHECK(reply[0].from == "bob");
            CHECK(reply[0].body == "back");
            co_await close(*alice);
            co_await close(*bob);
            co_await a.stop();
            co_await b.stop();
        },
        60s);
}

TEST_CASE("cluster: a BROADCAST reaches every client of every node once") {
    nats_cluster nats;
    run(
        [&](asio::io_context& ioc) -> asio::awaitable<void> {
            server s0(ioc, node(nats, 0, "n0")), s1(ioc, node(nats, 1, "n1")),
                s2(ioc, node(nats, 2, "n2"));
            std::vector<server*> servers{&s0, &s1, &s2};
            std::vector<std::unique_ptr<libnet::client>> clients;
            for (int i = 0; i < 6; ++i)
                clients.push_back(co_await connect(ioc, *servers[static_cast<std::size_t>(i % 3)],
                                                   "c" + std::to_string(i)));
            for (auto& c : clients)
                co_await sees(*c, "c5");
            constexpr int count = 100;
            for (int i = 0; i < count; ++i) {
                auto [ec] = co_await clients[0]->async_broadcast(std::to_string(i), use_tuple);
                REQUIRE_FALSE(ec);
            }
            // A marker after the broadcasts: whatever came before it is all there is.
            for (std::size_t k = 1; k < clients.size(); ++k) {
                auto [ec] = co_await clients[0]->async_send(clients[k]->id(), "end", use_tuple);
                REQUIRE_FALSE(ec);
            }
            for (std::size_t k = 1; k < clients.size(); ++k) {
                auto got = co_await messages(*clients[k], count + 1);
                INFO(clients[k]->id());
                for (int i = 0; i < count; ++i) {
                    CHECK(got[static_cast<std::size_t>(i)].broadcast);
                    CHECK(got[static_cast<std::size_t>(i)].body == std::to_string(i));
                }
                CHECK(got.back().body == "end");
            }
            // The sender gets none of its own.
            auto [ec, ev] = co_await clients[0]->async_receive(100ms, use_tuple);
            CHECK(ec);
            co_await close_all(clients, servers);
        },
        60s);
}

TEST_CASE("cluster: two nodes racing for one id: exactly one wins in each of 50 rounds") {
    nats_cluster nats;
    run(
        [&](asio::io_context& ioc) -> asio::awaitable<void> {
            server a(ioc, node(nats, 0, "a")), b(ioc, node(nats, 1, "b"));
            for (int round = 0; round < 50; ++round) {
                INFO("round " << round);
                auto const id = "dup" + std::to_string(round % 5); // ids come back after leaving
                libnet::client ca(ioc.get_executor(), with_id(id)),
                    cb(ioc.get_executor(), with_id(id));
                using namespace asio::experimental::awaitable_operators;
                auto [ea, eb] = co_await (try_connect(ca, a.port()) && try_connect(cb, b.port()));
                INFO("a: " << ea.message() << ", b: " << eb.message());
                REQUIRE((!ea) != (!eb));
                CHECK((ea == libnet::error::id_taken || eb == libnet::error::id_taken));
                co_await close(!ea ? ca : cb);
                // Its id must be free everywhere before the next round claims it again.
                libnet::client probe(ioc.get_executor(), with_id("probe" + std::to_string(round)));
                auto [ep] = co_await probe.async_connect("127.0.0.1", (round % 2 ? a : b).port(),
                                                         use_tuple);
                REQUIRE_FALSE(ep);
                for (;;) {
                    bool listed = false;
                    for (auto const& p : probe.directory())
                        listed = listed || p.id == id;
                    if (!listed)
                        break;
                    auto l = co_await until_left(probe, id);
                    CHECK(l.reason == libnet::msg::leave_reason::bye);
                }
                co_await close(probe);
            }
            co_await a.stop();
            co_await b.stop();
        },
        120s);
}

// Under ASan or TSan a thousand clients take minutes: the sanitizer builds check 300.
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
constexpr bool sanitized = true;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
constexpr bool sanitized = true;
#else
constexpr bool sanitized = false;
#endif
#else
constexpr bool sanitized = false;
#endif

TEST_CASE("cluster: 1000 clients over 3 nodes see one directory in one join order") {
    nats_cluster nats;
    run(
        [&](asio::io_context& ioc) -> asio::awaitable<void> {
            server s0(ioc, node(nats, 0, "n0")), s1(ioc, node(nats, 1, "n1")),
                s2(ioc, node(nats, 2, "n2"));
            std::vector<server*> servers{&s0, &s1, &s2};
            constexpr int count = sanitized ? 300 : 1000, wave = 100;
            std::vector<std::unique_ptr<libnet::client>> clients;
            // Waves of clients register at once, racing on all three nodes.
            for (int first = 0; first < count; first += wave) {
                std::vector<error_code> results(wave);
                asio::steady_timer all_in(ioc, std::chrono::steady_clock::time_point::max());
                int pending = wave;
                for (int i = first; i < first + wave; ++i) {
                    clients.push_back(std::make_unique<libnet::client>(
                        ioc.get_executor(), with_id("p" + std::to_string(i))));
                    clients.back()->async_connect("127.0.0.1",
                                                  servers[static_cast<std::size_t>(i % 3)]->port(),
                                                  [&, k = i - first](error_code ec) {
                                                      results[static_cast<std::size_t>(k)] = ec;
                                                      if (--pending == 0)
                                                          all_in.cancel();
                                                  });
                }
                co_await all_in.async_wait(use_tuple);
                for (auto const& ec : results)
                    REQUIRE_FALSE(ec);
            }
            // Everyone ends up with the whole directory.
            for (auto& c : clients)
                while (c->directory().size() < count)
                    co_await next_event(*c);
            auto const reference = clients.back()->directory();
            REQUIRE(reference.size() == count);
            for (std::size_t i = 1; i < reference.size(); ++i)
                REQUIRE(reference[i - 1].join_seq < reference[i].join_seq);
            for (auto& c : clients) {
                INFO(c->id());
                REQUIRE(c->directory() == reference);
            }
            co_await close_all(clients, servers);
        },
        120s);
}

TEST_CASE("cluster: a client that leaves one node can log in on another at once") {
    nats_cluster nats;
    run(
        [&](asio::io_context& ioc) -> asio::awaitable<void> {
            server a(ioc, node(nats, 0, "a")), b(ioc, node(nats, 1, "b"));
            auto watcher = co_await connect(ioc, a, "watcher");
            for (int i = 0; i < 20; ++i) {
                auto mover = co_await connect(ioc, i % 2 ? a : b, "mover");
                co_await sees(*watcher, "mover");
                co_await close(*mover);
                auto l = co_await until_left(*watcher, "mover");
                CHECK(l.reason == libnet::msg::leave_reason::bye);
            }
            // An unknown id is answered, not dropped.
            auto [ec] = co_await watcher->async_send("nobody", "x", use_tuple);
            REQUIRE_FALSE(ec);
            libnet::server_error e;
            for (;;) { // past the last mover's events
                auto ev = co_await next_event(*watcher);
                if (auto* p = std::get_if<libnet::server_error>(&ev)) {
                    e = *p;
                    break;
                }
            }
            CHECK(e.code == libnet::error::no_such_client);
            co_await close(*watcher);
            co_await a.stop();
            co_await b.stop();
        },
        60s);
}

TEST_CASE("cluster: a node that stops takes its clients out of every directory") {
    nats_cluster nats(1); // one NATS server is a cluster too (a bucket of one replica)
    run(
        [&](asio::io_context& ioc) -> asio::awaitable<void> {
            server a(ioc, node(nats, 0, "a"));
            auto b = std::make_unique<server>(ioc, node(nats, 0, "b"));
            auto alice = co_await connect(ioc, a, "alice");
            auto bob = co_await connect(ioc, *b, "bob");
            co_await sees(*alice, "bob");
            co_await b->stop();
            auto l = co_await until_left(*alice, "bob");
            CHECK(l.reason == libnet::msg::leave_reason::terminated);
            auto const end = co_await end_of(*bob);
            CHECK(end == libnet::error::terminated);
            // bob's id is free: he logs in on the node that is left.
            auto again = co_await connect(ioc, a, "bob");
            co_await close(*again);
            co_await close(*alice);
            co_await a.stop();
        },
        60s);
}

TEST_CASE(
    "cluster: a direct link between clients of two nodes is introduced by the acceptor's node") {
    nats_cluster nats(1);
    run(
        [&](asio::io_context& ioc) -> asio::awaitable<void> {
            server a(ioc, node(nats, 0, "a")), b(ioc, node(nats, 0, "b"));
            auto alice = co_await connect_with(ioc, a, listening("alice"));
            auto bob = co_await connect(ioc, b, "bob");
            co_await sees(*bob, "alice");
            co_await sees(*alice, "bob");
            auto [ec] = co_await bob->async_connect_peer("alice", use_tuple);
            REQUIRE_FALSE(ec);
            auto up1 = co_await next_of<libnet::link_up>(*bob);
            CHECK(up1.id == "alice");
            auto up2 = co_await next_of<libnet::link_up>(*alice);
            CHECK(up2.id == "bob");
            auto [e2] =
                co_await bob->async_send("alice", "direct", libnet::route::direct, use_tuple);
            REQUIRE_FALSE(e2);
            auto m = co_await next_of<libnet::message>(*alice);
            CHECK(m.body == "direct");
            CHECK(m.via == libnet::route::direct);
            // One that does not listen can't be dialed, on whichever node it is.
            auto carol = co_await connect(ioc, b, "carol");
            co_await sees(*alice, "carol");
            auto [e3] = co_await alice->async_connect_peer("carol", use_tuple);
            CHECK(e3 == libnet::error::no_peer_link);
            auto [e4] = co_await alice->async_connect_peer("nobody", use_tuple);
            CHECK(e4 == libnet::error::no_such_client);
            co_await close(*carol);
            co_await close(*alice);
            co_await close(*bob);
            co_await a.stop();
            co_await b.stop();
        },
        60s);
}
