// SPDX-License-Identifier: BSL-1.0
#include "guard.hpp"

#include <algorithm>
#include <iterator>

namespace libnet::detail {

double guess_guard::level(bucket& b, std::uint32_t burst, clock::time_point now) const {
    if (limits_.refill.count() > 0 && now > b.at) {
        std::chrono::duration<double> const gone = now - b.at;
        std::chrono::duration<double> const per = limits_.refill;
        b.tokens = std::min<double>(burst, b.tokens + gone / per);
    }
    b.at = now;
    return b.tokens;
}

bool guess_guard::may_try(std::string_view address, std::string_view id, clock::time_point now) {
    std::lock_guard lock(mutex_);
    auto a = addresses_.find(std::string(address));
    if (a == addresses_.end())
        return true; // no failure on record
    auto const left = level(a->second, limits_.address_burst, now);
    if (left < 1)
        return false;
    if (left >= limits_.address_burst)
        return true; // clean again: the id's bucket does not hold it back
    auto i = ids_.find(std::string(id));
    return i == ids_.end() || level(i->second, limits_.id_burst, now) >= 1;
}

void guess_guard::failed(std::string_view address, std::string_view id, clock::time_point now) {
    std::lock_guard lock(mutex_);
    auto take = [&](std::unordered_map<std::string, bucket>& map, std::string_view key,
                    std::uint32_t burst) {
        if (map.size() >= 65'536)
            prune(map, burst, now);
        auto [it, fresh] = map.try_emplace(std::string(key), bucket{double(burst), now});
        auto const tokens = level(it->second, burst, now);
        it->second.tokens = std::max(0.0, tokens - 1);
    };
    take(addresses_, address, limits_.address_burst);
    take(ids_, id, limits_.id_burst);
}

// Forgets the buckets that have filled up again: they hold nothing a new one would not.
void guess_guard::prune(std::unordered_map<std::string, bucket>& map, std::uint32_t burst,
                        clock::time_point now) {
    for (auto it = map.begin(); it != map.end();)
        it = level(it->second, burst, now) >= burst ? map.erase(it) : std::next(it);
}

bool guess_guard::opened(std::string_view address) {
    if (limits_.unregistered_per_address == 0)
        return true;
    std::lock_guard lock(mutex_);
    auto& n = waiting_[std::string(address)];
    if (n >= limits_.unregistered_per_address)
        return false;
    ++n;
    return true;
}

void guess_guard::settled(std::string_view address) {
    if (limits_.unregistered_per_address == 0)
        return;
    std::lock_guard lock(mutex_);
    auto it = waiting_.find(std::string(address));
    if (it != waiting_.end() && --it->second == 0)
        waiting_.erase(it);
}

} // namespace libnet::detail
