// SPDX-License-Identifier: BSL-1.0
#ifndef LIBNET_APPS_NET_SERVER_METRICS_HTTP_HPP
#define LIBNET_APPS_NET_SERVER_METRICS_HTTP_HPP

// net-server --metrics: a small HTTP/1.1 server of GET pages, on the server's io_context.

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/ip/tcp.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>

namespace app {

/// A page: its content type and what renders its body, at each request, on any thread.
struct http_page {
    std::string content_type;
    std::function<std::string()> render;
};

/// What keeps a slow or hostile client from hurting the server: a bounded number of
/// connections, each with a small request and a deadline.
struct http_limits {
    std::size_t max_connections = 16; // beyond them: 503 and closed
    std::chrono::seconds timeout{10}; // to read a request (waiting included) or write one answer
    std::uint32_t max_header_bytes = 8192;
    std::uint64_t max_body_bytes = 1024; // a larger request: 400 and closed
};

/// Serves `pages` by path: GET only (else 405), 404 for other paths, 400 and close for a
/// request that is malformed or too large; keep-alive.
/// @par Thread safety
/// stop() from any thread; the rest from one.
class metrics_http {
public:
    /// Binds HOST:PORT (port "0": a free one) and listens; throws boost::system::system_error.
    metrics_http(boost::asio::any_io_executor ex, const std::string& host, const std::string& port,
                 std::map<std::string, http_page> pages, http_limits limits = {});
    metrics_http(const metrics_http&) = delete;
    metrics_http& operator=(const metrics_http&) = delete;
    ~metrics_http();

    boost::asio::ip::tcp::endpoint local_endpoint() const;
    /// Accepts connections until stop().
    void start();
    /// Closes the listener and every connection: nothing of it keeps the io_context running.
    void stop();

private:
    struct state;
    std::shared_ptr<state> state_;
};

} // namespace app

#endif
