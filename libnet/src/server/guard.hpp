// SPDX-License-Identifier: BSL-1.0
#ifndef LIBNET_SRC_SERVER_GUARD_HPP
#define LIBNET_SRC_SERVER_GUARD_HPP

#include <libnet/server_options.hpp>

#include <chrono>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

namespace libnet::detail {

/// Limits on guessing secrets and on connections that never register (docs/guide.md
/// §10.1). Failed secret checks drain two token buckets, one per source address and one
/// per id; each refills one token per `refill`. An address with a full bucket (no recent
/// failure) is never held back by the id's bucket, so a client that knows its secret gets
/// in while others guess at its id.
///
/// @par Thread safety
/// Every member may be called from any thread.
class guess_guard {
public:
    using clock = std::chrono::steady_clock;

    explicit guess_guard(const guess_limits& limits) : limits_(limits) {}

    /// Whether `address` may have a secret of `id` checked now.
    bool may_try(std::string_view address, std::string_view id, clock::time_point now);
    /// A secret check from `address` for `id` failed.
    void failed(std::string_view address, std::string_view id, clock::time_point now);

    /// A connection from `address` opened: false when `address` has as many connections
    /// waiting to register as allowed (the caller refuses it). Each true is matched by one
    /// settled().
    bool opened(std::string_view address);
    /// A connection counted by opened() registered or closed.
    void settled(std::string_view address);

private:
    struct bucket {
        double tokens;
        clock::time_point at;
    };
    // `b`'s tokens now (refilled since it was last looked at), at most `burst`.
    double level(bucket& b, std::uint32_t burst, clock::time_point now) const;
    void prune(std::unordered_map<std::string, bucket>& map, std::uint32_t burst,
               clock::time_point now);

    guess_limits limits_;
    std::mutex mutex_;
    std::unordered_map<std::string, bucket> addresses_, ids_;
    std::unordered_map<std::string, std::size_t> waiting_; // unregistered connections
};

} // namespace libnet::detail

#endif
