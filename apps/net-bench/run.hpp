// SPDX-License-Identifier: BSL-1.0
#ifndef LIBNET_APPS_NET_BENCH_RUN_HPP
#define LIBNET_APPS_NET_BENCH_RUN_HPP

// What every net-bench subcommand shares: the options, the run's clock, deadline and
// progress line, and the one result line on stdout.

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>

#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace bench {

/// Where the clients go and what they speak.
struct target {
    boost::asio::ip::tcp::endpoint server;
    /// Odd-numbered clients connect here when set (a second node of a cluster).
    std::optional<boost::asio::ip::tcp::endpoint> second;
    bool nats = false;         ///< Speak NATS to a nats-server instead of libnet.
    bool no_directory = false; ///< libnet: HELLO with hello_no_directory.
    std::string prefix = "c";  ///< Client i registers as (or subscribes to) prefix + i.
    double timeout = 60;       ///< Seconds the whole run may take.
};

struct storm_options {
    std::size_t clients = 1000;
    double hold = 0;     ///< Seconds to stay connected, idle, once every client is complete.
    long server_pid = 0; ///< Reports this process's RSS per client (same machine); 0: not.
};

struct route_options {
    std::size_t clients = 16;
    std::size_t window = 64;
    std::size_t size = 64;
    double seconds = 5;
};

struct pingpong_options {
    std::size_t size = 64;
    std::size_t count = 10000;
};

int run_storm(const target& t, const storm_options& o);
int run_route(const target& t, const route_options& o);
int run_pingpong(const target& t, const pingpong_options& o);

/// The run's clock, its deadline and the progress line on stderr about once a second.
class runner {
public:
    runner(boost::asio::io_context& ioc, std::string name, double timeout_s);

    /// Starts the clock and the timers; `progress` describes where the run is.
    void start(std::function<std::string()> progress, std::function<void()> on_finish);
    /// Ends the run, successfully when `failure` is empty; runs on_finish once.
    void finish(std::string failure = {});

    double elapsed() const;
    bool finished() const noexcept { return finished_; }
    bool failed() const noexcept { return !failure_.empty(); }
    /// Prints the failure, if any, to stderr and returns the exit status (0 or 1).
    int report() const;

private:
    void tick();

    std::string name_;
    double timeout_s_;
    boost::asio::steady_timer deadline_, ticker_;
    std::chrono::steady_clock::time_point start_;
    std::function<std::string()> progress_;
    std::function<void()> on_finish_;
    std::string failure_;
    bool finished_ = false;
};

/// The result line: space-separated key=value pairs, printed once on stdout.
class result_line {
public:
    result_line& add(std::string key, std::string value);
    result_line& add(std::string key, std::uint64_t value);
    result_line& add(std::string key, double value, int decimals = 3);
    void print() const;

private:
    std::vector<std::pair<std::string, std::string>> fields_;
};

/// The q-quantile (0-1) of `samples` (sorted in place); 0 for none.
double quantile(std::vector<double>& samples, double q);

} // namespace bench

#endif
