// SPDX-License-Identifier: BSL-1.0
#ifndef LIBNET_APPS_NET_CLIENT_LINE_SOURCE_HPP
#define LIBNET_APPS_NET_CLIENT_LINE_SOURCE_HPP

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <deque>
#include <iostream>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

namespace app {

/// Lines from stdin, read on a thread of their own (regular files can't be polled).
/// The thread may outlive this object, blocked in getline when the program ends; it only
/// posts while the source is open, under a mutex, so it never touches a dead io_context.
class line_source {
public:
    explicit line_source(boost::asio::any_io_executor ex)
        : ready_(ex), gate_(std::make_shared<gate>()) {
        ready_.expires_at(std::chrono::steady_clock::time_point::max());
        std::thread([this, ex, g = gate_] {
            auto deliver = [&](std::optional<std::string> line) {
                std::lock_guard lock(g->mutex);
                if (g->open)
                    boost::asio::post(ex, [this, line = std::move(line)] { push(line); });
                return g->open;
            };
            for (std::string line; std::getline(std::cin, line);)
                if (!deliver(line))
                    return;
            deliver(std::nullopt);
        }).detach();
    }
    ~line_source() {
        std::lock_guard lock(gate_->mutex);
        gate_->open = false;
    }
    /// The next line, or nullopt at end of input or after stop().
    boost::asio::awaitable<std::optional<std::string>> next() {
        while (lines_.empty() && !stopped_)
            co_await ready_.async_wait(boost::asio::as_tuple(boost::asio::use_awaitable));
        if (stopped_ || !lines_.front())
            co_return std::nullopt;
        auto line = std::move(lines_.front());
        lines_.pop_front();
        co_return line;
    }
    void stop() {
        stopped_ = true;
        ready_.cancel();
    }

private:
    struct gate {
        std::mutex mutex;
        bool open = true;
    };
    void push(std::optional<std::string> line) {
        lines_.push_back(std::move(line));
        ready_.cancel();
    }
    boost::asio::steady_timer ready_;
    std::shared_ptr<gate> gate_;
    std::deque<std::optional<std::string>> lines_;
    bool stopped_ = false;
};

} // namespace app

#endif
