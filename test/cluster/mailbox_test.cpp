// SPDX-License-Identifier: BSL-1.0
#include "cluster_harness.hpp"

// Mailboxes of a cluster: kept in NATS, read on whichever node their id logs in.

using namespace test;
using namespace asio::experimental::awaitable_operators;

namespace {

libnet::server_options listed(const nats_cluster& nats, int i, std::string name,
                              std::string_view ids) {
    auto o = node(nats, i, std::move(name));
    o.allow_ids = libnet::parse_id_list(ids);
    return o;
}

asio::awaitable<std::unique_ptr<libnet::client>> resume(asio::io_context& ioc, const server& s,
                                                        std::string id, std::uint64_t after) {
    auto o = with_id(std::move(id));
    o.resume_after = after;
    co_return co_await connect_with(ioc, s, std::move(o));
}

// Sends "0" .. "n-1" to `to`, each confirmed before the next.
asio::awaitable<void> send_confirmed(libnet::client& c, std::string to, int n) {
    for (int i = 0; i < n; ++i) {
        auto [ec, r] = co_await c.async_send_confirmed(to, std::to_string(i), use_tuple);
        INFO("message " << i << ": " << ec.message());
        REQUIRE_FALSE(ec);
        CHECK(r.durable);
    }
}

// Receives `n` messages as `id`, logging in on `a` and `b` in turn and leaving after
// every `per_visit` messages (and what came with them); returns the bodies in arrival
// order.
asio::awaitable<std::vector<std::string>> wander(asio::io_context& ioc, const server& a,
                                                 const server& b, std::string id, int n,
                                                 int per_visit) {
    std::vector<std::string> got;
    std::string trace;
    std::uint64_t last = 0;
    for (int visit = 0; static_cast<int>(got.size()) < n; ++visit) {
        auto c = co_await resume(ioc, visit % 2 ? b : a, id, last);
        auto const want = std::min<std::size_t>(got.size() + per_visit, n);
        while (got.size() < want) {
            INFO("visit " << visit << ", " << got.size() << " messages so far, last "
                          << (got.empty() ? std::string("none") : got.back()) << trace);
            auto ev = co_await next_event(*c, 10'000ms);
            if (auto* m = std::get_if<libnet::message>(&ev)) {
                CHECK(m->mailbox);
                if (!got.empty() && std::stoi(m->body) != std::stoi(got.back()) + 1)
                    trace += " [gap " + got.back() + " -> " + m->body + " seq " +
                             std::to_string(m->seq) + " visit " + std::to_string(visit) +
                             " resumed after " + std::to_string(last) + "]";
                got.push_back(m->body);
            }
        }
        // Leaving acknowledges everything received, the events still queued included:
        // they stay receivable after the close.
        co_await close(*c);
        for (;;) {
            auto [ec, ev] = co_await c->async_receive(1000ms, use_tuple);
            if (ec)
                break;
            if (auto* m = std::get_if<libnet::message>(&ev))
                got.push_back(m->body);
        }
        last = c->last_delivered();
    }
    co_return got;
}

} // namespace

TEST_CASE("cluster: mail for an offline id waits in NATS and comes on any node, once, in order") {
    nats_cluster nats;
    run(
        [&](asio::io_context& ioc) -> asio::awaitable<void> {
            auto const ids = "alice,bob,carol";
            server a(ioc, listed(nats, 0, "a", ids)), b(ioc, listed(nats, 1, "b", ids));
            auto alice = co_await connect(ioc, a, "alice");
            CHECK(alice->has_mailbox());
            constexpr int n = 50;
            for (int i = 0; i < n; ++i) {
                auto [ec] = co_await alice->async_send("bob", "m" + std::to_string(i), use_tuple);
                REQUIRE_FALSE(ec);
            }
            for (int i = 0; i < n; ++i) { // a plain send to an offline id is reported stored
                auto st = co_await expect<libnet::stored>(*alice);
                CHECK(st.to == "bob");
                CHECK(st.offline == 1);
            }
            auto [bec, receipt] = co_await alice->async_broadcast_confirmed("all", use_tuple);
            REQUIRE_FALSE(bec);
            CHECK(receipt.offline == 2);

            // bob logs in on the other node: the stored messages first, then live ones.
            auto bob = co_await connect(ioc, b, "bob");
            auto [lec] = co_await alice->async_send("bob", "live", use_tuple);
            REQUIRE_FALSE(lec);
            auto got = co_await messages(*bob, n + 2);
            for (int i = 0; i < n; ++i) {
                CHECK(got[i].from == "alice");
                CHECK(got[i].body == "m" + std::to_string(i));
                CHECK(got[i].mailbox);
                if (i > 0)
                    CHECK(got[i].seq > got[i - 1].seq);
            }
            CHECK(got[n].body == "all");
            CHECK(got[n].broadcast);
            CHECK(got[n + 1].body == "live");
            auto const seen = bob->last_delivered();
            CHECK(seen == got[n + 1].seq);
            co_await close(*bob);

            // Acknowledged means gone: back on the first node, nothing comes again.
            auto again = co_await resume(ioc, a, "bob", seen);
            auto [nec] = co_await alice->async_send("bob", "next", use_tuple);
            REQUIRE_FALSE(nec);
            auto next = co_await messages(*again, 1);
            CHECK(next[0].body == "next");
            CHECK(next[0].seq > seen);

            // carol, never online, finds the broadcast waiting.
            auto carol = co_await connect(ioc, a, "carol");
            auto hers = co_await messages(*carol, 1);
            CHECK(hers[0].body == "all");
            co_await close(*carol);
            co_await close(*again);
            co_await close(*alice);
            co_await a.stop();
            co_await b.stop();
        },
        60s);
}

TEST_CASE("cluster: a client moving between nodes while a peer streams loses and repeats nothing") {
    nats_cluster nats;
    run(
        [&](asio::io_context& ioc) -> asio::awaitable<void> {
            auto const ids = "alice,bob";
            server a(ioc, listed(nats, 0, "a", ids)), b(ioc, listed(nats, 1, "b", ids));
            auto alice = co_await connect(ioc, a, "alice");
            constexpr int n = 600;
            auto got =
                co_await (send_confirmed(*alice, "bob", n) && wander(ioc, a, b, "bob", n, 70));
            REQUIRE(got.size() == static_cast<std::size_t>(n));
            for (int i = 0; i < n; ++i) {
                INFO("message " << i);
                REQUIRE(got[static_cast<std::size_t>(i)] == std::to_string(i));
            }
            co_await close(*alice);
            co_await a.stop();
            co_await b.stop();
        },
        90s);
}

TEST_CASE("cluster: a full mailbox answers queue_full from any node") {
    nats_cluster nats(1);
    run(
        [&](asio::io_context& ioc) -> asio::awaitable<void> {
            auto o = listed(nats, 0, "a", "alice,bob");
            o.mailbox_max_messages = 5;
            server a(ioc, o);
            auto alice = co_await connect(ioc, a, "alice");
            for (int i = 0; i < 5; ++i) {
                auto [ec, r] = co_await alice->async_send_confirmed("bob", "x", use_tuple);
                REQUIRE_FALSE(ec);
            }
            auto [ec, r] = co_await alice->async_send_confirmed("bob", "one too many", use_tuple);
            CHECK(ec == libnet::error::queue_full);
            co_await close(*alice);
            co_await a.stop();
        },
        60s);
}
