// SPDX-License-Identifier: BSL-1.0
#include "../../libnet/src/udp/channel.hpp"

#include <boost/endian/conversion.hpp>

#include <catch2/catch.hpp>

#include <queue>
#include <random>
#include <set>
#include <vector>

// The reliable channel of docs/protocol.md §17.5 between two ends over a simulated link
// with virtual time: loss, duplication, reordering and delay, seeded.

using namespace libnet::detail::udp;
using namespace std::chrono_literals;
using bytes = std::vector<std::uint8_t>;
using time_point = channel::time_point;

namespace {

bytes frame(std::uint32_t n, std::size_t size) {
    bytes f(6 + size);
    boost::endian::store_big_u16(f.data(), 0x8001);
    boost::endian::store_big_u32(f.data() + 2, static_cast<std::uint32_t>(size));
    for (std::size_t i = 0; i < size; ++i)
        f[6 + i] = static_cast<std::uint8_t>(n + i);
    if (size >= 4)
        boost::endian::store_big_u32(f.data() + 6, n);
    return f;
}

struct link_conditions {
    double loss = 0, duplicate = 0, reorder = 0;
    std::chrono::microseconds delay{100}, jitter{0};
};

// Two channels and the datagrams in flight between them, in virtual time.
class simulation {
public:
    simulation(link_conditions c, channel_limits limits, unsigned seed)
        : cond_(c), rng_(seed), a_(1, limits), b_(1, limits) {}

    channel& a() { return a_; }
    channel& b() { return b_; }
    time_point now() const { return now_; }
    std::uint64_t datagrams() const { return datagrams_; }
    std::uint64_t max_datagram_seen() const { return max_seen_; }
    /// Loses the next transmission of a's packet `number` on its way to b.
    void drop_once(std::uint32_t number) { drops_.insert(number); }

    // Moves time to the next event and handles everything due then.
    void step() {
        auto next = std::min(a_.deadline(), b_.deadline());
        if (!air_.empty())
            next = std::min(next, air_.top().at);
        if (next == time_point::max())
            next = now_ + 1ms;
        now_ = std::max(now_, next);
        while (!air_.empty() && air_.top().at <= now_) {
            auto d = air_.top();
            air_.pop();
            auto r = decode(d.data);
            REQUIRE(r.value);
            (d.to_b ? b_ : a_).receive(std::get<data_datagram>(*r.value), now_);
        }
        pump(a_, true);
        pump(b_, false);
    }

    void pump(channel& from, bool to_b) {
        bytes out(max_datagram);
        for (std::size_t n; (n = from.next_datagram(out, now_)) != 0;) {
            ++datagrams_;
            max_seen_ = std::max<std::uint64_t>(max_seen_, n);
            bytes d(out.begin(), out.begin() + static_cast<std::ptrdiff_t>(n));
            if (chance(cond_.loss) || (to_b && dropped(d)))
                continue;
            send(d, to_b);
            if (chance(cond_.duplicate))
                send(d, to_b);
        }
    }

private:
    struct in_air {
        time_point at;
        std::uint64_t order;
        bool to_b;
        bytes data;
        bool operator>(const in_air& o) const { return at != o.at ? at > o.at : order > o.order; }
    };
    bool dropped(const bytes& d) {
        auto r = decode(d);
        auto const& data = std::get<data_datagram>(*r.value);
        return (data.flags & flag_packet) && drops_.erase(data.number) > 0;
    }
    bool chance(double p) { return p > 0 && std::uniform_real_distribution<>(0, 1)(rng_) < p; }
    void send(const bytes& d, bool to_b) {
        auto at = now_ + cond_.delay;
        if (cond_.jitter.count() > 0)
            at += std::chrono::microseconds(
                std::uniform_int_distribution<std::int64_t>(0, cond_.jitter.count())(rng_));
        if (chance(cond_.reorder))
            at += 3 * cond_.delay; // overtaken by those sent after it
        air_.push({at, order_++, to_b, d});
    }

    link_conditions cond_;
    std::mt19937 rng_;
    channel a_, b_;
    time_point now_ = time_point() + 1h;
    std::priority_queue<in_air, std::vector<in_air>, std::greater<>> air_;
    std::uint64_t order_ = 0, datagrams_ = 0, max_seen_ = 0;
    std::set<std::uint32_t> drops_;
};

// Feeds `count` frames of varying size into `from` as room allows and checks they come out
// of `to` whole, once and in order.
class stream_check {
public:
    stream_check(std::uint32_t count, std::size_t max_size) : count_(count), max_size_(max_size) {}

    void feed(channel& from) {
        while (true) {
            if (pending_.empty()) {
                if (queued_ == count_)
                    return;
                pending_ = frame(queued_, size_of(queued_));
                ++queued_;
                at_ = 0;
            }
            auto const n = from.write({pending_.data() + at_, pending_.size() - at_});
            at_ += n;
            if (at_ < pending_.size())
                return;
            pending_.clear();
        }
    }

