// SPDX-License-Identifier: BSL-1.0
#include "core.hpp"
#include "outbound.hpp"

namespace libnet::detail {

bool outbound::has_room(std::size_t bytes) const {
    auto const queued = conn_->queued_bytes();
    // A frame larger than the bound still goes, alone.
    return queued == 0 || queued + bytes <= max_queue_bytes_;
}

void outbound::send(shared_frame f, pending<> op) {
    if (suspended_ || (hold_on_close_ && conn_ && conn_->closing())) {
        op.keep_work(ex_);
        held_.push_back({std::move(f), std::move(op)});
        return;
    }
    if (!conn_ || conn_->closing())
        return op.complete(ex_, closed_);
    if (held_.empty() && has_room(f.size)) {
        if (!conn_->enqueue(std::move(f)))
            return op.complete(ex_, closed_);
        return op.complete(ex_, {});
    }
    op.keep_work(ex_);
    held_.push_back({std::move(f), std::move(op)});
}

void outbound::send_last(shared_frame bye) {
    if (!conn_)
        return;
    held_.push_back({std::move(bye), {}, true});
    release();
}

void outbound::hold_first(std::vector<shared_frame> frames) {
    for (auto it = frames.rbegin(); it != frames.rend(); ++it)
        held_.push_front({std::move(*it), {}});
}

void outbound::release() {
    if (suspended_ || !conn_)
        return;
    while (!held_.empty()) {
        auto& h = held_.front();
        if (conn_->closing()) { // nothing more can be sent
            if (hold_on_close_)
                return; // on_closing decides: a reconnection, or failing them
            h.op.complete(ex_, closed_);
        } else if (!has_room(h.frame.size)) {
            return;
        } else if (h.last) { // after everything sent before it
            conn_->finish(error::not_connected, std::move(h.frame));
        } else {
            h.op.complete(ex_, conn_->enqueue(std::move(h.frame)) ? error_code{} : closed_);
        }
        held_.pop_front();
    }
}

void outbound::fail(error_code reason) {
    for (auto& h : held_)
        h.op.complete(ex_, reason);
    held_.clear();
}

} // namespace libnet::detail
