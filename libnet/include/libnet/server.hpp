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
    /// The type of get_executor().
    using executor_type = boost::asio::any_io_executor;

    /// Binds and listens at once, so local_endpoint() is valid on return. With
    /// `options.cluster.servers`, also joins the cluster: connects to NATS and loads the
    /// directory (blocking up to `cluster.connect_timeout`).
    /// @throws boost::system::system_error if the address can't be resolved or bound;
    /// std::runtime_error if the cluster can't be joined (or this build has no clusters),
    /// std::invalid_argument for options that do not go together.
    explicit server(executor_type ex, server_options options = {});
    /// Calls stop(). async_run keeps what it needs alive, so it can still complete.
    ~server();

    server(const server&) = delete;
    server& operator=(const server&) = delete;

    /// The server's own strand, made from the executor given to the constructor (its
    /// sessions run on strands of their own).
    executor_type get_executor() const noexcept;

    /// The bound address (with the real port when options.port was 0).
    boost::asio::ip::tcp::endpoint local_endpoint() const;
    /// The bound UDP address (server_options::udp); the default endpoint when UDP is off.
    boost::asio::ip::udp::endpoint udp_endpoint() const;

    /// Whether this build of libnet can join clusters (built with LIBNET_WITH_NATS).
    static bool cluster_supported() noexcept;

    /// Accepts and serves clients until the server stops (stop(), a client's TERM or a
    /// termination policy), then waits for every session to flush and close.
    /// Handler: void(error_code).
    /// @par Cancellation
    /// Not supported (the slot is ignored): use stop(), which makes it complete once every
    /// session has closed.
    template <class CompletionToken>
    auto async_run(CompletionToken&& token) {
        return detail::spawn_op(get_executor(), run_op(core_),
                                std::forward<CompletionToken>(token));
    }

    /// Starts a graceful stop: every client gets TERM(reason, text), queued frames are
    /// flushed (bounded by close_timeout) and async_run completes. Idempotent.
    void stop(msg::term_reason reason = msg::term_reason::shutdown, std::string_view text = {});

    /// A snapshot of the server's counters since it started.
    server_stats stats() const;

    /// Replaces the allow list and the secrets (server_options::allow_ids and secrets)
    /// while the server runs, without dropping anyone who may stay. Registered clients
    /// whose id is no longer allowed are closed with ERROR(not_allowed), those whose id
    /// got a secret or a different one with ERROR(auth_failed); the others see them leave
    /// as `closed`. Ids new to the allow list get a mailbox; a removed id's mailbox keeps
    /// its messages for when the id is listed again.
    /// @returns the number of clients closed.
    /// @throws std::invalid_argument if an id is not a valid client id, or the allow list
    /// would be turned on or off (empty means "any id": that takes a restart). The rules in
    /// force are unchanged then.
    /// @par Thread safety
    /// Safe from any thread, concurrently with registrations: a client that registers
    /// while the rules change is checked against the new ones.
    std::size_t update_access(const std::set<std::string>& allow_ids,
                              const std::map<std::string, std::string>& secrets);

private:
    static boost::asio::awaitable<error_code> run_op(std::shared_ptr<detail::server_core> core);
    std::shared_ptr<detail::server_core> core_;
};

} // namespace libnet

#endif