    void drain(channel& to, time_point now) {
        std::uint8_t buf[4096];
        for (std::size_t n; (n = to.read(buf, now)) != 0;)
            got_.insert(got_.end(), buf, buf + n);
        // Whole frames off the front, each the next expected one.
        std::size_t at = 0;
        while (got_.size() - at >= 6) {
            auto const len = boost::endian::load_big_u32(got_.data() + at + 2);
            if (got_.size() - at < 6 + len)
                break;
            bytes const f(got_.begin() + static_cast<std::ptrdiff_t>(at),
                          got_.begin() + static_cast<std::ptrdiff_t>(at + 6 + len));
            REQUIRE(f == frame(received_, size_of(received_)));
            ++received_;
            at += 6 + len;
        }
        got_.erase(got_.begin(), got_.begin() + static_cast<std::ptrdiff_t>(at));
    }

    bool done() const { return received_ == count_; }
    std::uint32_t received() const { return received_; }

private:
    std::size_t size_of(std::uint32_t n) const { return 4 + (n * 7919u) % (max_size_ - 3); }

    std::uint32_t count_, queued_ = 0, received_ = 0;
    std::size_t max_size_;
    bytes pending_;
    std::size_t at_ = 0;
    bytes got_;
};

// Runs both directions until done or until `limit` of virtual time passed.
void exchange(simulation& sim, stream_check& ab, stream_check& ba, std::chrono::seconds limit) {
    auto const end = sim.now() + limit;
    while (!(ab.done() && ba.done()) && sim.now() < end) {
        ab.feed(sim.a());
        ba.feed(sim.b());
        sim.step();
        ab.drain(sim.b(), sim.now());
        ba.drain(sim.a(), sim.now());
        REQUIRE_FALSE(sim.a().failure());
        REQUIRE_FALSE(sim.b().failure());
    }
}

} // namespace

TEST_CASE("udp channel: frames arrive whole and in order on a clean link") {
    simulation sim({}, {}, 1);
    stream_check ab(2000, 64), ba(2000, 300);
    exchange(sim, ab, ba, 30s);
    CHECK(ab.done());
    CHECK(ba.done());
    CHECK(sim.a().stats().retransmitted == 0);
    CHECK(sim.max_datagram_seen() <= 1200);
}

