// SPDX-License-Identifier: BSL-1.0
// A claim is a message on the id's claim key, published only where the key has none: that
// test is atomic in JetStream (a compare-and-set on a later revision is not, in nats-server
// 2.9's replicated streams). A release records why on the release key, then deletes exactly
// that claim message, by its revision, so it can never remove a later claim. Every node
// applies the same rules to the same ordered stream, so every replica agrees.

#include "cluster_replica.hpp"

#include <algorithm>
#include <vector>

namespace libnet::detail {

namespace names = cluster_names;

cluster_replica::cluster_replica(std::string node, std::string epoch,
                                 std::chrono::milliseconds interval, std::uint32_t misses,
                                 cluster_events& events, link& l)
    : node_(std::move(node)), epoch_(std::move(epoch)), interval_(interval),
      misses_(std::max<std::uint32_t>(misses, 1)), events_(events), link_(l) {}

void cluster_replica::restart_clock() {
    auto const now = clock::now();
    for (auto& [name, n] : nodes_)
        n.seen = std::max(n.seen, now);
    started_ = now;
}

void cluster_replica::on_claim(const std::string& id, std::uint64_t revision, names::claim c) {
    auto& e = entries_[id];
    if (revision <= e.claim)
        return;   // a watch restarted after a reconnect replays what we know
    if (e.live()) // its release record was overtaken: the claim ended all the same
        events_.cluster_left(id, e.claim, msg::leave_reason::closed);
    e.claim = revision;
    e.record = std::move(c);
    e.releasing = false;
    if (e.record.node == node_ && e.record.epoch == epoch_) {
        claims_.erase(id);
        if (!events_.cluster_claimed(id, revision)) // gone while it claimed
            release(id, revision, msg::leave_reason::closed);
        return;
    }
    events_.cluster_joined(id, revision, e.record.node, e.record.endpoint);
    decide_if_waiting(id, revision);
}

void cluster_replica::on_release(const std::string& id, names::release r) {
    auto& e = entries_[id];
    if (r.claim == 0)
        r.claim = e.claim;
    if (r.claim != e.claim || !e.live())
        return; // about an earlier claim
    e.released = r.claim;
    e.releasing = false;
    events_.cluster_left(id, r.claim, r.reason);
    if (claims_.count(id)) // a claim waiting for this release: its message is being deleted
        retry_later(id, std::chrono::milliseconds(5), false);
}

// The id is free, but the marker must go before anyone can claim it: on_claim_refused()
// deletes it.
void cluster_replica::on_claim_marker(const std::string& id, std::uint64_t revision) {
    auto& e = entries_[id];
    if (revision <= e.claim)
        return;
    if (e.live())
        events_.cluster_left(id, e.claim, msg::leave_reason::closed);
    e.claim = e.released = revision;
    e.releasing = false;
    decide_if_waiting(id, revision);
}

void cluster_replica::decide_if_waiting(const std::string& id, std::uint64_t revision) {
    if (auto c = claims_.find(id);
        c != claims_.end() && c->second.wait_for != 0 && revision >= c->second.wait_for)
        decide_claim(id);
}

void cluster_replica::claim(const std::string& id, const std::string& endpoint) {
    claims_[id] = {endpoint, 0, 0, 0};
    decide_claim(id);
}

// Claims go to the bucket even when the replica lists a holder: the holder may have left
// on its node already, and its release be on its way to this one.
void cluster_replica::decide_claim(const std::string& id) {
    auto c = claims_.find(id);
    if (c == claims_.end())
        return;
    c->second.wait_for = 0;
    ++c->second.attempt;
    link_.publish_claim(id, names::encode_claim({node_, epoch_, c->second.endpoint}));
}

void cluster_replica::on_claim_refused(const std::string& id, std::uint64_t actual) {
    auto c = claims_.find(id);
    if (c == claims_.end())
        return;
    auto& e = entries_[id];
    if (e.claim < actual) { // the watch has not shown the holder yet
        c->second.wait_for = actual;
        return;
    }
    if (++c->second.retries > 100)
        return fail_claim(id, error::id_taken);
    if (e.live()) {
        // Held, as far as we know: its release may be on the way (on_release() tries
        // again at once). Give it a moment, then the id is taken.
        retry_later(id, interval_, true);
        return;
    }
    // Released, and its claim message about to be deleted: try again shortly. Should the
    // releaser have died before deleting it, delete it ourselves.
    if (c->second.retries == 3)
        link_.delete_claim(e.claim);
    retry_later(id, std::chrono::milliseconds(10), false);
}

void cluster_replica::retry_later(const std::string& id, clock::duration after,
                                  bool taken_unless_released) {
    auto c = claims_.find(id);
    if (c == claims_.end())
        return;
    link_.after(after, [this, id, attempt = c->second.attempt, taken_unless_released] {
        auto c = claims_.find(id);
        if (c == claims_.end() || c->second.attempt != attempt)
            return; // settled, or tried again meanwhile
        if (taken_unless_released && entries_[id].live())
            return fail_claim(id, error::id_taken);
        decide_claim(id);
    });
}

void cluster_replica::fail_claim(const std::string& id, error_code ec) {
    if (claims_.erase(id) != 0)
        events_.cluster_claim_failed(id, ec);
}

void cluster_replica::release(const std::string& id, std::uint64_t claim,
                              msg::leave_reason reason) {
    auto e = entries_.find(id);
    if (e == entries_.end() || e->second.claim != claim || !e->second.live() || e->second.releasing)
        return;
    e->second.releasing = true;
    link_.publish_release(id, names::encode_release({reason, claim}));
}

void cluster_replica::on_beat(const std::string& node, std::string epoch) {
    nodes_[node] = {std::move(epoch), clock::now()};
}

// A node's connection closed. It may be dead, or back on another NATS server in a moment:
// unless a heartbeat of the same run comes within two intervals, it is dead.
void cluster_replica::on_disconnect_advisory(const std::string& node, std::string epoch) {
    auto const deadline = clock::now() - grace() + 2 * interval_;
    auto it = nodes_.find(node);
    if (it == nodes_.end())
        nodes_[node] = {std::move(epoch), deadline};
    else if (it->second.epoch == epoch)
        it->second.seen = std::min(it->second.seen, deadline);
    link_.after(2 * interval_, [this] { find_dead(); });
}

// Every node does it. A release names the claim's revision, so it never touches an id
// claimed again since, and the watch ignores a second release of the same claim.
void cluster_replica::find_dead() {
    if (!link_.connected())
        return; // cut off: everyone looks silent, and nothing we wrote would arrive now
    auto const now = clock::now();
    bool const settled = now - started_ > grace();
    std::vector<std::pair<std::string, std::uint64_t>> dead_claims;
    for (auto& [id, e] : entries_) {
        if (!e.live() || e.releasing)
            continue;
        bool dead;
        if (e.record.node == node_) {
            dead = e.record.epoch != epoch_; // an earlier run of this node
        } else {
            auto n = nodes_.find(e.record.node);
            if (n == nodes_.end() || n->second.epoch != e.record.epoch)
                dead = settled;
            else
                dead = now - n->second.seen > grace();
        }
        if (dead)
            dead_claims.emplace_back(id, e.claim);
    }
    for (auto const& [id, claim] : dead_claims)
        release(id, claim, msg::leave_reason::lost);
}

} // namespace libnet::detail
