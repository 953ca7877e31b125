// SPDX-License-Identifier: BSL-1.0
#ifndef LIBNET_SRC_SERVER_CLUSTER_NAMES_HPP
#define LIBNET_SRC_SERVER_CLUSTER_NAMES_HPP

// How a cluster's nodes name things on NATS: subjects, KV keys and directory records
// (docs/protocol.md, appendix A). Pure functions, no I/O.

#include <libnet/messages.hpp>

#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace libnet::detail::cluster_names {

/// A cluster or node name: 1-64 of letters, digits, '-' and '_' (one NATS token).
bool valid_name(std::string_view s) noexcept;

/// A client id as one NATS token and KV key part: letters, digits, '-' and '_' stay, every
/// other byte becomes '=' and two upper-case hex digits ("a.b" -> "a=2Eb").
std::string encode_id(std::string_view id);
/// The id encode_id() made `token` from; nullopt when `token` is not such an encoding.
std::optional<std::string> decode_id(std::string_view token);

/// The KV bucket of cluster `name`. A client's id has two keys in it: its claim
/// ("c.ID", present while the id is held) and its last release ("l.ID").
std::string bucket(std::string_view name);
std::string claim_key(std::string_view id);
std::string release_key(std::string_view id);
struct key_name {
    bool claim; // c.ID; else l.ID
    std::string id;
};
/// What a claim_key() or release_key() names; nullopt for any other key.
std::optional<key_name> parse_key(std::string_view key);

/// Subjects. Frames for clients of a node go to its node_subject() in batches, with the
/// sending node's own node_subject() as reply subject; broadcasts go to one subject for the
/// cluster, heartbeats to one per node.
std::string node_subject(std::string_view name, std::string_view node);
std::string broadcast_subject(std::string_view name);
std::string heartbeat_subject(std::string_view name, std::string_view node);
std::string heartbeat_filter(std::string_view name);

/// The node of a node_subject(); nullopt for any other subject.
std::optional<std::string> parse_node_subject(std::string_view name, std::string_view subject);
/// The node of a heartbeat_subject().
std::optional<std::string> parse_heartbeat_subject(std::string_view name, std::string_view subject);

/// A batch is a sequence of records, each a frame from client `from` for client `to`
/// (empty in a broadcast): u16 length and bytes of `from`, the same for `to`, then the
/// frame (header and value). Appends one record.
void append_record(std::vector<std::uint8_t>& batch, std::string_view from, std::string_view to,
                   std::span<const std::uint8_t> frame);
struct record_view {
    std::string_view from;
    std::string_view to;
    std::span<const std::uint8_t> frame;
};
/// Calls `f` for each record of `batch` in order; false when the batch is malformed (the
/// records before the fault have been handed over).
bool for_each_record(std::span<const std::uint8_t> batch,
                     const std::function<void(const record_view&)>& f);

/// Mailboxes: one JetStream stream per cluster, a subject per client id in it. A stored
/// message is one record as in a batch (from, to, frame): the frame is a SEND or an
/// application frame whose flags are the ones its delivery carries (flag_broadcast,
/// flag_link_sync) and whose ttl_ms counts from the stream's timestamp (0: none).
std::string mail_stream(std::string_view name);
std::string mail_subject(std::string_view name, std::string_view id);
std::string mail_filter(std::string_view name);

/// The NATS connection name of a node in one run ("libnet/NAME/NODE/EPOCH"), and back.
std::string connection_name(std::string_view name, std::string_view node, std::string_view epoch);
struct incarnation {
    std::string node;
    std::string epoch;
};
std::optional<incarnation> parse_connection_name(std::string_view name, std::string_view s);

/// A claim's value: the client is online on `node` in its run `epoch`
/// ("J NODE EPOCH ENDPOINT").
struct claim {
    std::string node;
    std::string epoch;
    std::string endpoint;
};
std::string encode_claim(const claim& c);
std::optional<claim> decode_claim(std::string_view value);

/// A release's value: the claim at revision `claim` ended for `reason` ("L REASON CLAIM").
struct release {
    msg::leave_reason reason = msg::leave_reason::closed;
    std::uint64_t claim = 0;
};
std::string encode_release(const release& r);
std::optional<release> decode_release(std::string_view value);

} // namespace libnet::detail::cluster_names

#endif
