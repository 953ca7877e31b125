// SPDX-License-Identifier: BSL-1.0
#ifndef LIBNET_SRC_CLIENT_MAILBOX_TRACKER_HPP
#define LIBNET_SRC_CLIENT_MAILBOX_TRACKER_HPP

#include "pending.hpp"

#include <libnet/event.hpp>
#include <libnet/messages.hpp>

#include <atomic>
#include <deque>
#include <optional>
#include <unordered_map>
#include <vector>

namespace libnet::detail {

/// The client's side of its mailbox (docs/protocol.md §16): which message ids it has seen
/// and the application has taken (dedup and ACKs), and the operations waiting for the
/// server's answer (confirmed sends, fetches). No I/O: the core sends what it says.
/// Strand only, except last_delivered() and has_mailbox().
class mailbox_tracker {
public:
    explicit mailbox_tracker(boost::asio::any_io_executor ex) : ex_(std::move(ex)) {}

    /// The session resumes after mailbox id `after` (client_options::resume_after).
    void resume(std::uint64_t after);
    /// A reconnection asks the server to resume after `after`; what has arrived since
    /// stays known, so the server's second copies are dropped.
    void resuming(std::uint64_t after) { resumed_after_ = after; }
    /// WELCOME: whether there is a mailbox, and the server's highest id for it.
    void welcome(bool has_mailbox, std::uint64_t server_seq);

    /// A mailbox message `seq` arrived: false when it had been seen (a redelivery).
    bool fresh(std::uint64_t seq);
    /// It is queued for the application (an event, or a fetch's answer).
    void queued(std::uint64_t seq) { unconsumed_.push_back(seq); }
    /// The application took the oldest queued one, `seq`.
    void taken(std::uint64_t seq);
    /// A message was handed over or used up (a hook took it): what may be acknowledged.
    void used();
    /// Leaving: everything received counts as the application's.
    void forget_queued() { unconsumed_.clear(); }
    /// The id to acknowledge now, if it is higher than the last ACK.
    std::optional<std::uint64_t> ack_due();

    std::uint64_t last_delivered() const { return last_delivered_.load(); }
    bool has_mailbox() const { return has_mailbox_.load(); }

    // Confirmed sends, by ref; `key` names one for cancellation.
    void expect_confirm(std::uint64_t ref, std::uint64_t key, bool broadcast, pending<receipt> op);
    /// STORED: true if it answers a confirmed send.
    bool on_stored(const msg::stored& s);
    void cancel_confirm(std::uint64_t key);

    // Fetches (pull mode), answered in order.
    void expect_fetch(std::uint64_t ref, std::uint64_t key, pending<std::vector<message>> op);
    /// A mailbox message the oldest live fetch takes; false if none does.
    bool take_for_fetch(message& m);
    /// FETCHED: completes the oldest fetch; true if it handed over messages.
    bool on_fetched();
    /// The fetch stops waiting; returns its messages, which become events (the fetch stays
    /// listed, abandoned, until its FETCHED).
    std::vector<message> cancel_fetch(std::uint64_t key);

    /// ERROR with a ref: true if it answers a confirmed send or a fetch.
    bool on_error(const msg::error& e);
    /// The session ended: every waiting operation completes with `ec`.
    void end(error_code ec);
    /// The connection was lost and the client reconnects: fetches and the confirmed sends
    /// the server may have seen complete with `ec`; those of `resent` (refs of frames that
    /// never left, sent again on the next connection) keep waiting for their answer.
    /// Returns what the fetches had gathered, to become events.
    std::vector<message> lost(error_code ec, const std::vector<std::uint64_t>& resent);

private:
    struct confirm_waiter {
        std::uint64_t key = 0;
        pending<receipt> op;
        bool broadcast = false;
        receipt r;
    };
    struct fetch_waiter {
        std::uint64_t ref = 0;
        std::uint64_t key = 0;
        pending<std::vector<message>> op;
        std::vector<message> got;
        bool abandoned = false;
    };
    std::uint64_t upto() const; // everything before the first message not yet taken

    boost::asio::any_io_executor ex_;
    std::atomic<bool> has_mailbox_{false};
    // Ids arrive in increasing order; those queued but not yet taken are in unconsumed_,
    // and ACKs stop short of the first.
    std::uint64_t highest_seq_ = 0;   // anything up to it is a duplicate
    std::uint64_t resumed_after_ = 0; // what the last HELLO asked to resume after
    std::deque<std::uint64_t> unconsumed_;
    std::uint64_t acked_ = 0;
    std::atomic<std::uint64_t> last_delivered_{0};
    std::unordered_map<std::uint64_t, confirm_waiter> confirms_;
    std::deque<fetch_waiter> fetches_;
};

} // namespace libnet::detail

#endif