TEST_CASE("udp channel: 10,000 frames each way arrive once and in order at 10 % loss") {
    link_conditions c;
    c.loss = 0.10;
    c.duplicate = 0.05;
    c.reorder = 0.05;
    c.delay = 2ms;
    c.jitter = 1ms;
    for (unsigned seed : {1u, 2u, 3u}) {
        INFO("seed " << seed);
        simulation sim(c, {}, seed);
        stream_check ab(10'000, 64), ba(10'000, 200);
        exchange(sim, ab, ba, 600s);
        CHECK(ab.received() == 10'000);
        CHECK(ba.received() == 10'000);
        CHECK(sim.a().stats().retransmitted > 0);
        CHECK(sim.b().stats().duplicates > 0);
    }
}

TEST_CASE("udp channel: frames larger than a datagram are fragmented and reassembled") {
    link_conditions c;
    c.loss = 0.05;
    c.reorder = 0.05;
    simulation sim(c, {}, 7);
    stream_check ab(200, 20'000), ba(200, 5'000);
    exchange(sim, ab, ba, 300s);
    CHECK(ab.done());
    CHECK(ba.done());
    CHECK(sim.max_datagram_seen() <= 1200);
}

TEST_CASE("udp channel: the congestion window halves on loss and grows back") {
    link_conditions c;
    c.delay = 5ms;
    simulation sim(c, {}, 1);
    stream_check ab(3000, 1000), none(0, 8);
    exchange(sim, ab, none, 60s);
    REQUIRE(ab.done());
    auto const grown = sim.a().stats().cwnd;
    CHECK(grown > 10); // slow start from 10

    link_conditions lossy = c;
    lossy.loss = 0.2;
    simulation sim2(lossy, {}, 1);
    stream_check ab2(3000, 1000);
    exchange(sim2, ab2, none, 600s);
    REQUIRE(ab2.done());
    CHECK(sim2.a().stats().cwnd < grown);
}

namespace {

// Sends `count` frames of 1,000 bytes (one packet each) from a, losing those in `lost`, and
// returns the virtual time until b has read them all.
std::chrono::microseconds repair_time(std::uint32_t count, const std::set<std::uint32_t>& lost) {
    link_conditions c;
    c.delay = 2ms;
    simulation sim(c, {}, 1);
    stream_check warm(50, 64), none(0, 8);
    exchange(sim, warm, none, 10s); // a round-trip estimate first
    REQUIRE(warm.done());
    for (int i = 0; i < 100 && sim.a().unacknowledged() > 0; ++i)
        sim.step();
    REQUIRE(sim.a().stats().srtt > 0us);
    // Packet numbers go on from what the warm-up used.
    auto const next = static_cast<std::uint32_t>(sim.a().stats().sent);
    for (auto n : lost)
        sim.drop_once(next + n);
    auto const start = sim.now();
    bytes out(4096);
    for (std::uint32_t i = 0; i < count; ++i) {
        auto const f = frame(i, 994);
        REQUIRE(sim.a().write(f) == f.size());
        sim.step(); // each frame its own packet
    }
    std::size_t got = 0;
    while (got < count * 1000 && sim.now() - start < 10s) {
        sim.step();
        for (std::size_t n; (n = sim.b().read(out, sim.now())) != 0;)
            got += n;
    }
    REQUIRE(got == count * 1000);
    CHECK(sim.a().stats().retransmitted == lost.size());
    return std::chrono::duration_cast<std::chrono::microseconds>(sim.now() - start);
}

} // namespace

// Without early retransmit and the tail probe, each of these waits for the 200 ms minimum
// retransmission timeout; with them, a few round trips of 4 ms do.
TEST_CASE("udp channel: a loss with few packets behind it is repaired within round trips") {
    CHECK(repair_time(2, {0}) < 50ms);
    CHECK(repair_time(3, {1}) < 50ms);
}

TEST_CASE("udp channel: a loss at the tail is repaired by a probe before the timeout") {
    CHECK(repair_time(3, {2}) < 50ms);
    CHECK(repair_time(1, {0}) < 50ms);
}

TEST_CASE("udp channel: a peer that goes silent is unreachable after the timeouts") {
    channel_limits limits;
    limits.max_timeouts = 3;
    channel a(1, limits);
    auto const f = frame(1, 10);
    REQUIRE(a.write(f) == f.size());
    bytes out(max_datagram);
    auto now = time_point() + 1h;
    REQUIRE(a.next_datagram(out, now) > 0);
    int sent = 1;
    while (!a.failure() && sent < 100) {
        now = a.deadline();
        if (a.next_datagram(out, now) > 0)
            ++sent;
    }
    CHECK(a.failure() == libnet::error::unreachable);
    CHECK(sent == 4); // the packet and three retransmissions, each after twice the wait
    CHECK(a.unacknowledged() == 0); // its memory is gone
}

TEST_CASE("udp channel: data stalled behind a missing packet times out and is freed") {
    channel_limits limits;
    limits.reassembly_timeout = 2s;
    channel a(1, limits), b(1, limits);
    bytes out(max_datagram);
    auto now = time_point() + 1h;
    auto const big = frame(1, 5000); // five fragments
    REQUIRE(a.write(big) == big.size());
    std::vector<bytes> sent;
    for (std::size_t n; (n = a.next_datagram(out, now)) != 0;)
        sent.emplace_back(out.begin(), out.begin() + static_cast<std::ptrdiff_t>(n));
    REQUIRE(sent.size() == 5);
    for (std::size_t i = 0; i + 1 < sent.size(); ++i) // the last fragment never comes
        b.receive(std::get<data_datagram>(*decode(sent[i]).value), now);
    std::uint8_t buf[8192];
    CHECK(b.read(buf, now) == 4 * (1200 - data_overhead));
    CHECK_FALSE(b.failure());
    CHECK(b.deadline() <= now + 2s);
    now += 2s;
    b.next_datagram(out, now);
    CHECK(b.failure() == libnet::error::frame_timeout);
}

TEST_CASE("udp channel: a zero window holds the sender until reading opens it") {
    channel_limits limits;
    limits.window = 8;
    simulation sim({}, limits, 1);
    std::uint32_t const count = 400;
    stream_check ab(count, 500);
    ab.feed(sim.a());
    for (int i = 0; i < 200; ++i) { // nobody reads at b
        ab.feed(sim.a());
        sim.step();
    }
    auto const held = sim.b().readable();
    CHECK(held > 0);
    CHECK(held <= 8 * (1200 - data_overhead));
    CHECK_FALSE(sim.a().failure());
    stream_check none(0, 8);
    exchange(sim, ab, none, 60s);
    CHECK(ab.done());
}

TEST_CASE("udp channel: FIN ends the stream after the data, both ways") {
    simulation sim({0.1, 0, 0, std::chrono::microseconds(500), {}}, {}, 3);
    stream_check ab(50, 100), ba(50, 100);
    exchange(sim, ab, ba, 60s);
    REQUIRE(ab.done());
    sim.a().finish();
    sim.b().finish();
    for (int i = 0; i < 10'000 && !(sim.a().closed() && sim.b().closed()); ++i)
        sim.step();
    CHECK(sim.a().at_end());
    CHECK(sim.b().at_end());
    CHECK(sim.a().closed());
    CHECK(sim.b().closed());
    CHECK(sim.a().write(frame(1, 10)) == 0);
}

TEST_CASE("udp channel: packet numbers expand across the 32-bit wrap") {
    CHECK(expand_number(5, 0) == 5);
    CHECK(expand_number(0xffffffff, 0x100000002) == 0xffffffff);
    CHECK(expand_number(2, 0xfffffffe) == 0x100000002);
    CHECK(expand_number(0x10, 0x300000000) == 0x300000010);
}
