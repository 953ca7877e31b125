// SPDX-License-Identifier: BSL-1.0
#ifndef LIBNET_SRC_SERVER_LATENCY_HPP
#define LIBNET_SRC_SERVER_LATENCY_HPP

#include <libnet/server_stats.hpp>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>

namespace libnet::detail {

/// Records durations into latency_histogram's buckets: from any thread, without a lock or
/// an allocation, three relaxed increments per duration.
class latency_recorder {
public:
    void record(std::chrono::steady_clock::duration d) noexcept {
        auto const us = static_cast<std::uint64_t>(std::max<std::int64_t>(
            0, std::chrono::duration_cast<std::chrono::microseconds>(d).count()));
        auto const& bounds = latency_histogram::bounds_us;
        auto const i = static_cast<std::size_t>(std::lower_bound(bounds.begin(), bounds.end(), us) -
                                                bounds.begin());
        counts_[i].fetch_add(1, std::memory_order_relaxed);
        sum_us_.fetch_add(us, std::memory_order_relaxed);
    }

    /// The counts so far; `count` is their sum, so the buckets always add up to it.
    latency_histogram snapshot() const noexcept {
        latency_histogram h;
        for (std::size_t i = 0; i < counts_.size(); ++i) {
            h.counts[i] = counts_[i].load(std::memory_order_relaxed);
            h.count += h.counts[i];
        }
        h.sum_us = sum_us_.load(std::memory_order_relaxed);
        return h;
    }

private:
    std::array<std::atomic<std::uint64_t>, latency_histogram::bounds_us.size() + 1> counts_{};
    std::atomic<std::uint64_t> sum_us_{0};
};

} // namespace libnet::detail

#endif
