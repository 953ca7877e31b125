// SPDX-License-Identifier: BSL-1.0
#include "../../libnet/src/server/cluster_names.hpp"

#include <catch2/catch.hpp>

// How a cluster names ids, keys, subjects and records on NATS (docs/protocol.md appendix A).

namespace names = libnet::detail::cluster_names;
using libnet::msg::leave_reason;

TEST_CASE("cluster names: ids become one NATS token and come back unchanged") {
    CHECK(names::encode_id("alice_01-x") == "alice_01-x");
    CHECK(names::encode_id("a.b") == "a=2Eb");
    CHECK(names::encode_id("*>") == "=2A=3E");
    CHECK(names::encode_id("a b") == "a=20b");
    CHECK(names::encode_id("=") == "=3D");
    CHECK(names::encode_id("\xc3\xa9") == "=C3=A9");
    for (std::string id : {"alice", "a.b.c", "1.2.3.4:5678", "[::1]:80#2", "x y", "=3D", "é"}) {
        INFO(id);
        auto const token = names::encode_id(id);
        CHECK(token.find_first_of(".*> \t") == std::string::npos);
        CHECK(names::decode_id(token) == id);
    }
}

TEST_CASE("cluster names: a token that is no encoding is refused") {
    CHECK_FALSE(names::decode_id(""));
    CHECK_FALSE(names::decode_id("a="));
    CHECK_FALSE(names::decode_id("a=4"));
    CHECK_FALSE(names::decode_id("a=zz"));
    CHECK_FALSE(names::decode_id("a=2e")); // lower-case hex: not how encode_id spells it
    CHECK_FALSE(names::decode_id("=41"));  // 'A' must stay plain: one spelling per id
    CHECK_FALSE(names::decode_id("a.b"));
}

TEST_CASE("cluster names: keys and subjects and connection names round-trip") {
    CHECK(names::bucket("prod") == "libnet_prod");
    CHECK(names::claim_key("a.b") == "c.a=2Eb");
    CHECK(names::release_key("a.b") == "l.a=2Eb");
    auto k = names::parse_key("c.a=2Eb");
    REQUIRE(k);
    CHECK(k->claim);
    CHECK(k->id == "a.b");
    k = names::parse_key("l.bob");
    REQUIRE(k);
    CHECK_FALSE(k->claim);
    CHECK_FALSE(names::parse_key("x.bob"));
    CHECK_FALSE(names::parse_key("c."));

    auto const s = names::node_subject("prod", "n1");
    CHECK(s == "libnet.prod.n.n1");
    CHECK(names::parse_node_subject("prod", s) == "n1");
    CHECK_FALSE(names::parse_node_subject("other", s));
    CHECK_FALSE(names::parse_node_subject("prod", "libnet.prod.n.n1.x"));
    CHECK(names::broadcast_subject("prod") == "libnet.prod.b");
    CHECK(names::parse_heartbeat_subject("prod", names::heartbeat_subject("prod", "n2")) == "n2");
    CHECK_FALSE(names::parse_heartbeat_subject("prod", "libnet.prod.hb.a.b"));
    CHECK(names::mail_stream("prod") == "libnet_prod_mail");
    CHECK(names::mail_subject("prod", "a b") == "libnet.prod.m.a=20b");
    CHECK(names::mail_filter("prod") == "libnet.prod.m.>");

    auto const conn = names::connection_name("prod", "n1", "ab12");
    CHECK(conn == "libnet/prod/n1/ab12");
    auto i = names::parse_connection_name("prod", conn);
    REQUIRE(i);
    CHECK(i->node == "n1");
    CHECK(i->epoch == "ab12");
    CHECK_FALSE(names::parse_connection_name("prod", "libnet/prod/n1"));
    CHECK_FALSE(names::parse_connection_name("test", conn));
}

TEST_CASE("cluster names: claim and release records round-trip and junk is refused") {
    names::claim c{"n1", "ab12", "10.0.0.1:7000"};
    auto back = names::decode_claim(names::encode_claim(c));
    REQUIRE(back);
    CHECK(back->node == "n1");
    CHECK(back->epoch == "ab12");
    CHECK(back->endpoint == "10.0.0.1:7000");
    back = names::decode_claim(names::encode_claim({"n1", "ab12", ""}));
    REQUIRE(back);
    CHECK(back->endpoint.empty());
    CHECK_FALSE(names::decode_claim("J n1"));
    CHECK_FALSE(names::decode_claim("J n.1 ab12 x"));
    CHECK_FALSE(names::decode_claim("L 1 2"));

    auto r = names::decode_release(names::encode_release({leave_reason::lost, 42}));
    REQUIRE(r);
    CHECK(r->reason == leave_reason::lost);
    CHECK(r->claim == 42);
    CHECK(names::encode_release({leave_reason::bye, 7}) == "L 1 7");
    CHECK_FALSE(names::decode_release("L 1"));
    CHECK_FALSE(names::decode_release("L 0 7"));
    CHECK_FALSE(names::decode_release("L 1 0"));
    CHECK_FALSE(names::decode_release("L 1 7x"));
    CHECK_FALSE(names::decode_release("L 70000 7"));
}

TEST_CASE("cluster names: cluster and node names are single plain tokens") {
    CHECK(names::valid_name("prod-1_a"));
    CHECK_FALSE(names::valid_name(""));
    CHECK_FALSE(names::valid_name("a.b"));
    CHECK_FALSE(names::valid_name("a b"));
    CHECK_FALSE(names::valid_name("a*"));
    CHECK_FALSE(names::valid_name(std::string(65, 'a')));
}

TEST_CASE("cluster names: a batch of records round-trips and a torn one is refused") {
    std::vector<std::uint8_t> batch;
    std::vector<std::uint8_t> const f1{0x00, 0x06, 0x00, 0x00, 0x00, 0x02, 0xaa, 0xbb};
    std::vector<std::uint8_t> const f2{0x00, 0x08, 0x00, 0x00, 0x00, 0x00};
    names::append_record(batch, "alice", "bob", f1);
    names::append_record(batch, "a.b", "", f2);
    std::vector<std::string> seen;
    bool const ok = names::for_each_record(batch, [&](const names::record_view& r) {
        seen.push_back(std::string(r.from) + ">" + std::string(r.to) + ":" +
                       std::to_string(r.frame.size()));
    });
    CHECK(ok);
    CHECK(seen == std::vector<std::string>{"alice>bob:8", "a.b>:6"});
    CHECK(batch.size() == 4 + 5 + 3 + 8 + 4 + 3 + 0 + 6);
    for (std::size_t cut = 1; cut < batch.size(); ++cut) {
        if (cut == 4 + 5 + 3 + 8)
            continue; // a whole first record: a valid batch
        std::size_t n = 0;
        bool const whole = names::for_each_record(std::span(batch.data(), cut),
                                                  [&](const names::record_view&) { ++n; });
        INFO("cut at " << cut);
        CHECK_FALSE(whole);
        CHECK(n == (cut < 4 + 5 + 3 + 8 ? 0u : 1u));
    }
}
