// SPDX-License-Identifier: BSL-1.0
#ifndef LIBNET_SRC_SERVER_DIRECTORY_HPP
#define LIBNET_SRC_SERVER_DIRECTORY_HPP

#include <libnet/detail/shared_frame.hpp>
#include <libnet/messages.hpp>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace libnet::detail {

class server_session;

struct string_hash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const noexcept {
        return std::hash<std::string_view>{}(s);
    }
};

/// The registered clients in join order, and what each has been told of the others.
///
/// Joins and leaves are announced in batches: add() and remove() only record a change, and
/// announce() tells everyone at once. Joiners waiting for it share one DIRECTORY snapshot,
/// built from an encoding of the entries kept up to date as clients come and go; every
/// other member gets all JOINED and LEFT frames of the batch as one buffer, so a batch of
/// k joins costs each member one queue append and at most one writer wake-up, not k.
/// Members that opted out of presence (hello_no_directory) are listed but told nothing.
/// In a cluster the directory also lists the clients of other nodes (remote entries), in
/// the cluster-wide join order; only local members are told of changes.
///
/// Not thread-safe: the server calls it under its mutex.
class directory {
public:
    using member = std::shared_ptr<server_session>;

    explicit directory(std::uint32_t max_frame) : max_frame_(max_frame) {}

    /// Clients listed, on every node.
    std::size_t size() const noexcept { return slots_.size(); }
    /// This server's own clients, in join order.
    const std::vector<member>& members() const noexcept { return members_; }
    /// The online client of this server with this id, or null.
    server_session* find(std::string_view id) const noexcept;
    /// Where a client of another node is listed.
    struct remote {
        std::string node;
        std::string endpoint;
        std::uint64_t join_seq = 0;
    };
    /// The client of another node with this id, or null.
    const remote* find_remote(std::string_view id) const noexcept;
    /// Whether `id` is listed, here or on another node.
    bool contains(std::string_view id) const noexcept { return find(id) || find_remote(id); }
    /// Whether the snapshot would still fit in one frame with this entry added.
    bool fits(std::string_view id, std::string_view endpoint) const noexcept;

    /// Lists `s` under its id and endpoint and gives it the next join_seq. It gets its
    /// snapshot, and the others its JOINED, at the next announce(). Returns true when no
    /// announcement was due before: the caller schedules one.
    bool add(member s);
    /// As add(), with the cluster's join_seq for `s` (which orders it after every entry).
    bool add(member s, std::uint64_t join_seq);
    /// Lists a client of another node; local members get JOINED at the next announce().
    bool add_remote(std::string id, remote r);
    /// Unlists a client of another node, as remove() does.
    bool remove_remote(std::string_view id, msg::leave_reason reason);
    /// Unlists `s`. Unless `quiet`, those who know of it get LEFT(reason) at the next
    /// announce(). Returns as add() does.
    bool remove(server_session& s, msg::leave_reason reason, bool quiet);

    /// Whether changes wait to be announced.
    bool due() const noexcept { return joiners_ != 0 || !deltas_.empty(); }
    /// Queues the snapshot to each waiting joiner and the batch of deltas to every other
    /// member, and appends the joiners it announced to `welcomed`.
    void announce(std::vector<member>& welcomed);

private:
    shared_frame snapshot() const;
    shared_frame take_deltas();
    void append_entry(std::string_view id, std::uint64_t join_seq, std::string_view endpoint);
    void erase_entry(std::string_view id, std::uint64_t join_seq, msg::leave_reason reason,
                     bool quiet);

    // Every listed client's entry, in join order: its id and its size in entries_.
    struct slot {
        std::string id;
        std::uint32_t size;
    };

    std::uint32_t max_frame_;
    std::vector<member> members_; // local, join order
    std::vector<slot> slots_;     // everyone, join order
    std::unordered_map<std::string, server_session*, string_hash, std::equal_to<>> by_id_;
    std::unordered_map<std::string, remote, string_hash, std::equal_to<>> remotes_;
    std::vector<std::uint8_t> entries_; // the snapshot's value: every member's entry field
    std::vector<std::uint8_t> deltas_;  // JOINED and LEFT frames not yet announced
    std::uint32_t delta_frames_ = 0;
    std::size_t joiners_ = 0; // members not yet announced
    std::uint64_t next_join_seq_ = 1;
};

} // namespace libnet::detail

#endif
