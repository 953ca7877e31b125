// SPDX-License-Identifier: BSL-1.0
#ifndef LIBNET_SRC_SERVER_CLUSTER_REPLICA_HPP
#define LIBNET_SRC_SERVER_CLUSTER_REPLICA_HPP

#include "cluster.hpp"
#include "cluster_names.hpp"

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <unordered_map>

namespace libnet::detail {

/// A node's copy of the cluster's directory and the rules of docs/protocol.md appendix
/// A.3-A.6: which claim holds an id, when a claim of this node has won or lost, when to try
/// again, and which nodes are dead. It does no I/O: the watch feeds it records, and it asks
/// its link to publish and delete.
///
/// @par Thread safety
/// Not thread-safe: the cluster link calls it on its strand only.
class cluster_replica {
public:
    using clock = std::chrono::steady_clock;

    /// What the replica asks of the NATS side.
    class link {
    public:
        /// Publishes a claim of `id`, accepted only where its key has no message.
        virtual void publish_claim(const std::string& id, const std::string& value) = 0;
        virtual void publish_release(const std::string& id, const std::string& value) = 0;
        /// Deletes the bucket's message at `revision` (a claim).
        virtual void delete_claim(std::uint64_t revision) = 0;
        /// Calls `f` on the strand after `delay`, unless the link has stopped by then.
        virtual void after(clock::duration delay, std::function<void()> f) = 0;
        virtual bool connected() const = 0;

    protected:
        ~link() = default;
    };

    cluster_replica(std::string node, std::string epoch, std::chrono::milliseconds interval,
                    std::uint32_t misses, cluster_events& events, link& l);

    std::size_t size() const noexcept { return entries_.size(); }
    /// From now on, nodes not heard for the grace are dead (at start, and after a
    /// reconnection, when everyone counts as heard now).
    void restart_clock();

    // Records of the watch, in stream order.
    void on_claim(const std::string& id, std::uint64_t revision, cluster_names::claim c);
    void on_release(const std::string& id, cluster_names::release r);
    /// A DEL or PURGE marker (written by NATS tools, never by libnet) on a claim key.
    void on_claim_marker(const std::string& id, std::uint64_t revision);

    /// Claims `id` for a client of this node (cluster_claimed or cluster_claim_failed
    /// follows).
    void claim(const std::string& id, const std::string& endpoint);
    /// JetStream refused a claim: the key holds a message at `actual`.
    void on_claim_refused(const std::string& id, std::uint64_t actual);
    /// A claim could not be published or was not answered.
    void fail_claim(const std::string& id, error_code ec);
    /// Gives back `id`, held at `claim`, unless that is no longer its live claim.
    void release(const std::string& id, std::uint64_t claim, msg::leave_reason reason);

    // Liveness.
    void on_beat(const std::string& node, std::string epoch);
    void on_disconnect_advisory(const std::string& node, std::string epoch);
    /// Releases the claims of node runs found dead.
    void find_dead();

private:
    struct entry {
        std::uint64_t claim = 0;     // revision of its claim; 0: none seen
        cluster_names::claim record; // of that claim
        std::uint64_t released = 0;  // the claim the last release ended
        bool releasing = false;      // a release of `claim` is on its way
        bool live() const { return claim != 0 && released != claim; }
    };
    struct claim_state {
        std::string endpoint;
        std::uint64_t wait_for = 0; // refused: decide again once the watch is here
        unsigned retries = 0;
        unsigned attempt = 0; // a timer for an earlier attempt finds it changed
    };
    struct peer_node {
        std::string epoch;
        clock::time_point seen;
    };

    void decide_claim(const std::string& id);
    void retry_later(const std::string& id, clock::duration after, bool taken_unless_released);
    void decide_if_waiting(const std::string& id, std::uint64_t revision);
    clock::duration grace() const { return interval_ * misses_; }

    std::string node_, epoch_;
    std::chrono::milliseconds interval_;
    std::uint32_t misses_;
    cluster_events& events_;
    link& link_;
    std::unordered_map<std::string, entry> entries_;
    std::unordered_map<std::string, claim_state> claims_;
    std::unordered_map<std::string, peer_node> nodes_;
    clock::time_point started_ = clock::now();
};

} // namespace libnet::detail

#endif
