#ifndef LIBNET_CLIENT_HPP
#define LIBNET_CLIENT_HPP

#include <libnet/client_options.hpp>
#include <libnet/detail/async.hpp>
#include <libnet/event.hpp>

#include <boost/asio/any_completion_handler.hpp>
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/async_result.hpp>

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace libnet {

namespace detail {
class client_core;
}

/// A libnet client: registers with a server, keeps the directory up to date, sends and
/// broadcasts messages and receives events.
///
/// Every operation runs on the client's strand and may be started from any thread; many
/// sends may be outstanding at once and complete in order. Operations cannot be
/// cancelled one by one: close() ends them all (pending ones complete with
/// operation_aborted or the connection's error).
///
/// @par Thread safety
/// Distinct objects: safe. Shared objects: safe.
class client {
public:
    using executor_type = boost::asio::any_io_executor;

    explicit client(executor_type ex, client_options options = {});
    /// Aborts the connection if it is still open (use async_close for a clean leave).
    ~client();

    client(const client&) = delete;
    client& operator=(const client&) = delete;

    executor_type get_executor() const noexcept;

    /// Connects to `host`:`port` and registers. Completes after WELCOME and the directory
    /// snapshot (WELCOME alone with client_options::directory false), or with the server's error
    /// (id_taken, invalid_client_id, ...), a network error, or asio::error::timed_out after
    /// options.connect_timeout. Handler: void(error_code).
    template <class CompletionToken>
    auto async_connect(std::string host, std::string port, CompletionToken&& token) {
        return detail::spawn_op(get_executor(), connect_op(core_, std::move(host), std::move(port)),
                                std::forward<CompletionToken>(token));
    }

    /// Sends `body` to client `to`, over a direct link when one is up, else through the
    /// server (route::automatic). Completes when the message is on its way: written to the
    /// server connection, or taken into the link's window (waiting for room when the
    /// outbound queue or the window is full). Sends to one peer complete, and arrive, in
    /// the order they were started, whichever way each goes; when a link drops, what it
    /// had not confirmed is re-sent through the server and the receiver drops what it had
    /// already seen, so each message arrives once. A recipient with a mailbox that is
    /// offline gets it at its next login (a `stored` event says so); an unknown recipient is
    /// reported afterwards as a server_error event (code no_such_client, id == to).
    /// Handler: void(error_code).
    template <class CompletionToken>
    auto async_send(std::string to, std::string body, CompletionToken&& token) {
        return async_send(std::move(to), std::move(body), route::automatic,
                          std::forward<CompletionToken>(token));
    }

    /// As above, choosing the route: route::direct fails with error::no_peer_link when no
    /// link to `to` is up; route::server always goes through the server. Order is kept
    /// along each route; mixing explicit routes gives no order between them.
    template <class CompletionToken>
    auto async_send(std::string to, std::string body, route how, CompletionToken&& token) {
        return boost::asio::async_initiate<CompletionToken, void(error_code)>(
            [core = core_, ex = get_executor()](auto handler, std::string to, std::string body,
                                                route how) {
                auto hex = boost::asio::get_associated_executor(handler, ex);
                start_send(core, 0, std::move(to), std::move(body), how, std::move(hex),
                           send_handler(std::move(handler)));
            },
            token, std::move(to), std::move(body), how);
    }

    /// Sends every body in `bodies` to `to`, in order, as async_send would one by one, in
    /// one operation: the cheap way to send many messages. Completes when all are on
    /// their way, or with the first error (later bodies are then not sent). It starts after
    /// the sends started before it; sends started while it runs may come between its
    /// bodies.
    /// Handler: void(error_code).
    template <class CompletionToken>
    auto async_send_batch(std::string to, std::vector<std::string> bodies, route how,
                          CompletionToken&& token) {
        // Started like a waiting async_send, so a single send issued after it can't overtake.
        return boost::asio::async_initiate<CompletionToken, void(error_code)>(
            [core = core_](auto handler, std::string to, std::vector<std::string> bodies,
                           route how) {
                start_send_batch(core, std::move(to), std::move(bodies), how,
                                 send_handler(std::move(handler)));
            },
            token, std::move(to), std::move(bodies), how);
    }

    /// Sends an application-defined frame of `type` (0x8000-0xFFFF) to client `to`, or to
    /// the server's handler for the type when `to` is empty. Routing and completion as
    /// async_send; the receiver gets a message with message::type == type.
    /// Handler: void(error_code); error::unknown_type for a type outside the range.
    template <class CompletionToken>
    auto async_send_app(std::uint16_t type, std::string to, std::string body, route how,
                        CompletionToken&& token) {
        return boost::asio::async_initiate<CompletionToken, void(error_code)>(
            [core = core_, ex = get_executor()](auto handler, std::uint16_t type, std::string to,
                                                std::string body, route how) {
                auto hex = boost::asio::get_associated_executor(handler, ex);
                start_send(core, type, std::move(to), std::move(body), how, std::move(hex),
                           send_handler(std::move(handler)));
            },
            token, type, std::move(to), std::move(body), how);
    }

    /// Sends `body` to every other registered client, through the server.
    /// Handler: void(error_code).
    template <class CompletionToken>
    auto async_broadcast(std::string body, CompletionToken&& token) {
        return detail::spawn_op(get_executor(), broadcast_op(core_, std::move(body)),
                                std::forward<CompletionToken>(token));
    }

    /// Sends `body` to client `to` through the server and completes when the server has
    /// accepted it: queued for `to`, or stored in its mailbox, and, with a durable store,
    /// committed (docs/guide.md §10.3). Errors: no_such_client (no such client and no
    /// mailbox), queue_full (its mailbox is over quota), store_failed, not_permitted, or
    /// the connection's error; then the message was not accepted.
    /// Handler: void(error_code, receipt).
    template <class CompletionToken>
    auto async_send_confirmed(std::string to, std::string body, CompletionToken&& token) {
        return detail::spawn_op<receipt>(get_executor(),
                                         confirmed_op(core_, 0, std::move(to), std::move(body)),
                                         std::forward<CompletionToken>(token));
    }

    /// As async_send_confirmed, for a broadcast: completes once every mailbox that can take
    /// it has it; receipt::refused lists those over quota.
    /// Handler: void(error_code, receipt).
    template <class CompletionToken>
    auto async_broadcast_confirmed(std::string body, CompletionToken&& token) {
        return detail::spawn_op<receipt>(
            get_executor(), confirmed_op(core_, broadcast_tag, std::string(), std::move(body)),
            std::forward<CompletionToken>(token));
    }

    /// Pull mode (client_options::pull): fetches up to `max` messages from this client's
    /// mailbox, oldest first; an empty vector when none wait. They are acknowledged once
    /// handed over. Errors: not_permitted when not in pull mode or the server gave this
    /// client no mailbox. Handler: void(error_code, std::vector<message>).
    template <class CompletionToken>
    auto async_fetch(std::size_t max, CompletionToken&& token) {
        return detail::spawn_op<std::vector<message>>(get_executor(), fetch_op(core_, max),
                                                      std::forward<CompletionToken>(token));
    }

    /// Asks the server whether client `id` is online: its directory entry if so, an empty
    /// optional if not. Works with or without client_options::directory. Errors:
    /// not_connected, unknown_type from a server without presence lookups, or the error
    /// that ended the session. Handler: void(error_code, std::optional<peer_info>).
    template <class CompletionToken>
    auto async_lookup(std::string id, CompletionToken&& token) {
        return detail::spawn_op<std::optional<peer_info>>(
            get_executor(), lookup_op(core_, std::move(id)), std::forward<CompletionToken>(token));
    }

    /// Sets up a direct link to client `id`: asks the server for an introduction, dials
    /// the endpoint `id` advertises and completes when both sides have proven who they
    /// are (docs/protocol.md §15). Completes at once when a link is already up; a link the
    /// peer dials meanwhile counts too. Errors: no_such_client, no_peer_link (the peer does
    /// not listen), auth_failed, a network error, or asio::error::timed_out after
    /// options.connect_timeout. A `link_up` event follows success.
    /// Handler: void(error_code).
    template <class CompletionToken>
    auto async_connect_peer(std::string id, CompletionToken&& token) {
        return detail::spawn_op(get_executor(), connect_peer_op(core_, std::move(id)),
                                std::forward<CompletionToken>(token));
    }

    /// Waits for the next event. After the last one it completes with why the session
    /// ended: error::terminated after TERM, error::connection_closed, heartbeat_timeout,
    /// or not_connected. Handler: void(error_code, event).
    template <class CompletionToken>
    auto async_receive(CompletionToken&& token) {
        return boost::asio::async_initiate<CompletionToken, void(error_code, event)>(
            [core = core_, ex = get_executor()](auto handler) {
                auto hex = boost::asio::get_associated_executor(handler, ex);
                start_receive(core, std::chrono::steady_clock::time_point::max(), std::move(hex),
                              receive_handler(std::move(handler)));
            },
            token);
    }

    /// As async_receive, but completes with asio::error::timed_out after `timeout`
    /// (no event is lost: it stays queued for the next receive).
    template <class CompletionToken>
    auto async_receive(std::chrono::steady_clock::duration timeout, CompletionToken&& token) {
        return boost::asio::async_initiate<CompletionToken, void(error_code, event)>(
            [core = core_, ex = get_executor()](auto handler,
                                                std::chrono::steady_clock::time_point deadline) {
                auto hex = boost::asio::get_associated_executor(handler, ex);
                start_receive(core, deadline, std::move(hex), receive_handler(std::move(handler)));
            },
            token, std::chrono::steady_clock::now() + timeout);
    }

    /// As async_receive, but hands over every queued event (at most `max`, at least one)
    /// at once: the cheap way to consume a stream of messages.
    /// Handler: void(error_code, std::vector<event>).
    template <class CompletionToken>
    auto async_receive_batch(std::size_t max, CompletionToken&& token) {
        return detail::spawn_op<std::vector<event>>(get_executor(), receive_batch_op(core_, max),
                                                    std::forward<CompletionToken>(token));
    }

    /// Asks the server to terminate the session for everyone (TERM). Completes when
    /// written; the TERM then comes back as a `terminated` event. Handler: void(error_code).
    template <class CompletionToken>
    auto async_terminate(std::string text, CompletionToken&& token) {
        return detail::spawn_op(get_executor(), terminate_op(core_, std::move(text)),
                                std::forward<CompletionToken>(token));
    }

    /// Leaves cleanly: BYE after everything queued, then waits (up to close_timeout) for
    /// the server to close. With a mailbox, every message received so far is acknowledged
    /// before BYE, including those still queued for async_receive (receive them after the
    /// close); mailbox messages arriving after BYE are left for the next session.
    /// Handler: void(error_code).
    template <class CompletionToken>
    auto async_close(CompletionToken&& token) {
        return detail::spawn_op(get_executor(), close_op(core_),
                                std::forward<CompletionToken>(token));
    }

    /// The registered id (empty until registered).
    std::string id() const;
    /// The directory in join order, this client included: the snapshot taken at
    /// registration, advanced by each peer_joined / peer_left event as the application
    /// receives it. So it always agrees with the events seen so far: a client is never
    /// both in the directory and still to come as a peer_joined.
    std::vector<peer_info> directory() const;
    /// True between successful registration and the end of the session.
    bool is_connected() const;
    /// Ids of the peers with a direct link up, sorted.
    std::vector<std::string> linked_peers() const;
    /// The endpoint this client listens on for peers ("ip:port"), empty if it doesn't.
    std::string listen_endpoint() const;
    /// The id of the last mailbox message handed to the application (0: none). Keep it to
    /// resume a later session with client_options::resume_after.
    std::uint64_t last_delivered() const;
    /// True once registered with a mailbox: messages are stored while this client is
    /// offline and acknowledged as it receives them.
    bool has_mailbox() const;

private:
    // Static, taking the core by value: a coroutine starts later and must not reach
    // through `this`, which may be gone by then.
    using core_ptr = std::shared_ptr<detail::client_core>;
    using send_handler = boost::asio::any_completion_handler<void(error_code)>;
    using receive_handler = boost::asio::any_completion_handler<void(error_code, event)>;
    // Complete at once, without a coroutine, when nothing has to wait (a link with room, a
    // queued event); otherwise start the coroutine behind the ones already started.
    static void start_send(core_ptr core, std::uint16_t type, std::string to, std::string body,
                           route how, executor_type handler_ex, send_handler handler);
    static void start_send_batch(core_ptr core, std::string to, std::vector<std::string> bodies,
                                 route how, send_handler handler);
    static void start_receive(core_ptr core, std::chrono::steady_clock::time_point deadline,
                              executor_type handler_ex, receive_handler handler);
    static boost::asio::awaitable<error_code> connect_op(core_ptr core, std::string host,
                                                         std::string port);
    static boost::asio::awaitable<error_code> send_op(core_ptr core, std::uint16_t type,
                                                      std::string to, std::string body, route how);
    static boost::asio::awaitable<error_code>
    send_batch_op(core_ptr core, std::string to, std::vector<std::string> bodies, route how);
    static boost::asio::awaitable<std::pair<error_code, std::vector<event>>>
    receive_batch_op(core_ptr core, std::size_t max);
    static boost::asio::awaitable<error_code> broadcast_op(core_ptr core, std::string body);
    static boost::asio::awaitable<error_code> connect_peer_op(core_ptr core, std::string id);
    static boost::asio::awaitable<std::pair<error_code, event>>
    receive_op(core_ptr core, std::chrono::steady_clock::time_point deadline);
    static boost::asio::awaitable<error_code> terminate_op(core_ptr core, std::string text);
    static constexpr std::uint32_t broadcast_tag = 0x1'0000; // above every frame type
    static boost::asio::awaitable<std::pair<error_code, receipt>>
    confirmed_op(core_ptr core, std::uint32_t type, std::string to, std::string body);
    static boost::asio::awaitable<std::pair<error_code, std::vector<message>>>
    fetch_op(core_ptr core, std::size_t max);
    static boost::asio::awaitable<error_code> close_op(core_ptr core);
    static boost::asio::awaitable<std::pair<error_code, std::optional<peer_info>>>
    lookup_op(core_ptr core, std::string id);

    std::shared_ptr<detail::client_core> core_;
};

} // namespace libnet

#endif
