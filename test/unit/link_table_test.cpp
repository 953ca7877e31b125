// SPDX-License-Identifier: BSL-1.0
#include "../../libnet/src/client/link_table.hpp"

#include <boost/asio/io_context.hpp>

#include <catch2/catch.hpp>

#include <memory>

// The client's link table: who is online, links by peer, used tokens and the records that
// recognise messages re-sent through the server after a link dropped. Links here are never
// run (no sockets); the table only looks at their state.

using libnet::detail::link_table;
using libnet::detail::peer_link;

namespace {
struct fixture {
    boost::asio::io_context ioc; // never run: nothing a link posts is handled
    libnet::client_options options;
    link_table table;

    std::shared_ptr<peer_link> link(std::string peer, std::uint64_t id, bool dialer = true) {
        auto l = std::make_shared<peer_link>(
            libnet::detail::transport(boost::asio::ip::tcp::socket(ioc)), options, nullptr, dialer);
        l->peer = std::move(peer);
        l->id = id;
        return l;
    }
};
} // namespace

TEST_CASE("link_table: an accepted link is found by peer only once identified") {
    fixture f;
    auto l = f.link("", 0, false);
    f.table.add_accepted(l);
    CHECK_FALSE(f.table.empty());
    CHECK(f.table.none_identified());
    l->peer = "bob";
    l->id = 7;
    f.table.identified(l);
    CHECK(f.table.find("bob") == l.get());
    CHECK_FALSE(f.table.none_identified());
    int visited = 0;
    f.table.for_each([&visited](peer_link&) { ++visited; });
    CHECK(visited == 1); // no longer among the accepted ones
    CHECK(f.table.finished(l));
    CHECK(f.table.find("bob") == nullptr);
    CHECK(f.table.empty());
}

TEST_CASE("link_table: a finished link's deliveries are remembered while its peer is online") {
    fixture f;
    f.table.joined("bob", 3, "127.0.0.1:1");
    auto l = f.link("bob", 7);
    f.table.add_dialed(l);
    l->st = peer_link::state::up;
    CHECK_FALSE(f.table.seen_before("bob", 7, 1)); // over the link: counts as delivered
    CHECK(f.table.seen_before("bob", 7, 1));
    l->delivered = 5;
    CHECK(f.table.finished(l));
    CHECK(f.table.seen_before("bob", 7, 5)); // came over the link before it dropped
    CHECK_FALSE(f.table.seen_before("bob", 7, 6));
    CHECK(f.table.seen_before("bob", 7, 6)); // the re-sent copy came first: the link's is late
    CHECK_FALSE(f.table.seen_before("bob", 8, 1)); // another link: unknown here
    f.table.left("bob");
    CHECK(f.table.live("bob") == nullptr);
    CHECK_FALSE(f.table.seen_before("bob", 7, 6)); // records go with the peer
}

TEST_CASE("link_table: no record for a peer that is gone or a link never verified") {
    fixture f;
    auto gone = f.link("carol", 9);
    gone->st = peer_link::state::up;
    gone->delivered = 4;
    f.table.add_dialed(gone);
    CHECK(f.table.finished(gone)); // carol is not live
    CHECK_FALSE(f.table.seen_before("carol", 9, 1));

    f.table.joined("dave", 4, "127.0.0.1:2");
    auto unverified = f.link("dave", 11);
    unverified->delivered = 4;
    f.table.add_dialed(unverified);
    CHECK(f.table.finished(unverified));
    CHECK_FALSE(f.table.seen_before("dave", 11, 1));
}

TEST_CASE("link_table: a link replaced by a newer one to the same peer is not current") {
    fixture f;
    auto old_link = f.link("bob", 1);
    auto new_link = f.link("bob", 2);
    f.table.add_dialed(old_link);
    f.table.add_dialed(new_link);
    CHECK_FALSE(f.table.finished(old_link));
    CHECK(f.table.find("bob") == new_link.get());
}

TEST_CASE("link_table: a token is accepted once, and forgotten when it expires") {
    fixture f;
    CHECK(f.table.fresh_token("nonce-1", 100, 50));
    CHECK_FALSE(f.table.fresh_token("nonce-1", 100, 60));
    CHECK(f.table.fresh_token("nonce-2", 200, 60));
    CHECK(f.table.fresh_token("nonce-1", 300, 100)); // expired at 100: forgotten
}

TEST_CASE("link_table: the live directory as frames arrive") {
    fixture f;
    CHECK(f.table.live("bob") == nullptr);
    f.table.joined("bob", 3, "127.0.0.1:1");
    REQUIRE(f.table.live("bob") != nullptr);
    CHECK(f.table.live("bob")->join_seq == 3);
    CHECK(f.table.live("bob")->endpoint == "127.0.0.1:1");
    f.table.joined("bob", 5, ""); // joined again: the newer entry
    CHECK(f.table.live("bob")->join_seq == 5);
    f.table.left("bob");
    CHECK(f.table.live("bob") == nullptr);
}
