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
///
/// Not thread-safe: the server calls it under its mutex.
class directory {
public:
    using member = std::shared_ptr<server_session>;

    explicit directory(std::uint32_t max_frame) : max_frame_(max_frame) {}

    std::size_t size() const noexcept { return members_.size(); }
    const std::vector<member>& members() const noexcept { return members_; }
    /// The online client with this id, or null.
    server_session* find(std::string_view id) const noexcept;
    /// Whether the snapshot would still fit in one frame with this entry added.
    bool fits(std::string_view id, std::string_view endpoint) const noexcept;

    /// Lists `s` under its id and endpoint and gives it the next join_seq. It gets its
    /// snapshot, and the others its JOINED, at the next announce(). Returns true when no
    /// announcement was due before: the caller schedules one.
    bool add(member s);
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

    std::uint32_t max_frame_;
    std::vector<member> members_;           // join order
    std::vector<std::uint32_t> entry_size_; // of each member's entry in entries_
    std::unordered_map<std::string, server_session*, string_hash, std::equal_to<>> by_id_;
    std::vector<std::uint8_t> entries_; // the snapshot's value: every member's entry field
    std::vector<std::uint8_t> deltas_;  // JOINED and LEFT frames not yet announced
    std::uint32_t delta_frames_ = 0;
    std::size_t joiners_ = 0; // members not yet announced
    std::uint64_t next_join_seq_ = 1;
};

} // namespace libnet::detail

#endif
