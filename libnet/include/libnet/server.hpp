// SPDX-License-Identifier: BSL-1.0
#ifndef LIBNET_SERVER_HPP
#define LIBNET_SERVER_HPP

#include <libnet/detail/async.hpp>
#include <libnet/messages.hpp>
#include <libnet/server_options.hpp>
#include <libnet/server_stats.hpp>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ip/udp.hpp>

#include <memory>

namespace libnet {

namespace detail {
class server_core;
}

/// A libnet server: accepts clients, keeps the directory, routes and broadcasts messages,
/// and terminates on request or by policy (see server_options and docs/protocol.md).
///
/// Sessions run on strands of the executor given to the constructor, so the io_context
/// behind it may be run on any number of threads.
///
/// @par Thread safety
/// Distinct objects: safe. Shared objects: local_endpoint(), stop() and stats() are safe
/// from any thread; async_run() must be called once.
class server {
public:
    using executor_type = boost::asio::any_io_executor;

    /// Binds and listens at once, so local_endpoint() is valid on return. With
    /// `options.cluster.servers`, also joins the cluster: connects to NATS and loads the
    /// directory (blocking up to `cluster.connect_timeout`).
    /// @throws boost::system::system_error if the address can't be resolved or bound;
    /// std::runtime_error if the cluster can't be joined (or this build has no clusters),
    /// std::invalid_argument for options that do not go together.
    explicit server(executor_type ex, server_options options = {});
    ~server();

    server(const server&) = delete;
    server& operator=(const server&) = delete;

    executor_type get_executor() const noexcept;

    /// The bound address (with the real port when options.port was 0).
    boost::asio::ip::tcp::endpoint local_endpoint() const;
    /// The bound UDP address (server_options::udp); the default endpoint when UDP is off.
    boost::asio::ip::udp::endpoint udp_endpoint() const;

    /// Whether this build of libnet can join clusters (built with LIBNET_WITH_NATS).
    static bool cluster_supported() noexcept;

    /// Accepts and serves clients until the server stops (stop(), a client's TERM or a
    /// termination policy), then waits for every session to flush and close.
    /// Handler: void(error_code). Cancellation: use stop().
    template <class CompletionToken>
    auto async_run(CompletionToken&& token) {
        return detail::spawn_op(get_executor(), run_op(core_),
                                std::forward<CompletionToken>(token));
    }

    /// Starts a graceful stop: every client gets TERM(reason, text), queued frames are
    /// flushed (bounded by close_timeout) and async_run completes. Idempotent.
    void stop(msg::term_reason reason = msg::term_reason::shutdown, std::string_view text = {});

    server_stats stats() const;

private:
    static boost::asio::awaitable<error_code> run_op(std::shared_ptr<detail::server_core> core);
    std::shared_ptr<detail::server_core> core_;
};

} // namespace libnet

#endif
