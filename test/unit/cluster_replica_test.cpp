// SPDX-License-Identifier: BSL-1.0
#include "../../libnet/src/server/cluster_replica.hpp"

#include <catch2/catch.hpp>

// The rules a node applies to the cluster's directory (docs/protocol.md appendix A.3-A.6),
// fed records by hand, with a link that records what the node would publish.

using libnet::detail::cluster_replica;
namespace names = libnet::detail::cluster_names;
using libnet::msg::leave_reason;
using namespace std::chrono_literals;

namespace {

struct fake final : libnet::detail::cluster_events, cluster_replica::link {
    std::vector<std::string> seen; // what the server was told, in order
    std::vector<std::string> sent; // what the link was asked to do, in order
    std::vector<std::function<void()>> timers;
    bool session_alive = true;

    bool cluster_claimed(const std::string& id, std::uint64_t rev) override {
        seen.push_back("claimed " + id + " " + std::to_string(rev));
        return session_alive;
    }
    void cluster_claim_failed(const std::string& id, libnet::error_code ec) override {
        seen.push_back("failed " + id + " " +
                       std::string(libnet::to_string(static_cast<libnet::error>(ec.value()))));
    }
    void cluster_joined(const std::string& id, std::uint64_t rev, const std::string& node,
                        const std::string&) override {
        seen.push_back("joined " + id + " " + std::to_string(rev) + " " + node);
    }
    void cluster_left(const std::string& id, std::uint64_t rev, leave_reason r) override {
        seen.push_back("left " + id + " " + std::to_string(rev) + " " +
                       std::string(libnet::msg::to_string(r)));
    }
    void cluster_frame(std::string_view, std::string_view, std::string_view,
                       std::span<const std::uint8_t>) override {}
    bool cluster_logging() const noexcept override { return false; }
    void cluster_log(const libnet::log_record&) override {}
    void cluster_stored(std::uint64_t, libnet::error_code) override {}
    void cluster_mailbox_opened(const std::string&, std::uint64_t, std::uint64_t, std::uint64_t,
                                libnet::error_code) override {}
    void cluster_mail(const std::string&, std::uint64_t, std::uint64_t, std::uint64_t, std::int64_t,
                      std::span<const std::uint8_t>) override {}

    void publish_claim(const std::string& id, const std::string& v) override {
        sent.push_back("claim " + id + " " + v);
    }
    void publish_release(const std::string& id, const std::string& v) override {
        sent.push_back("release " + id + " " + v);
    }
    void delete_claim(std::uint64_t rev) override {
        sent.push_back("delete " + std::to_string(rev));
    }
    void after(cluster_replica::clock::duration, std::function<void()> f) override {
        timers.push_back(std::move(f));
    }
    bool connected() const override { return true; }

    void fire_timers() {
        auto now = std::move(timers);
        timers.clear();
        for (auto& f : now)
            f();
    }
};

names::claim on(std::string node, std::string epoch) {
    return {std::move(node), std::move(epoch), ""};
}

} // namespace

TEST_CASE("cluster replica: a claim wins when its own record comes back in the watch") {
    fake f;
    cluster_replica r("a", "e1", 200ms, 4, f, f);
    r.claim("alice", "");
    REQUIRE(f.sent == std::vector<std::string>{"claim alice J a e1 "});
    r.on_claim("bob", 3, on("b", "e2"));
    r.on_claim("alice", 4, on("a", "e1"));
    CHECK(f.seen == std::vector<std::string>{"joined bob 3 b", "claimed alice 4"});
    r.on_claim("alice", 4, on("a", "e1")); // a watch replaying what it showed
    CHECK(f.seen.size() == 2);
}

TEST_CASE("cluster replica: a claim refused by a live holder fails after a heartbeat interval") {
    fake f;
    cluster_replica r("a", "e1", 200ms, 4, f, f);
    r.on_claim("alice", 3, on("b", "e2"));
    r.claim("alice", "");
    r.on_claim_refused("alice", 3);
    REQUIRE(f.timers.size() == 1);
    f.fire_timers();
    CHECK(f.seen.back() == "failed alice id_taken");
}

TEST_CASE("cluster replica: a claim refused while the holder leaves tries again and wins") {
    fake f;
    cluster_replica r("a", "e1", 200ms, 4, f, f);
    r.on_claim("alice", 3, on("b", "e2"));
    r.claim("alice", "");
    r.on_claim_refused("alice", 5); // the watch is behind: wait for revision 5
    CHECK(f.timers.empty());
    r.on_release("alice", {leave_reason::bye, 3}); // at revision 5
    CHECK(f.seen.back() == "left alice 3 bye");
    REQUIRE(f.timers.size() == 1);
    f.fire_timers(); // the holder's claim message is being deleted: claim again
    CHECK(f.sent.back() == "claim alice J a e1 ");
    r.on_claim("alice", 6, on("a", "e1"));
    CHECK(f.seen.back() == "claimed alice 6");
}

TEST_CASE("cluster replica: releases of earlier claims are ignored and a later claim supersedes") {
    fake f;
    cluster_replica r("a", "e1", 200ms, 4, f, f);
    r.on_claim("alice", 3, on("b", "e2"));
    r.on_claim("alice", 7, on("c", "e3")); // its release record never came
    r.on_release("alice", {leave_reason::bye, 3});
    CHECK(f.seen ==
          std::vector<std::string>{"joined alice 3 b", "left alice 3 closed", "joined alice 7 c"});
}

TEST_CASE("cluster replica: a session gone while it claimed gives its id back") {
    fake f;
    f.session_alive = false;
    cluster_replica r("a", "e1", 200ms, 4, f, f);
    r.claim("alice", "");
    r.on_claim("alice", 2, on("a", "e1"));
    CHECK(f.sent.back() == "release alice L 3 2");
}

TEST_CASE(
    "cluster replica: an earlier run of this node is dead at once and others after the grace") {
    fake f;
    cluster_replica r("a", "e1", 1h, 1, f, f); // a grace nobody outlives in this test
    r.on_claim("old", 2, on("a", "e0"));       // this node's previous run
    r.on_claim("quiet", 3, on("b", "e2"));     // a node not heard yet
    r.on_beat("c", "e3");
    r.on_claim("alive", 4, on("c", "e3"));
    r.find_dead();
    CHECK(f.sent == std::vector<std::string>{"release old L 2 2"});
    r.find_dead(); // a release on its way is not sent twice
    CHECK(f.sent.size() == 1);

    fake g;
    cluster_replica s("a", "e1", 0ms, 1, g, g); // no grace: every silence is death
    s.on_claim("quiet", 3, on("b", "e2"));
    s.find_dead();
    CHECK(g.sent == std::vector<std::string>{"release quiet L 2 3"});
}
