// SPDX-License-Identifier: BSL-1.0
#ifndef LIBNET_SERVER_STATS_HPP
#define LIBNET_SERVER_STATS_HPP

#include <libnet/error.hpp>

#include <cstdint>
#include <map>
#include <ostream>

namespace libnet {

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
    std::map<error, std::uint64_t> errors; ///< ERROR frames sent, by code.
};

/// Writes the counters as "name=value" pairs on one line.
std::ostream& operator<<(std::ostream& os, const server_stats& s);

} // namespace libnet

#endif
