// SPDX-License-Identifier: BSL-1.0
#ifndef LIBNET_SRC_SERVER_OUTBOXES_HPP
#define LIBNET_SRC_SERVER_OUTBOXES_HPP

#include "directory.hpp" // string_hash

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace libnet::detail {

/// Frames for the clients of other nodes, batched per node (docs/protocol.md appendix A.5).
/// A sender appends a record to its recipient's node's batch; the first to append to an
/// empty batch posts its flush, so what many sessions send meanwhile leaves as one
/// message. Appending and flushing hold the batch's mutex, so batches leave in order.
///
/// @par Thread safety
/// add() and flush_all() may be called from any thread.
class outboxes {
public:
    /// Sends one batch to a node's subject.
    using publish_function =
        std::function<void(const std::string& subject, std::span<const std::uint8_t> batch)>;
    /// Runs a flush later, on some thread (or never, once the link has stopped).
    using post_function = std::function<void(std::function<void()>)>;

    outboxes(std::string cluster_name, publish_function publish, post_function post);

    /// Adds a frame from client `from` for client `to` of `node`. A batch that would pass
    /// half of `max_payload` leaves first. False when the record alone is larger than
    /// `max_payload`.
    bool add(std::string_view node, std::string_view from, std::string_view to,
             std::span<const std::uint8_t> frame, std::size_t max_payload);
    /// Sends every waiting batch now (before a broadcast, which must not overtake them).
    void flush_all();

private:
    struct box {
        std::mutex mutex;
        std::string subject;
        std::vector<std::uint8_t> batch;
        bool flush_posted = false;
    };
    box& box_for(std::string_view node);
    void flush_locked(box& b);

    std::string cluster_name_;
    publish_function publish_;
    post_function post_;
    std::shared_mutex mutex_; // boxes_: a box, once made, stays
    std::unordered_map<std::string, std::unique_ptr<box>, string_hash, std::equal_to<>> boxes_;
};

} // namespace libnet::detail

#endif
