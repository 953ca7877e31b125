// SPDX-License-Identifier: BSL-1.0
#ifndef LIBNET_APPS_NET_BENCH_FLEET_HPP
#define LIBNET_APPS_NET_BENCH_FLEET_HPP

// N raw clients of one kind, connected all at once, and what happened to them.

#include "raw_client.hpp"
#include "run.hpp"

#include <boost/asio/steady_timer.hpp>

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace bench {

class fleet final : public client_events {
public:
    /// Client i is prefix + i; with a libnet target, each is ready once its directory
    /// holds `expect` ids (0: on WELCOME).
    fleet(boost::asio::io_context& ioc, const target& t, std::size_t n, std::size_t expect);

    /// Issues every connect before returning. `on_settled` runs once every client is
    /// ready or has failed before getting there.
    void start(std::function<void()> on_settled);
    /// Closes every client in order (BYE, half-close, read to the end); `done` runs once
    /// all are closed, or after `grace` when some are not.
    void close_all(std::chrono::milliseconds grace, std::function<void()> done);

    raw_client& operator[](std::size_t i) { return *clients_[i]; }
    std::size_t size() const noexcept { return clients_.size(); }

    /// Messages for a client, once per read (route and pingpong set it).
    std::function<void(raw_client&, std::size_t)> message_handler;
    /// A client failed (route, pingpong and the storm with the directory end the run: no
    /// client can see every id any more).
    std::function<void(const std::string&)> failure_handler;

    std::size_t connected = 0, registered = 0, ready = 0;
    std::size_t connect_failed = 0, resets = 0, errors = 0, protocol_errors = 0;
    double connect_seconds = 0; ///< Until every connect had completed or failed.
    double ready_seconds = 0;   ///< Until every client was ready (or failed).
    std::string first_failure;

    std::size_t failures() const noexcept {
        return connect_failed + resets + errors + protocol_errors;
    }
    std::uint64_t bytes_in() const;
    std::uint64_t frames_in() const;
    /// "1000/1000 connected, 812 registered, 700 complete" and the failures, if any.
    std::string progress() const;

private:
    void on_connected(raw_client& c) override;
    void on_registered(raw_client& c) override;
    void on_ready(raw_client& c) override;
    void on_messages(raw_client& c, std::size_t n) override;
    void on_failure(raw_client& c, failure kind, std::string_view what) override;
    void on_closed(raw_client& c) override;
    void check_settled();
    void closed_all();
    double since_start() const;

    target target_;
    std::vector<std::unique_ptr<raw_client>> clients_;
    std::chrono::steady_clock::time_point start_;
    std::function<void()> on_settled_, on_closed_all_;
    boost::asio::steady_timer grace_;
    std::size_t lost_ = 0; ///< Failed before ready.
    std::size_t open_ = 0; ///< Not yet closed, while closing.
    bool settled_ = false;
};

} // namespace bench

#endif
