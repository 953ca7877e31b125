// SPDX-License-Identifier: BSL-1.0
#ifndef LIBNET_SERVER_STATS_HPP
#define LIBNET_SERVER_STATS_HPP

#include <libnet/error.hpp>

#include <array>
#include <cstdint>
#include <map>
#include <ostream>
#include <string>

namespace libnet {

/// A distribution of durations in fixed buckets: how many took at most each bound.
struct latency_histogram {
    /// The buckets' upper bounds, in microseconds, ascending: 10 us to 2.5 s. One more
    /// bucket, counts.back(), holds what took longer than the last.
    static constexpr std::array<std::uint64_t, 17> bounds_us{
        10,    25,    50,    100,    250,    500,    1000,    2500,   5000,
        10000, 25000, 50000, 100000, 250000, 500000, 1000000, 2500000};
    /// Per bucket, not cumulative: counts[i] took more than bounds_us[i - 1] and at most
    /// bounds_us[i] microseconds.
    std::array<std::uint64_t, bounds_us.size() + 1> counts{};
    std::uint64_t count = 0;  ///< All durations recorded: the sum of counts.
    std::uint64_t sum_us = 0; ///< Their sum, in microseconds.
};

/// A snapshot of a server's counters since it started.
struct server_stats {
    std::uint64_t connections = 0;    ///< Connections accepted, UDP sessions included.
    std::uint64_t registrations = 0;  ///< Successful HELLOs.
    std::uint64_t online = 0;         ///< Clients registered now.
    std::uint64_t frames_in = 0;      ///< Frames received from clients.
    std::uint64_t frames_out = 0;     ///< Frames sent to clients.
    std::uint64_t bytes_in = 0;       ///< Bytes of frames received, headers included.
    std::uint64_t bytes_out = 0;      ///< Bytes of frames sent, headers included.
    std::uint64_t routed = 0;         ///< SENDs delivered.
    std::uint64_t broadcasts = 0;     ///< BROADCASTs accepted.
    std::uint64_t slow_consumers = 0; ///< Clients dropped as slow consumers.
    /// Clients dropped for missed heartbeats, or over UDP for acknowledging nothing through
    /// the retransmissions.
    std::uint64_t lost = 0;
    std::uint64_t stored = 0;         ///< Messages accepted into mailboxes (a broadcast: one each).
    std::uint64_t stored_offline = 0; ///< ... of them for recipients that were offline.
    std::uint64_t acked = 0;          ///< Mailbox messages acknowledged by their recipients.
    std::uint64_t expired = 0;        ///< Mailbox messages dropped unread at their expiry.
    std::uint64_t pending = 0;        ///< Messages in mailboxes now.
    std::uint64_t store_failures = 0; ///< Store commits that failed.
    std::uint64_t refused = 0;        ///< Registrations refused by the allow list or a secret.
    std::uint64_t udp_sessions = 0;   ///< UDP sessions open now (server_options::udp).
    std::uint64_t udp_cookies = 0;    ///< Address proofs used, remembered until they expire.
    /// Connections open now, UDP sessions included (a TLS connection once its handshake is done).
    std::uint64_t connections_open = 0;
    std::map<error, std::uint64_t> errors; ///< ERROR frames sent, by code.
    /// In a cluster, this server's node id (cluster_options::node_id or its default); else
    /// empty.
    std::string node;
    /// From a HELLO read to its WELCOME queued, for each client registered; in a cluster the
    /// claim of the id included.
    latency_histogram registration_latency;
    /// From a batch of mailbox changes handed to a durable store (server_options::store) to
    /// its commit, for each batch committed; empty with a store that is not durable.
    latency_histogram store_commit_latency;
};

/// Writes the counters as "name=value" pairs on one line.
std::ostream& operator<<(std::ostream& os, const server_stats& s);

} // namespace libnet

#endif
