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
    /// Sends `body` to client `to` along `how` (route::direct fails with
    /// error::no_peer_link when no link is up). See client::async_send.
    /// @throws boost::system::system_error when the session has ended, or no_peer_link.
    void send(const std::string& to, const std::string& body, route how);
    /// Sends a message of application type `type` (0x8000-0xFFFF) to `to`, or to the
    /// server's handler for the type when `to` is empty. See client::async_send_app.
    /// @throws boost::system::system_error: error::unknown_type for a type outside the
    /// application range, or as send().
    void send_app(std::uint16_t type, const std::string& to, const std::string& body,
                  route how = route::automatic);
    /// Sends `body` to `to` through the server and waits for its answer: stored for an
    /// offline recipient with a mailbox, committed first with a durable store. See
    /// client::async_send_confirmed.
    /// @returns the receipt (`offline` is 1 when it waits in `to`'s mailbox).
    /// @throws boost::system::system_error with the server's refusal (no_such_client,
    /// queue_full, store_failed, ...) or the end of the session.
    receipt send_confirmed(const std::string& to, const std::string& body);
    /// As send_confirmed, to every other client; see client::async_broadcast_confirmed.
    receipt broadcast_confirmed(const std::string& body);
    /// Pull mode (client_options::pull): up to `max` messages from the mailbox, in order;
    /// empty when it has none. See client::async_fetch.
    /// @throws boost::system::system_error when the session has ended, or without pull mode.
    std::vector<message> fetch(std::size_t max);
    /// Whether `id` is online, and its directory entry if so; works without the directory.
    /// See client::async_lookup.
    std::optional<peer_info> lookup(const std::string& id);
    /// Sets up a direct link to `id` (which must listen); returns once it is up. See
    /// client::async_connect_peer.
    /// @throws boost::system::system_error: no_peer_link, auth_failed, a network error.
    void connect_peer(const std::string& id);
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
    /// Registered and the connection up; see client::is_connected.
    bool is_connected() const { return client_.is_connected(); }
    /// Peers with a direct link up, sorted; see client::linked_peers.
    std::vector<std::string> linked_peers() const { return client_.linked_peers(); }
    /// Where this client listens for direct links ("host:port"), empty if it does not.
    std::string listen_endpoint() const { return client_.listen_endpoint(); }
    /// The id of the last mailbox message handed over by receive() or fetch(): give it as
    /// client_options::resume_after to a later client under this id. See
    /// client::last_delivered.
    std::uint64_t last_delivered() const { return client_.last_delivered(); }
    /// Whether the server keeps a mailbox for this client (known once connected).
    bool has_mailbox() const { return client_.has_mailbox(); }

private:
    boost::asio::io_context ioc_;
    boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work_;
    client client_;
    std::thread thread_;
};

} // namespace libnet

#endif
