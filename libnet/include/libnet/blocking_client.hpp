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
/// There is no cancellation: each call returns when its operation completes, and those
/// that could wait long are bounded (connect by client_options::connect_timeout, receive
/// by its timeout, close by client_options::close_timeout).
///
/// @par Thread safety
/// Distinct objects: safe. Shared objects: safe; calls from several threads interleave.
/// Not from the hooks in client_options: they run on the I/O thread, which a blocking call
/// there would wait for forever.
class blocking_client {
public:
    /// Starts the I/O thread; does not connect yet (see connect()).
    /// @param options the client's settings, as for client.
    explicit blocking_client(client_options options = {});
    /// Leaves with close() if still connected, then stops the I/O thread.
    ~blocking_client();

    blocking_client(const blocking_client&) = delete;
    blocking_client& operator=(const blocking_client&) = delete;

    /// Connects to `host`:`port` and registers; see client::async_connect.
    /// @throws boost::system::system_error with the server's error (error::id_taken, ...),
    /// a network error or asio::error::timed_out.
    void connect(const std::string& host, const std::string& port);
    /// Sends `body` to client `to` (route::automatic); returns once it is on its way. See
    /// client::async_send.
    /// @throws boost::system::system_error when the session has ended.
    void send(const std::string& to, const std::string& body);
    /// Sends `body` to every other registered client; returns once it is on its way. See
    /// client::async_broadcast.
    /// @throws boost::system::system_error when the session has ended.
    void broadcast(const std::string& body);
    /// The next event, or std::nullopt if none comes within `timeout`.
    /// @throws boost::system::system_error when the session has ended (error::terminated
    /// after TERM...).
    std::optional<event> receive(std::chrono::milliseconds timeout);
    /// Asks the server to terminate the session for everyone, with `text` as the reason;
    /// see client::async_terminate.
    void terminate(const std::string& text = {});
    /// Leaves with BYE after everything queued is sent; see client::async_close.
    void close();

    /// The registered id (empty until registered); see client::id.
    std::string id() const { return client_.id(); }
    /// The directory as the events received so far leave it; see client::directory.
    std::vector<peer_info> directory() const { return client_.directory(); }

private:
    boost::asio::io_context ioc_;
    boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work_;
    client client_;
    std::thread thread_;
};

} // namespace libnet

#endif
