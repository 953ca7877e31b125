// SPDX-License-Identifier: BSL-1.0
#ifndef LIBNET_BLOCKING_CLIENT_HPP
#define LIBNET_BLOCKING_CLIENT_HPP

#include <libnet/client.hpp>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>

#include <chrono>
#include <optional>
#include <thread>

namespace libnet {

/// A client for applications that don't run Asio themselves: it owns an I/O thread and
/// every call blocks until its operation completes.
///
/// Errors are thrown as boost::system::system_error carrying the libnet or network code
/// (e.g. error::id_taken from connect, error::terminated from receive after a TERM).
///
/// @par Thread safety
/// Distinct objects: safe. Shared objects: safe; calls from several threads interleave.
class blocking_client {
public:
    explicit blocking_client(client_options options = {});
    /// Leaves with close() if still connected, then stops the I/O thread.
    ~blocking_client();

    blocking_client(const blocking_client&) = delete;
    blocking_client& operator=(const blocking_client&) = delete;

    /// Connects and registers; see client::async_connect.
    void connect(const std::string& host, const std::string& port);
    /// Sends through the server; returns once written. See client::async_send.
    void send(const std::string& to, const std::string& body);
    void broadcast(const std::string& body);
    /// The next event, or std::nullopt if none comes within `timeout`.
    /// @throws system_error when the session has ended (error::terminated after TERM...).
    std::optional<event> receive(std::chrono::milliseconds timeout);
    /// Asks the server to terminate the session for everyone.
    void terminate(const std::string& text = {});
    /// Leaves with BYE after everything queued is sent.
    void close();

    std::string id() const { return client_.id(); }
    std::vector<peer_info> directory() const { return client_.directory(); }

private:
    boost::asio::io_context ioc_;
    boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work_;
    client client_;
    std::thread thread_;
};

} // namespace libnet

#endif
