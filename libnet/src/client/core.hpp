// SPDX-License-Identifier: BSL-1.0
#ifndef LIBNET_SRC_CLIENT_CORE_HPP
#define LIBNET_SRC_CLIENT_CORE_HPP

#include "events.hpp"
#include "link_table.hpp"
#include "link_tls.hpp"
#include "mailbox_tracker.hpp"
#include "outbound.hpp"
#include "peer_link.hpp"

#include <libnet/client_options.hpp>
#include <libnet/event.hpp>

#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/strand.hpp>

#include <algorithm>
#include <deque>
#include <map>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

namespace libnet::detail {

class client_core;

/// The client's connection to its server; forwards everything to the core.
class client_connection final : public connection {
public:
    client_connection(transport stream, const client_options& o, client_core* core);
    using connection::resume_reading;
    using connection::set_heartbeat;

private:
    void on_frame(frame_view f) override;
    void on_closing(error_code reason) override;
    void on_written(std::uint64_t written) override;
    bool want_read() override;

    client_core* core_; // outlives the connection's run (the run holds the core)
};

/// The client's state; everything runs on its strand. The operations below are the
/// public ones (client.hpp), started on the strand in the order the application started
/// them; each completes its `pending` exactly once.
class client_core : public std::enable_shared_from_this<client_core> {
public:
    client_core(boost::asio::any_io_executor ex, client_options options);

    /// Runs `f` on the strand: at once when called there and nothing started earlier is
    /// still on its way to the strand, else posted (any thread).
    template <class F>
    void run(F&& f) {
        if (on_strand() && posted_.load(std::memory_order_acquire) == 0)
            return std::forward<F>(f)();
        posted_.fetch_add(1, std::memory_order_acq_rel);
        boost::asio::post(ex_, [self = shared_from_this(), f = std::forward<F>(f)]() mutable {
            self->posted_.fetch_sub(1, std::memory_order_acq_rel);
            std::move(f)();
        });
    }

    // Cancellable operations: the application's slot is connected by the start_ function
    // (on the caller's thread, before the operation reaches the strand) with a key from
    // next_key() that names the operation; see on_cancel().
    enum class op_kind { receive, connect, confirm, fetch };
    std::uint64_t next_key() { return next_key_.fetch_add(1, std::memory_order_relaxed); }
    void on_cancel(boost::asio::cancellation_slot slot, op_kind kind, std::uint64_t key);

    void connect(std::string host, std::string port, pending<> op);
    void send(std::uint16_t type, std::string to, std::string body, route how, pending<> op);
    void send_batch(std::string to, std::vector<std::string> bodies, route how, pending<> op);
    void broadcast(std::string body, pending<> op);
    void connect_peer(std::string id, pending<> op);
    void receive(std::chrono::steady_clock::time_point deadline, std::uint64_t key,
                 pending<event> op);
    void receive_batch(std::size_t max, std::uint64_t key, pending<std::vector<event>> op);
    void terminate(std::string text, pending<> op);
    void send_confirmed(std::uint32_t type, std::string to, std::string body, std::uint64_t key,
                        pending<receipt> op);
    void fetch(std::size_t max, std::uint64_t key, pending<std::vector<message>> op);
    void lookup(std::string id, pending<std::optional<peer_info>> op);
    void close(pending<> op);
    void abort(); // any thread

    std::uint64_t last_delivered() const { return mailbox_.last_delivered(); }
    bool has_mailbox() const { return mailbox_.has_mailbox(); }
    std::string id() const;
    std::vector<peer_info> directory() const;
    std::vector<std::string> linked_peers() const;
    std::string listen_endpoint() const;
    bool connected() const;
    boost::asio::any_io_executor get_executor() const { return ex_; }
    /// True when `ex` (a coroutine's executor; may be null) is this client's strand.
    bool on_its_strand(const boost::asio::any_io_executor* ex) const {
        return ex != nullptr && *ex == ex_;
    }

private:
    friend class client_connection;
    friend class peer_link;
    // reconnecting: between attempts (client_options::reconnect); an attempt is connecting.
    enum class state { idle, connecting, registered, closing, reconnecting, finished };

