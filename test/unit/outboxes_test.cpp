// SPDX-License-Identifier: BSL-1.0
#include "../../libnet/src/server/cluster_names.hpp"
#include "../../libnet/src/server/outboxes.hpp"

#include <catch2/catch.hpp>

// Frames for other nodes, batched per node: one publish per burst, in order, never larger
// than NATS accepts.

using libnet::detail::outboxes;
namespace names = libnet::detail::cluster_names;

namespace {

struct wire {
    std::vector<std::pair<std::string, std::vector<std::uint8_t>>> published;
    std::vector<std::function<void()>> posted;

    outboxes make() {
        return outboxes(
            "prod",
            [this](const std::string& subject, std::span<const std::uint8_t> batch) {
                published.emplace_back(subject,
                                       std::vector<std::uint8_t>(batch.begin(), batch.end()));
            },
            [this](std::function<void()> f) { posted.push_back(std::move(f)); });
    }
    void run_posted() {
        auto now = std::move(posted);
        posted.clear();
        for (auto& f : now)
            f();
    }
    std::vector<std::string> bodies(std::size_t i) const { // "from>to" of each record
        std::vector<std::string> out;
        names::for_each_record(published.at(i).second, [&](const names::record_view& r) {
            out.push_back(std::string(r.from) + ">" + std::string(r.to));
        });
        return out;
    }
};

const std::vector<std::uint8_t> frame{0x00, 0x06, 0x00, 0x00, 0x00, 0x00};

} // namespace

TEST_CASE("outboxes: a burst for one node leaves as one batch when its flush runs") {
    wire w;
    auto o = w.make();
    CHECK(o.add("b", "alice", "bob", frame, 1 << 20));
    CHECK(o.add("b", "carol", "dave", frame, 1 << 20));
    CHECK(o.add("c", "alice", "erin", frame, 1 << 20));
    CHECK(w.published.empty());
    CHECK(w.posted.size() == 2); // one flush per node with something waiting
    w.run_posted();
    REQUIRE(w.published.size() == 2);
    CHECK(w.published[0].first == "libnet.prod.n.b");
    CHECK(w.bodies(0) == std::vector<std::string>{"alice>bob", "carol>dave"});
    CHECK(w.published[1].first == "libnet.prod.n.c");
    CHECK(w.bodies(1) == std::vector<std::string>{"alice>erin"});
    // Emptied: the next frame posts a new flush.
    CHECK(o.add("b", "alice", "bob", frame, 1 << 20));
    CHECK(w.posted.size() == 1);
}

TEST_CASE("outboxes: a batch near the payload limit leaves before it would pass it") {
    wire w;
    auto o = w.make();
    std::size_t const max = 100; // a record here is 4 + 5 + 3 + 6 = 18 bytes
    for (int i = 0; i < 2; ++i)
        CHECK(o.add("b", "alice", "bob", frame, max));
    CHECK(w.published.empty()); // 36 bytes; a third record would pass half the limit
    CHECK(o.add("b", "alice", "bob", frame, max));
    REQUIRE(w.published.size() == 1);
    CHECK(w.bodies(0).size() == 2);
    w.run_posted();
    REQUIRE(w.published.size() == 2);
    CHECK(w.bodies(1).size() == 1);
    // A record larger than the limit is refused, not sent.
    std::vector<std::uint8_t> big(200, 0);
    big[5] = 194;
    CHECK_FALSE(o.add("b", "alice", "bob", big, max));
}

TEST_CASE("outboxes: flush_all sends what waits so that a broadcast cannot overtake it") {
    wire w;
    auto o = w.make();
    CHECK(o.add("b", "alice", "bob", frame, 1 << 20));
    o.flush_all();
    REQUIRE(w.published.size() == 1);
    w.run_posted(); // the posted flush finds nothing left
    CHECK(w.published.size() == 1);
}
