// SPDX-License-Identifier: BSL-1.0
#include "mailbox_tracker.hpp"

#include <algorithm>

namespace libnet::detail {

namespace asio = boost::asio;

void mailbox_tracker::resume(std::uint64_t after) {
    highest_seq_ = acked_ = resumed_after_ = after;
    last_delivered_ = after;
}

void mailbox_tracker::welcome(bool has_mailbox, std::uint64_t server_seq) {
    has_mailbox_ = has_mailbox;
    if (server_seq < resumed_after_) {
        // The server's ids don't reach what we resumed after (a mailbox that did not
        // survive a restart): its new messages reuse those ids, so start again from its.
        highest_seq_ = acked_ = server_seq;
        last_delivered_ = server_seq;
        unconsumed_.clear(); // ids of the mailbox that is gone
    }
    acked_ = std::max(acked_, server_seq);
}

bool mailbox_tracker::fresh(std::uint64_t seq) {
    if (seq <= highest_seq_)
        return false;
    highest_seq_ = seq;
    return true;
}

void mailbox_tracker::taken(std::uint64_t seq) {
    if (!unconsumed_.empty() && unconsumed_.front() == seq)
        unconsumed_.pop_front(); // the oldest (ids arrive in order), unless close() acked it
    used();
}

std::uint64_t mailbox_tracker::upto() const {
    return unconsumed_.empty() ? highest_seq_ : unconsumed_.front() - 1;
}

void mailbox_tracker::used() {
    last_delivered_ = upto();
}

std::optional<std::uint64_t> mailbox_tracker::ack_due() {
    auto const u = upto();
    if (u <= acked_)
        return std::nullopt;
    acked_ = u;
    return u;
}

void mailbox_tracker::expect_confirm(std::uint64_t ref, std::uint64_t key, bool broadcast,
                                     pending<receipt> op) {
    op.keep_work(ex_);
    auto& w = confirms_[ref];
    w.key = key;
    w.op = std::move(op);
    w.broadcast = broadcast;
}

bool mailbox_tracker::on_stored(const msg::stored& s) {
    auto it = confirms_.find(s.ref);
    if (it == confirms_.end())
        return false;
    auto& w = it->second;
    w.r.offline = s.count;
    w.r.durable = (s.flags & msg::stored_durable) != 0;
    w.op.complete(ex_, {}, std::move(w.r));
    confirms_.erase(it);
    return true;
}

void mailbox_tracker::cancel_confirm(std::uint64_t key) {
    auto it = std::find_if(confirms_.begin(), confirms_.end(),
                           [key](const auto& c) { return c.second.key == key; });
    if (it == confirms_.end())
        return;
    it->second.op.complete(ex_, asio::error::operation_aborted, receipt{});
    confirms_.erase(it);
}

void mailbox_tracker::expect_fetch(std::uint64_t ref, std::uint64_t key,
                                   pending<std::vector<message>> op) {
    op.keep_work(ex_);
    fetches_.push_back({ref, key, std::move(op), {}, false});
}

bool mailbox_tracker::take_for_fetch(message& m) {
    if (!m.mailbox || fetches_.empty() || fetches_.front().abandoned)
        return false;
    queued(m.seq);
    fetches_.front().got.push_back(std::move(m));
    return true;
}

bool mailbox_tracker::on_fetched() {
    if (fetches_.empty())
        return false;
    auto w = std::move(fetches_.front());
    fetches_.pop_front();
    for (std::size_t i = 0; i < w.got.size() && !unconsumed_.empty(); ++i)
        unconsumed_.pop_front();
    bool const handed = !w.got.empty();
    if (handed)
        used();
    w.op.complete(ex_, {}, std::move(w.got));
    return handed;
}

std::vector<message> mailbox_tracker::cancel_fetch(std::uint64_t key) {
    auto it = std::find_if(fetches_.begin(), fetches_.end(),
                           [key](const fetch_waiter& w) { return w.key == key; });
    if (it == fetches_.end() || it->abandoned)
        return {};
    it->abandoned = true;
    it->op.complete(ex_, asio::error::operation_aborted, {});
    auto got = std::move(it->got);
    it->got.clear();
    for (std::size_t i = 0; i < got.size() && !unconsumed_.empty(); ++i)
        unconsumed_.pop_front(); // queued again as events
    return got;
}

bool mailbox_tracker::on_error(const msg::error& e) {
    if (e.ref == 0)
        return false;
    if (auto it = confirms_.find(e.ref); it != confirms_.end()) {
        auto& w = it->second;
        if (w.broadcast && e.code == static_cast<std::uint16_t>(error::queue_full)) {
            w.r.refused.emplace_back(e.id); // STORED follows for the rest
            return true;
        }
        w.op.complete(ex_, from_wire(e.code), receipt{});
        confirms_.erase(it);
        return true;
    }
    auto it = std::find_if(fetches_.begin(), fetches_.end(),
                           [&e](const fetch_waiter& w) { return w.ref == e.ref; });
    if (it == fetches_.end())
        return false;
    for (std::size_t i = 0; i < it->got.size(); ++i) // none: the server refuses GET whole
        unconsumed_.pop_back();
    it->op.complete(ex_, from_wire(e.code), {});
    fetches_.erase(it);
    return true;
}

void mailbox_tracker::end(error_code ec) {
    for (auto& [ref, w] : confirms_)
        w.op.complete(ex_, ec, receipt{});
    confirms_.clear();
    for (auto& w : fetches_)
        w.op.complete(ex_, ec, {});
    fetches_.clear();
}

std::vector<message> mailbox_tracker::lost(error_code ec,
                                           const std::vector<std::uint64_t>& resent) {
    for (auto it = confirms_.begin(); it != confirms_.end();) {
        if (std::find(resent.begin(), resent.end(), it->first) != resent.end()) {
            ++it;
            continue;
        }
        it->second.op.complete(ex_, ec, receipt{});
        it = confirms_.erase(it);
    }
    std::vector<message> got;
    for (auto& w : fetches_) {
        if (!w.abandoned)
            w.op.complete(ex_, ec, {});
        for (auto& m : w.got)
            got.push_back(std::move(m));
    }
    fetches_.clear();
    for (std::size_t i = 0; i < got.size() && !unconsumed_.empty(); ++i)
        unconsumed_.pop_front(); // queued again as events
    return got;
}

} // namespace libnet::detail