    void on_frame(frame_view f);
    void on_registration_frame(frame_view f);
    void on_closing(const connection& c, error_code reason);
    void on_written(std::uint64_t written);
    void on_finished(connection& c);
    void end_session(); // no connection and none to come: everything waiting completes
    bool want_read() const { return !events_.full(); }
    void push_event(event&& e);
    void taken(const event& e, bool was_full); // the application has it
    void apply_to_directory(const event& e);
    void registered();
    void fail_registration(error_code ec);
    void abort_connect();
    /// `again`: a reconnection attempt, which resumes the session rather than starting one.
    boost::asio::awaitable<error_code> connect_session(std::string host, std::string port,
                                                       bool again);
    // The connection to the server before HELLO (and TLS): its stream, and the local
    // address links listen beside.
    struct dialed {
        error_code ec;
        std::optional<transport> stream;
        boost::asio::ip::tcp::endpoint local;
        static dialed failed(error_code ec) {
            dialed d;
            d.ec = ec;
            return d;
        }
    };
    boost::asio::awaitable<dialed> dial_tcp(std::string host, std::string port);
    boost::asio::awaitable<dialed> dial_udp(std::string host, std::string port,
                                            std::chrono::steady_clock::time_point deadline);
    boost::asio::awaitable<error_code> close_session();
    boost::asio::awaitable<error_code> link_to(std::string id);
    // Runs a coroutine of the client's; an exception from it ends the session (hook_failed).
    void spawn(boost::asio::awaitable<error_code> op, pending<> done);
    void spawn(boost::asio::awaitable<void> task);
    void hook_failed(std::exception_ptr e);
    void write_silent(shared_frame f); // in order with sends; errors come back as events
    error_code not_open() const;
    // While reconnecting, sends are held for the next connection.
    bool can_send() const { return (state_ == state::registered || reconnecting_) && !leaving_; }
    template <class Message>
    void send_to_server(const Message& m, pending<> op); // a SEND, APP or BROADCAST
    void cancel(op_kind kind, std::uint64_t key);        // completes it with operation_aborted
    bool on_strand() const;
    void deliver(message&& m);
    void on_server_message(message&& m, std::uint64_t link, std::uint64_t link_seq,
                           std::uint16_t flags);

    // Direct links (client_peers.cpp).
    error_code start_listening(const boost::asio::ip::tcp::endpoint& local);
    boost::asio::awaitable<void> accept_loop();
    /// This client's link key, making its key pair on first use; empty without
    /// encrypt_links.
    std::string link_key();
    /// Accepts one link: the TLS handshake when links are encrypted, then the link.
    boost::asio::awaitable<void> accept_link(boost::asio::ip::tcp::socket socket);
    /// Over TLS, the dialer's side of the handshake, checking the peer's key against
    /// `pinned`.
    boost::asio::awaitable<error_code> secure_dial(transport& stream, std::string pinned,
                                                   boost::asio::steady_timer& timer);
    void spawn_link(std::shared_ptr<peer_link> link);
    boost::asio::awaitable<error_code> dial(std::string id,
                                            std::chrono::steady_clock::time_point deadline);
    void on_link_frame(peer_link& link, frame_view f);
    void on_peer_hello(peer_link& link, frame_view f);
    void on_peer_welcome(peer_link& link, frame_view f);
    void on_link_data(peer_link& link, frame_view f);
    void on_link_ack(peer_link& link, const msg::ack& a);
    void on_link_closing(peer_link& link, error_code reason);
    void on_link_finished(const std::shared_ptr<peer_link>& link);
    void reroute(peer_link& link);
    boost::asio::awaitable<void> leave_links();
    void close_links_gracefully();
    void send_direct(peer_link& link, std::uint16_t type, std::string body, route how,
                     pending<> op);
    void push_direct(peer_link& link, std::uint16_t type, std::string body);
    void link_verified(peer_link& link);
    void release_link(peer_link& link);
    void post_ack(peer_link& link);
    void on_introduction(frame_view f);
    bool on_intro_error(const msg::error& e);
    void on_joined_frame(const peer_info& p);
    void on_left_frame(const std::string& id);
    void close_links(error_code reason);
    void notify_links();

