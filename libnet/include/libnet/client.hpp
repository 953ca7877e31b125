// SPDX-License-Identifier: BSL-1.0
#ifndef LIBNET_CLIENT_HPP
#define LIBNET_CLIENT_HPP

#include <libnet/client_options.hpp>
#include <libnet/event.hpp>

#include <boost/asio/any_completion_handler.hpp>
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace libnet {

namespace detail {
class client_core;

// Tokens whose handler resumes a coroutine (use_awaitable, as is or in as_tuple): such a
// handler may run inline when its operation completes as it starts (pending::allow_inline).
template <class Token>
struct resumes_coroutine : std::false_type {};
template <>
struct resumes_coroutine<boost::asio::use_awaitable_t<>> : std::true_type {};
template <>
struct resumes_coroutine<boost::asio::as_tuple_t<boost::asio::use_awaitable_t<>>> : std::true_type {
};
} // namespace detail

/// A libnet client: registers with a server, keeps the directory up to date, sends and
/// broadcasts messages and receives events.
///
/// Every asynchronous operation takes a completion token (use_awaitable, deferred,
/// use_future, a callback, ...) and may be started from any thread. Operations start on the
/// client's strand in the order they were called and sends complete in that order. The
/// handler runs on its associated executor (the client's strand if it has none), never
/// inside the initiating call.
///
/// A client object serves one session: once the session has ended (close, TERM, a lost
/// connection), async_connect fails with asio::error::already_started; make a new client
/// to connect again. With client_options::reconnect, a lost connection does not end the
/// session: the client connects again by itself (events reconnecting and reconnected).
///
/// @par Cancellation
/// async_receive, async_receive_batch, async_connect, async_fetch and the confirmed sends
/// support per-operation cancellation through the handler's cancellation slot (for example
/// asio::bind_cancellation_slot, or `||` of awaitable operators): each completes with
/// asio::error::operation_aborted, with the effects described at the operation. Every
/// cancellation type is honoured. The other operations ignore the slot. Most complete
/// quickly; a send waits while the outbound queue is over client_options::max_queue_bytes
/// (the server is not reading) or, with client_options::reconnect, until the client is back
/// or gives up. async_close (or destroying the client) ends every wait.
///
/// @par Thread safety
/// Distinct objects: safe. Shared objects: safe.
class client {
public:
    /// The type of get_executor().
    using executor_type = boost::asio::any_io_executor;

    /// A client that is not connected yet (see async_connect). Nothing happens on the
    /// network until then.
    /// @param ex the executor its strand, timers and sockets run on.
    /// @param options the client's settings; see client_options for their defaults.
    explicit client(executor_type ex, client_options options = {});
    /// Aborts the connection if it is still open (use async_close for a clean leave).
    /// Operations still waiting complete with the session's error.
    ~client();

    client(const client&) = delete;
    client& operator=(const client&) = delete;

    /// The client's strand, made from the executor given to the constructor: handlers
    /// without an associated executor of their own run on it.
    executor_type get_executor() const noexcept;

    /// Connects to `host`:`port` and registers. Completes after WELCOME and the directory
    /// snapshot (WELCOME alone with client_options::directory false), or with the server's error
    /// (id_taken, invalid_client_id, ...), a network error, or asio::error::timed_out after
    /// options.connect_timeout; asio::error::already_started when called twice.
    /// Handler: void(error_code).
    /// @par Cancellation
    /// Abandons the attempt: the connection, if made, is closed and the client is finished.
    template <boost::asio::completion_token_for<void(error_code)> CompletionToken>
    auto async_connect(std::string host, std::string port, CompletionToken&& token) {
        return initiate<void(error_code)>(&start_connect, std::forward<CompletionToken>(token),
                                          std::move(host), std::move(port));
    }

    /// Sends `body` to client `to`, over a direct link when one is up, else through the
    /// server (route::automatic). Completes when the message is on its way: in the server
    /// connection's outbound queue, or in the link's window; it waits while the queue holds
    /// client_options::max_queue_bytes or the window is full. Sends one after another go
    /// out in one write. Sends to one peer complete, and arrive, in the order they were
    /// started, whichever way each goes; when a link drops, what it had not confirmed is
    /// re-sent through the server and the receiver drops what it had already seen, so each
    /// message arrives once. A recipient with a mailbox that is offline gets it at its next
    /// login (a `stored` event says so); an unknown recipient is reported afterwards as a
    /// server_error event (code no_such_client, id == to). Handler: void(error_code).
    /// @par Cancellation
    /// Not supported (the slot is ignored): it completes once the message is on its way, or
    /// with the session's error when async_close, the destructor or a lost connection ends it.
    template <boost::asio::completion_token_for<void(error_code)> CompletionToken>
    auto async_send(std::string to, std::string body, CompletionToken&& token) {
        return async_send(std::move(to), std::move(body), route::automatic,
                          std::forward<CompletionToken>(token));
    }

    /// As above, choosing the route: route::direct fails with error::no_peer_link when no
    /// link to `to` is up; route::server always goes through the server. Order is kept
    /// along each route; mixing explicit routes gives no order between them.
    /// Handler: void(error_code). Cancellation as the other async_send.
    template <boost::asio::completion_token_for<void(error_code)> CompletionToken>
    auto async_send(std::string to, std::string body, route how, CompletionToken&& token) {
        return initiate<void(error_code)>(&start_send, std::forward<CompletionToken>(token),
                                          std::uint16_t{0}, std::move(to), std::move(body), how);
    }

    /// Sends every body in `bodies` to `to`, in order, as async_send would one by one, in
    /// one operation: the cheap way to send many messages. Completes when all are on their
    /// way, or with the first error. frame_too_large for any body sends none of them.
    /// Handler: void(error_code). Cancellation as async_send.
    template <boost::asio::completion_token_for<void(error_code)> CompletionToken>
    auto async_send_batch(std::string to, std::vector<std::string> bodies, route how,
                          CompletionToken&& token) {
        return initiate<void(error_code)>(&start_send_batch, std::forward<CompletionToken>(token),
                                          std::move(to), std::move(bodies), how);
    }

    /// Sends an application-defined frame of `type` (0x8000-0xFFFF) to client `to`, or to
    /// the server's handler for the type when `to` is empty. Routing and completion as
    /// async_send; the receiver gets a message with message::type == type.
    /// Handler: void(error_code); error::unknown_type for a type outside the range.
    /// Cancellation as async_send.
    template <boost::asio::completion_token_for<void(error_code)> CompletionToken>
    auto async_send_app(std::uint16_t type, std::string to, std::string body, route how,
                        CompletionToken&& token) {
        return initiate<void(error_code)>(&start_send, std::forward<CompletionToken>(token), type,
                                          std::move(to), std::move(body), how);
    }

    /// Sends `body` to every other registered client, through the server; completes as
    /// async_send. Handler: void(error_code). Cancellation as async_send.
    template <boost::asio::completion_token_for<void(error_code)> CompletionToken>
    auto async_broadcast(std::string body, CompletionToken&& token) {
        return initiate<void(error_code)>(&start_broadcast, std::forward<CompletionToken>(token),
                                          std::move(body));
    }

    /// Sends `body` to client `to` through the server and completes when the server has
    /// accepted it: queued for `to`, or stored in its mailbox, and, with a durable store,
    /// committed (docs/guide.md §10.3). Errors: no_such_client (no such client and no
    /// mailbox), queue_full (its mailbox is over quota), store_failed, not_permitted, or
    /// the connection's error; then the message was not accepted.
    /// Handler: void(error_code, receipt).
    /// @par Cancellation
    /// Stops waiting for the server's answer, not the message: it may still be accepted,
    /// and the answer then arrives as an event (`stored`, or a server_error with the ref).
    template <boost::asio::completion_token_for<void(error_code, receipt)> CompletionToken>
    auto async_send_confirmed(std::string to, std::string body, CompletionToken&& token) {
        return initiate<void(error_code, receipt)>(
            &start_confirmed, std::forward<CompletionToken>(token), std::uint32_t{0}, std::move(to),
            std::move(body));
    }

    /// As async_send_confirmed, for a broadcast: completes once every mailbox that can take
    /// it has it; receipt::refused lists those over quota. Cancellation as
    /// async_send_confirmed. Handler: void(error_code, receipt).
    template <boost::asio::completion_token_for<void(error_code, receipt)> CompletionToken>
    auto async_broadcast_confirmed(std::string body, CompletionToken&& token) {
        return initiate<void(error_code, receipt)>(&start_confirmed,
                                                   std::forward<CompletionToken>(token),
                                                   broadcast_tag, std::string(), std::move(body));
    }

    /// Pull mode (client_options::pull): fetches up to `max` messages from this client's
    /// mailbox, oldest first; an empty vector when none wait. They are acknowledged once
    /// handed over. Errors: not_permitted when not in pull mode or the server gave this
    /// client no mailbox. Handler: void(error_code, std::vector<message>).
    /// @par Cancellation
    /// The messages the server hands over for it are not lost: they become events, for
    /// async_receive, and are acknowledged as those are received.
    template <
        boost::asio::completion_token_for<void(error_code, std::vector<message>)> CompletionToken>
    auto async_fetch(std::size_t max, CompletionToken&& token) {
        return initiate<void(error_code, std::vector<message>)>(
            &start_fetch, std::forward<CompletionToken>(token), max);
    }

    /// Asks the server whether client `id` is online: its directory entry if so, an empty
    /// optional if not. Works with or without client_options::directory. Errors:
    /// not_connected, unknown_type from a server without presence lookups, or the error
    /// that ended the session. Handler: void(error_code, std::optional<peer_info>).
    /// @par Cancellation
    /// Not supported (the slot is ignored): it completes with the server's answer, or with
    /// the session's error when the session ends.
    template <boost::asio::completion_token_for<void(error_code, std::optional<peer_info>)>
                  CompletionToken>
    auto async_lookup(std::string id, CompletionToken&& token) {
        return initiate<void(error_code, std::optional<peer_info>)>(
            &start_lookup, std::forward<CompletionToken>(token), std::move(id));
    }

    /// Sets up a direct link to client `id`: asks the server for an introduction, dials
    /// the endpoint `id` advertises and completes when both sides have proven who they
    /// are (docs/protocol.md §15). Completes at once when a link is already up; a link the
    /// peer dials meanwhile counts too. Errors: no_such_client, no_peer_link (the peer does
    /// not listen), auth_failed, a network error, or asio::error::timed_out after
    /// options.connect_timeout. A `link_up` event follows success.
    /// Handler: void(error_code).
    /// @par Cancellation
    /// Not supported (the slot is ignored); client_options::connect_timeout bounds it.
    template <boost::asio::completion_token_for<void(error_code)> CompletionToken>
    auto async_connect_peer(std::string id, CompletionToken&& token) {
        return initiate<void(error_code)>(&start_connect_peer, std::forward<CompletionToken>(token),
                                          std::move(id));
    }

    /// Waits for the next event. After the last one it completes with why the session
    /// ended: error::terminated after TERM, error::connection_closed, heartbeat_timeout,
    /// hook_failed, or not_connected. Receives are answered in the order they were started.
    /// Handler: void(error_code, event).
    /// @par Cancellation
    /// Completes with operation_aborted; no event is lost (it stays for the next receive).
    template <boost::asio::completion_token_for<void(error_code, event)> CompletionToken>
    auto async_receive(CompletionToken&& token) {
        return initiate<void(error_code, event)>(&start_receive,
                                                 std::forward<CompletionToken>(token),
                                                 std::chrono::steady_clock::time_point::max());
    }

    /// As async_receive, but completes with asio::error::timed_out after `timeout`
    /// (no event is lost: it stays queued for the next receive).
    /// Handler: void(error_code, event). Cancellation as async_receive.
    template <boost::asio::completion_token_for<void(error_code, event)> CompletionToken>
    auto async_receive(std::chrono::steady_clock::duration timeout, CompletionToken&& token) {
        return initiate<void(error_code, event)>(&start_receive,
                                                 std::forward<CompletionToken>(token),
                                                 std::chrono::steady_clock::now() + timeout);
    }

    /// As async_receive, but hands over every queued event (at most `max`, at least one)
    /// at once: the cheap way to consume a stream of messages. Cancellation as
    /// async_receive. Handler: void(error_code, std::vector<event>).
    template <
        boost::asio::completion_token_for<void(error_code, std::vector<event>)> CompletionToken>
    auto async_receive_batch(std::size_t max, CompletionToken&& token) {
        return initiate<void(error_code, std::vector<event>)>(
            &start_receive_batch, std::forward<CompletionToken>(token), max);
    }

    /// Asks the server to terminate the session for everyone (TERM). Completes when
    /// queued; the TERM then comes back as a `terminated` event; `text` travels with it.
    /// Handler: void(error_code).
    /// @par Cancellation
    /// Not supported (the slot is ignored): it completes as soon as the TERM is queued.
    template <boost::asio::completion_token_for<void(error_code)> CompletionToken>
    auto async_terminate(std::string text, CompletionToken&& token) {
        return initiate<void(error_code)>(&start_terminate, std::forward<CompletionToken>(token),
                                          std::move(text));
    }

    /// Leaves cleanly: BYE after everything queued, then waits (up to close_timeout) for
    /// the server to close. With a mailbox, every message received so far is acknowledged
    /// before BYE, including those still queued for async_receive (receive them after the
    /// close); mailbox messages arriving after BYE are left for the next session.
    /// Always completes, within about close_timeout (twice that with direct links up).
    /// Handler: void(error_code).
    /// @par Cancellation
    /// Not supported (the slot is ignored): close_timeout bounds it.
    template <boost::asio::completion_token_for<void(error_code)> CompletionToken>
    auto async_close(CompletionToken&& token) {
        return initiate<void(error_code)>(&start_close, std::forward<CompletionToken>(token));
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
    using core_ptr = std::shared_ptr<detail::client_core>;
    template <class... T>
    using handler = boost::asio::any_completion_handler<void(error_code, T...)>;

    // Every operation: the token is turned into a type-erased handler and handed, with
    // the core by value (the operation may outlive *this), to a compiled start_ function.
    // A coroutine's handler also passes the coroutine's executor, so the start can tell
    // whether it runs on the client's strand.
    template <class Signature, class Token, class Start, class... Args>
    auto initiate(Start start, Token&& token, Args&&... args) {
        return boost::asio::async_initiate<Token, Signature>(
            [](auto h, Start start, core_ptr core, auto... args) {
                if constexpr (detail::resumes_coroutine<std::decay_t<Token>>::value) {
                    executor_type const coroutine_ex = boost::asio::get_associated_executor(h);
                    start(std::move(core), std::move(args)...,
                          boost::asio::any_completion_handler<Signature>(std::move(h)),
                          &coroutine_ex);
                } else {
                    start(std::move(core), std::move(args)...,
                          boost::asio::any_completion_handler<Signature>(std::move(h)), nullptr);
                }
            },
            token, start, core_, std::forward<Args>(args)...);
    }

    static void start_connect(core_ptr core, std::string host, std::string port, handler<> h,
                              const executor_type* resumes);
    static void start_send(core_ptr core, std::uint16_t type, std::string to, std::string body,
                           route how, handler<> h, const executor_type* resumes);
    static void start_send_batch(core_ptr core, std::string to, std::vector<std::string> bodies,
                                 route how, handler<> h, const executor_type* resumes);
    static void start_broadcast(core_ptr core, std::string body, handler<> h,
                                const executor_type* resumes);
    static void start_confirmed(core_ptr core, std::uint32_t type, std::string to, std::string body,
                                handler<receipt> h, const executor_type* resumes);
    static void start_fetch(core_ptr core, std::size_t max, handler<std::vector<message>> h,
                            const executor_type* resumes);
    static void start_lookup(core_ptr core, std::string id, handler<std::optional<peer_info>> h,
                             const executor_type* resumes);
    static void start_connect_peer(core_ptr core, std::string id, handler<> h,
                                   const executor_type* resumes);
    static void start_receive(core_ptr core, std::chrono::steady_clock::time_point deadline,
                              handler<event> h, const executor_type* resumes);
    static void start_receive_batch(core_ptr core, std::size_t max, handler<std::vector<event>> h,
                                    const executor_type* resumes);
    static void start_terminate(core_ptr core, std::string text, handler<> h,
                                const executor_type* resumes);
    static void start_close(core_ptr core, handler<> h, const executor_type* resumes);
    static constexpr std::uint32_t broadcast_tag = 0x1'0000; // above every frame type

    std::shared_ptr<detail::client_core> core_;
};

} // namespace libnet

#endif
