// SPDX-License-Identifier: BSL-1.0
#include "../../libnet/src/server/guard.hpp"

#include <catch2/catch.hpp>

using libnet::detail::guess_guard;
using namespace std::chrono_literals;

namespace {

libnet::guess_limits limits(std::uint32_t address_burst, std::uint32_t id_burst) {
    libnet::guess_limits l;
    l.address_burst = address_burst;
    l.id_burst = id_burst;
    l.refill = 1000ms;
    l.unregistered_per_address = 2;
    return l;
}

} // namespace

TEST_CASE("guess guard: an address runs out of failures and gets one back per refill") {
    guess_guard g(limits(3, 100));
    auto const t0 = guess_guard::clock::now();
    for (int i = 0; i < 3; ++i) {
        REQUIRE(g.may_try("10.0.0.1", "bob", t0));
        g.failed("10.0.0.1", "bob", t0);
    }
    CHECK_FALSE(g.may_try("10.0.0.1", "bob", t0));
    CHECK_FALSE(g.may_try("10.0.0.1", "carol", t0)); // the address, whatever the id
    CHECK(g.may_try("10.0.0.2", "bob", t0));         // another address
    CHECK_FALSE(g.may_try("10.0.0.1", "bob", t0 + 999ms));
    CHECK(g.may_try("10.0.0.1", "bob", t0 + 1000ms));
    g.failed("10.0.0.1", "bob", t0 + 1000ms);
    CHECK_FALSE(g.may_try("10.0.0.1", "bob", t0 + 1000ms));
}

TEST_CASE("guess guard: an id's bucket holds back guessers, not a clean address") {
    guess_guard g(limits(5, 4));
    auto const t0 = guess_guard::clock::now();
    // Two addresses fail twice each at bob's secret: the id's bucket runs dry.
    std::string const guessers[] = {"10.0.0.1", "10.0.0.2"};
    for (auto const& a : guessers)
        for (int i = 0; i < 2; ++i)
            g.failed(a, "bob", t0);
    CHECK_FALSE(g.may_try("10.0.0.1", "bob", t0)); // failed before: the id's limit applies
    CHECK(g.may_try("10.0.0.1", "carol", t0));     // another id: its own bucket
    CHECK(g.may_try("10.0.0.9", "bob", t0));       // never failed: not held back
    CHECK(g.may_try("10.0.0.1", "bob", t0 + 1000ms));
}

TEST_CASE("guess guard: connections waiting to register are capped per address") {
    guess_guard g(limits(5, 5));
    CHECK(g.opened("10.0.0.1"));
    CHECK(g.opened("10.0.0.1"));
    CHECK_FALSE(g.opened("10.0.0.1"));
    CHECK(g.opened("10.0.0.2"));
    g.settled("10.0.0.1");
    CHECK(g.opened("10.0.0.1"));
}
