// SPDX-License-Identifier: BSL-1.0
#ifndef LIBNET_SRC_CLIENT_EVENTS_HPP
#define LIBNET_SRC_CLIENT_EVENTS_HPP

#include "pending.hpp"

#include <libnet/event.hpp>

#include <boost/asio/steady_timer.hpp>

#include <chrono>
#include <deque>
#include <functional>
#include <memory>
#include <vector>

namespace libnet::detail {

/// The client's events on their way to the application, and the receives waiting for them.
/// An event goes straight to the oldest waiting receive, else into the queue; receives are
/// answered in the order they were started. Strand only.
class event_queue {
public:
    using clock = std::chrono::steady_clock;

    /// Runs on every event as the application gets it, told whether the queue was full.
    using taken_fn = std::function<void(const event&, bool was_full)>;

    event_queue(boost::asio::any_io_executor ex, std::size_t max_events, taken_fn taken);

    void push(event&& e);
    /// Waits for one event until `deadline` (then asio::error::timed_out); `key` names it
    /// for cancel().
    void receive(pending<event> op, clock::time_point deadline, std::uint64_t key);
    /// Waits for at least one event, and hands over up to `max` at once.
    void receive_batch(pending<std::vector<event>> op, std::size_t max, std::uint64_t key);
    /// Completes the receive `key` with operation_aborted, if it still waits.
    void cancel(std::uint64_t key);

    /// Events may come (again): receives wait for them.
    void open();
    /// No more events come: receives finding the queue empty complete with `reason`.
    void close(error_code reason);

    /// At the bound: the connections stop reading until the application takes events.
    bool full() const noexcept { return events_.size() >= max_; }
    bool empty() const noexcept { return events_.empty(); }

private:
    struct waiter {
        std::uint64_t key;
        pending<event> one;
        pending<std::vector<event>> many;
        std::size_t max = 1;
        std::unique_ptr<boost::asio::steady_timer> deadline; // only for timed receives
    };
    event take();
    void hand_over(waiter& w);
    void finish(waiter& w, error_code ec);

    boost::asio::any_io_executor ex_;
    std::size_t max_;
    taken_fn taken_;
    std::deque<event> events_;
    std::deque<waiter> waiters_; // only while events_ is empty
    bool open_ = false;
    error_code reason_ = error::not_connected;
    // Expires with the queue: a timeout that fired just before its receive was answered
    // may still run after the client is gone, and must not touch the queue then.
    std::shared_ptr<int> alive_ = std::make_shared<int>(0);
};

} // namespace libnet::detail

#endif