    // Reconnecting (reconnect.cpp).
    bool may_reconnect(error_code reason) const;
    void connection_lost(error_code reason); // on_closing: hold everything for the next one
    void keep_unwritten(connection& c);      // the lost connection's frames, sent again
    boost::asio::awaitable<void> reconnect();
    std::chrono::milliseconds backoff(unsigned attempt);
    void give_up(error_code reason);
    void catch_up(const msg::directory& d);            // the directory as it is now, as events
    void renumber(const std::vector<peer_info>& kept); // still online: new join numbers
    void resumed();

    // Mailboxes (mailbox.cpp; the bookkeeping is mailbox_tracker's).
    void consumed(); // a mailbox message was handed over or used up: ACK soon
    void send_ack(); // ACKs what the application has, if more than last time
    void on_stored(frame_view f);
    void on_fetched(frame_view f);

    // The strand, wrapped once (converting it anew allocates): over the io_context's own
    // executor when there is one, so posting to it does not go through a second erasure.
    boost::asio::any_io_executor ex_;
    std::atomic<std::size_t> posted_{0}; // run() calls on their way to the strand
    client_options options_;
    std::shared_ptr<client_connection> conn_;
    state state_ = state::idle;
    std::atomic<bool> connected_{false};
    error_code end_reason_;
    bool term_seen_ = false;
    // An ERROR about the session itself (ref 0, no frame named) that ends it: the server's
    // reason for the close that follows, reported instead of connection_closed.
    error_code ending_error_;
    bool reconnecting_ = false;      // lost the server: holding sends until a new session
    bool reconnect_started_ = false; // the loop runs (the lost connection has ended)
    error_code lost_reason_;
    const connection* lost_conn_ = nullptr; // the connection lost, until its end is seen
    unsigned attempt_ = 0;                  // the reconnection attempt under way
    std::string host_, port_;               // as async_connect was given them
    bool leaving_ = false;         // close() sent BYE: frames are still delivered until the end
    bool aborting_ = false;        // close() during connect
    bool registered_once_ = false; // connect succeeded even if a TERM follows at once
    bool leaving_links_ = false;   // close(): links are being closed; no new ones
    std::atomic<std::uint64_t> next_key_{1}; // names cancellable operations

    event_queue events_;
    outbound out_;
    boost::asio::steady_timer state_signal_;    // registration progress
    boost::asio::steady_timer finished_signal_; // the connection ended
    boost::asio::steady_timer connect_timer_;   // connect's deadline; close() cuts it short
    boost::asio::steady_timer reconnect_timer_; // the wait before the next attempt
    std::uint32_t server_max_frame_ = default_max_frame_size; // from WELCOME
    std::uint64_t next_ref_ = 1;

    mutable std::mutex info_mutex_; // id_, directory_ and links_ are read from any thread
    std::string id_;
    std::vector<peer_info> directory_; // as of the events the application has received
    std::vector<std::string> linked_;  // peers with a verified link, sorted
    std::string listen_endpoint_;

    // Direct links.
    link_table links_;
    std::uint64_t join_seq_ = 0;
    std::string peer_key_;
    std::string advertise_; // what HELLO advertises
    std::chrono::milliseconds heartbeat_{0};
    std::uint32_t heartbeat_misses_ = 0;
    std::optional<boost::asio::ip::tcp::acceptor> acceptor_;
    std::unique_ptr<link_tls> link_tls_;      // made when first needed, with encrypt_links
    std::vector<transport*> link_handshakes_; // accepted sockets in their TLS handshake
    std::vector<boost::asio::steady_timer*> link_watchers_;
    struct intro_result {
        std::string endpoint, token, proof, link_key;
        error_code ec;
        bool done = false;
        boost::asio::steady_timer* timer = nullptr;
    };
    std::unordered_map<std::uint64_t, intro_result*> intros_; // by INTRO_REQUEST ref

    mailbox_tracker mailbox_;
    bool ack_posted_ = false;

    // Presence lookups (lookup.cpp).
    struct lookup_waiter {
        std::uint64_t ref = 0;
        pending<std::optional<peer_info>> op;
    };
    std::deque<lookup_waiter> lookups_; // answered in order
    void on_presence(frame_view f);
    bool on_lookup_error(const msg::error& e);
    void end_lookups(error_code ec);
};

} // namespace libnet::detail

#endif
