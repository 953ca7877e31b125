// SPDX-License-Identifier: BSL-1.0
#ifndef LIBNET_SRC_CLIENT_PENDING_HPP
#define LIBNET_SRC_CLIENT_PENDING_HPP

#include <libnet/error.hpp>

#include <boost/asio/any_completion_executor.hpp>
#include <boost/asio/any_completion_handler.hpp>
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/associated_executor.hpp>
#include <boost/asio/bind_executor.hpp>
#include <boost/asio/execution/outstanding_work.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/prefer.hpp>

#include <utility>

namespace libnet::detail {

/// Nesting of handlers run inline on this thread (pending::allow_inline).
inline thread_local unsigned inline_depth = 0;
/// Most handlers run inline one inside another before a completion is posted again: each
/// level is a few stack frames of the resumed coroutine and of the client.
inline constexpr unsigned max_inline_depth = 16;

/// A started operation of the client: the application's handler, completed exactly once,
/// with void(error_code, T...). Every waiting operation of the client is one of these.
template <class... T>
class pending {
public:
    using handler_type = boost::asio::any_completion_handler<void(error_code, T...)>;

    pending() = default;
    explicit pending(handler_type h) noexcept : handler_(std::move(h)) {}
    pending(pending&& other) noexcept
        : handler_(std::move(other.handler_)), work_(std::move(other.work_)),
          inline_(std::exchange(other.inline_, false)) {}
    // Asio 1.81's any_completion_handler move assignment copies its argument as an lvalue,
    // which recurses without end: assign by swapping instead.
    pending& operator=(pending&& other) noexcept {
        handler_type taken(std::move(other.handler_));
        handler_.swap(taken);
        work_ = std::move(other.work_);
        inline_ = std::exchange(other.inline_, false);
        return *this;
    }
    pending(const pending&) = delete;
    pending& operator=(const pending&) = delete;

    /// False when there is nobody to tell (a frame sent on the application's behalf).
    bool active() const noexcept { return static_cast<bool>(handler_); }

    /// Where the application asks to cancel this operation (possibly unconnected).
    boost::asio::cancellation_slot slot() const noexcept {
        return handler_ ? handler_.get_cancellation_slot() : boost::asio::cancellation_slot();
    }

    /// The handler is a coroutine's (use_awaitable) that runs on the client's strand: if the
    /// operation completes while it starts, on the strand, the coroutine may resume at once
    /// instead of after a trip through the executor's queue. Asio 1.81 has no immediate
    /// executor; an awaitable's handler called inside its initiation resumes the coroutine
    /// on the same stack, so the nesting is bounded (max_inline_depth).
    void allow_inline() noexcept { inline_ = true; }

    /// The operation will wait: keep the handler's executor from running out of work
    /// meanwhile, as Asio's own operations do. Its completion is posted, never inline.
    void keep_work(const boost::asio::any_io_executor& fallback) {
        inline_ = false;
        if (handler_ && !work_)
            work_ = boost::asio::prefer(boost::asio::get_associated_executor(handler_, fallback),
                                        boost::asio::execution::outstanding_work.tracked);
    }

    /// Completes the operation: posted to `fallback` (the client's strand), from where it
    /// is dispatched to the handler's associated executor (`fallback` if it has none); so
    /// the handler never runs inside this call. Nothing happens when inactive.
    void complete(const boost::asio::any_io_executor& fallback, error_code ec, T... v) {
        if (!handler_)
            return;
        if (inline_ && inline_depth < max_inline_depth) {
            auto h = std::move(handler_);
            h.get_cancellation_slot().clear();
            ++inline_depth;
            struct leave {
                ~leave() { --inline_depth; }
            } on_exit;
            std::move(h)(ec, std::move(v)...); // the caller touches nothing of its own after
            return;
        }
        auto ex = boost::asio::get_associated_executor(handler_, fallback);
        work_ = nullptr;
        boost::asio::post(
            fallback, boost::asio::bind_executor(std::move(ex), [h = std::move(handler_), ec,
                                                                 ... v = std::move(v)]() mutable {
                // Cleared here, on the handler's executor, where
                // cancellation is emitted: never concurrently with an emit.
                h.get_cancellation_slot().clear();
                std::move(h)(ec, std::move(v)...);
            }));
    }

private:
    handler_type handler_;
    boost::asio::any_completion_executor work_; // while waiting: tracks outstanding work
    bool inline_ = false;
};

} // namespace libnet::detail

#endif
