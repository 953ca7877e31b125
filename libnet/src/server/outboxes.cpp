// SPDX-License-Identifier: BSL-1.0
#include "cluster_names.hpp"
#include "outboxes.hpp"

namespace libnet::detail {

outboxes::outboxes(std::string cluster_name, publish_function publish, post_function post)
    : cluster_name_(std::move(cluster_name)), publish_(std::move(publish)), post_(std::move(post)) {
}

outboxes::box& outboxes::box_for(std::string_view node) {
    {
        std::shared_lock lock(mutex_);
        if (auto it = boxes_.find(node); it != boxes_.end())
            return *it->second;
    }
    std::unique_lock lock(mutex_);
    auto& b = boxes_[std::string(node)];
    if (!b) {
        b = std::make_unique<box>();
        b->subject = cluster_names::node_subject(cluster_name_, node);
    }
    return *b;
}

void outboxes::flush_locked(box& b) {
    b.flush_posted = false;
    if (b.batch.empty())
        return;
    publish_(b.subject, b.batch);
    if (b.batch.capacity() > (1u << 20)) // given back after a storm
        std::vector<std::uint8_t>().swap(b.batch);
    else
        b.batch.clear();
}

bool outboxes::add(std::string_view node, std::string_view from, std::string_view to,
                   std::span<const std::uint8_t> frame, std::size_t max_payload) {
    auto const size = 4 + from.size() + to.size() + frame.size();
    if (size > max_payload)
        return false;
    auto& b = box_for(node);
    std::lock_guard lock(b.mutex);
    if (b.batch.size() + size > max_payload / 2)
        flush_locked(b);
    cluster_names::append_record(b.batch, from, to, frame);
    if (!b.flush_posted) {
        b.flush_posted = true;
        post_([this, &b] {
            std::lock_guard lock(b.mutex);
            flush_locked(b);
        });
    }
    return true;
}

void outboxes::flush_all() {
    std::shared_lock lock(mutex_);
    for (auto& [node, b] : boxes_) {
        std::lock_guard l(b->mutex);
        flush_locked(*b);
    }
}

} // namespace libnet::detail
