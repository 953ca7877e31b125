// SPDX-License-Identifier: BSL-1.0
#include "link_table.hpp"

#include <algorithm>

namespace libnet::detail {

void link_table::joined(std::string id, std::uint64_t join_seq, std::string endpoint) {
    live_[std::move(id)] = {join_seq, std::move(endpoint)};
}

void link_table::left(const std::string& id) {
    live_.erase(id);
    seen_.erase(id);
    if (auto it = links_.find(id); it != links_.end())
        it->second->close(error::connection_closed);
}

const link_table::live_entry* link_table::live(const std::string& id) const {
    auto it = live_.find(id);
    return it == live_.end() ? nullptr : &it->second;
}

peer_link* link_table::find(const std::string& peer) const {
    auto it = links_.find(peer);
    return it == links_.end() ? nullptr : it->second.get();
}

void link_table::add_dialed(std::shared_ptr<peer_link> link) {
    auto& slot = links_[link->peer];
    slot = std::move(link);
}

void link_table::add_accepted(std::shared_ptr<peer_link> link) {
    accepting_.push_back(std::move(link));
}

void link_table::identified(const std::shared_ptr<peer_link>& link) {
    std::erase(accepting_, link);
    links_[link->peer] = link;
}

bool link_table::finished(const std::shared_ptr<peer_link>& link) {
    std::erase(accepting_, link);
    auto it = links_.find(link->peer);
    bool const current = it != links_.end() && it->second == link;
    if (!current)
        return false;
    links_.erase(it);
    if (link->verified() && live_.contains(link->peer)) {
        auto& records = seen_[link->peer];
        records.push_back({link->id, link->delivered});
        if (records.size() > records_per_peer)
            records.erase(records.begin());
    }
    return true;
}

bool link_table::seen_before(const std::string& from, std::uint64_t link, std::uint64_t link_seq) {
    auto check = [link_seq](std::uint64_t& delivered) {
        if (link_seq <= delivered)
            return true;
        delivered = link_seq;
        return false;
    };
    if (auto it = links_.find(from); it != links_.end() && it->second->id == link)
        return check(it->second->delivered);
    if (auto it = seen_.find(from); it != seen_.end())
        for (auto& r : it->second)
            if (r.link == link)
                return check(r.delivered);
    return false;
}

bool link_table::fresh_token(std::string_view nonce, std::uint64_t expires, std::uint64_t now) {
    std::erase_if(used_tokens_, [now](auto const& t) { return t.second <= now; });
    return used_tokens_.emplace(std::string(nonce), expires).second;
}

} // namespace libnet::detail
