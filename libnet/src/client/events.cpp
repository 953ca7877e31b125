// SPDX-License-Identifier: BSL-1.0
#include "events.hpp"

#include <algorithm>

namespace libnet::detail {

namespace asio = boost::asio;

event_queue::event_queue(asio::any_io_executor ex, std::size_t max_events, taken_fn taken)
    : ex_(std::move(ex)), max_(std::max<std::size_t>(max_events, 1)), taken_(std::move(taken)) {}

event event_queue::take() {
    bool const was_full = full();
    auto e = std::move(events_.front());
    events_.pop_front();
    taken_(e, was_full);
    return e;
}

void event_queue::push(event&& e) {
    if (!waiters_.empty() && waiters_.front().one.active()) {
        // A receive waits, so the queue is empty: the event goes straight to it.
        auto w = std::move(waiters_.front());
        waiters_.pop_front();
        if (w.deadline)
            w.deadline->cancel();
        taken_(e, false);
        return w.one.complete(ex_, {}, std::move(e));
    }
    events_.push_back(std::move(e));
    if (!waiters_.empty()) {
        hand_over(waiters_.front());
        waiters_.pop_front();
    }
}

void event_queue::hand_over(waiter& w) {
    if (w.deadline)
        w.deadline->cancel();
    if (w.one.active())
        return w.one.complete(ex_, {}, take());
    std::vector<event> batch;
    batch.reserve(std::min(w.max, events_.size()));
    while (batch.size() < w.max && !events_.empty())
        batch.push_back(take());
    w.many.complete(ex_, {}, std::move(batch));
}

void event_queue::finish(waiter& w, error_code ec) {
    if (w.deadline)
        w.deadline->cancel();
    w.one.complete(ex_, ec, event{});
    w.many.complete(ex_, ec, std::vector<event>{});
}

void event_queue::receive(pending<event> op, clock::time_point deadline, std::uint64_t key) {
    if (!events_.empty())
        return op.complete(ex_, {}, take());
    if (!open_)
        return op.complete(ex_, reason_, event{});
    op.keep_work(ex_);
    waiter w{key, std::move(op), {}, 1, nullptr};
    if (deadline != clock::time_point::max()) {
        w.deadline = std::make_unique<asio::steady_timer>(ex_, deadline);
        w.deadline->async_wait([this, key, alive = std::weak_ptr<int>(alive_)](error_code ec) {
            if (ec || alive.expired()) // answered or cancelled meanwhile, or the queue is gone
                return;
            auto it = std::find_if(waiters_.begin(), waiters_.end(),
                                   [key](const waiter& x) { return x.key == key; });
            if (it == waiters_.end())
                return;
            it->one.complete(ex_, asio::error::timed_out, event{});
            waiters_.erase(it);
        });
    }
    waiters_.push_back(std::move(w));
}

void event_queue::receive_batch(pending<std::vector<event>> op, std::size_t max,
                                std::uint64_t key) {
    waiter w{key, {}, std::move(op), std::max<std::size_t>(max, 1), nullptr};
    if (!events_.empty())
        return hand_over(w);
    if (!open_)
        return finish(w, reason_);
    w.many.keep_work(ex_);
    waiters_.push_back(std::move(w));
}

void event_queue::cancel(std::uint64_t key) {
    auto it = std::find_if(waiters_.begin(), waiters_.end(),
                           [key](const waiter& w) { return w.key == key; });
    if (it == waiters_.end())
        return;
    finish(*it, asio::error::operation_aborted);
    waiters_.erase(it);
}

void event_queue::open() {
    open_ = true;
}

void event_queue::close(error_code reason) {
    open_ = false;
    reason_ = reason;
    for (auto& w : waiters_)
        finish(w, reason);
    waiters_.clear();
}

} // namespace libnet::detail
