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

/// A started operation of the client: the application's handler, completed exactly once,
/// with void(error_code, T...). Every waiting operation of the client is one of these.
template <class... T>
class pending {
public:
    using handler_type = boost::asio::any_completion_handler<void(error_code, T...)>;

    pending() = default;
    explicit pending(handler_type h) noexcept : handler_(std::move(h)) {}
    pending(pending&&) noexcept = default;
    // Asio 1.81's any_completion_handler move assignment copies its argument as an lvalue,
    // which recurses without end: assign by swapping instead.
    pending& operator=(pending&& other) noexcept {
        handler_type taken(std::move(other.handler_));
        handler_.swap(taken);
        work_ = std::move(other.work_);
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

    /// The operation will wait: keep the handler's executor from running out of work
    /// meanwhile, as Asio's own operations do.
    void keep_work(const boost::asio::any_io_executor& fallback) {
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
};

} // namespace libnet::detail

#endif
