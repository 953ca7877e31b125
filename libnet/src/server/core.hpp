// SPDX-License-Identifier: BSL-1.0
#ifndef LIBNET_SRC_SERVER_CORE_HPP
#define LIBNET_SRC_SERVER_CORE_HPP

#include "../udp/listener.hpp"
#include "cluster.hpp"
#include "directory.hpp"
#include "guard.hpp"
#include "latency.hpp"
#include "session.hpp"

#include <libnet/server_options.hpp>
#include <libnet/server_stats.hpp>

#include <boost/asio/strand.hpp>

#include <array>
#include <atomic>
#include <deque>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <unordered_map>
#include <unordered_set>

namespace libnet::detail {

/// Wall-clock ms since the Unix epoch: stored messages' times, which outlive the process.
inline std::int64_t unix_now_ms() {
    using namespace std::chrono;
    return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

/// A message in a mailbox, as the server holds it.
struct mail {
    std::uint64_t seq = 0;
    std::string from;
    std::string body;
    std::uint16_t type = 0;
    std::uint16_t flags = 0;
    std::int64_t expires_at = 0; // ms since the Unix epoch; 0: never
    std::uint64_t commit = 0;    // the store write that holds it; deliverable once committed
    std::uint64_t link = 0;      // a re-sent peer-link message (not stored: links die with us)
    std::uint64_t link_seq = 0;
};

/// A client id's mailbox: its unacknowledged messages, in seq order.
struct mailbox {
    std::string id;
    std::deque<mail> mails;
    std::size_t bytes = 0;                   // of bodies
    std::uint64_t last_seq = 0;              // the highest seq given out
    std::uint64_t acked = 0;                 // the highest seq acknowledged
    std::uint64_t sent = 0;                  // the highest seq queued to the current session
    std::shared_ptr<server_session> session; // when online
    bool push = true;
    // In a cluster the mailbox lives in NATS and is read here while its id is claimed here:
    // `feed` names the current reading (0: none); the messages are loaded once the reader
    // has handed over everything the stream held when it started.
    std::uint64_t feed = 0;
    bool feed_open = false;
    bool caught_up = false;
    std::uint64_t load_until = 0; // messages of the feed
    std::uint64_t fed = 0;        // ... that came
};

/// Who may register: the allow list and the digests of the secrets.
struct access_rules {
    std::set<std::string, std::less<>> allow;                // empty: any id
    std::map<std::string, std::string, std::less<>> digests; // id -> SHA-256 of its secret

    /// From the options' lists; the secrets are hashed.
    access_rules(const std::set<std::string>& ids,
                 const std::map<std::string, std::string>& secrets);
    bool listed(std::string_view id) const {
        return allow.empty() || allow.contains(id) || digests.contains(id);
    }
};

/// State shared by all sessions of a server: the directory, routing and policies.
/// Lock order: mutex_ before any connection's queue mutex; never the other way round.
class server_core final : public std::enable_shared_from_this<server_core>, private cluster_events {
public:
    server_core(boost::asio::any_io_executor ex, server_options options);
    ~server_core();

    boost::asio::awaitable<error_code> run();
    void stop(msg::term_reason reason, std::string_view by = {}, std::string_view text = {});
    boost::asio::ip::tcp::endpoint local_endpoint() const { return endpoint_; }
    boost::asio::ip::udp::endpoint udp_endpoint() const {
        return udp_ ? udp_->local_endpoint() : boost::asio::ip::udp::endpoint();
    }
    server_stats stats() const;
    /// server::update_access(): any thread.
    std::size_t update_access(const std::set<std::string>& allow_ids,
                              const std::map<std::string, std::string>& secrets);
    boost::asio::any_io_executor get_executor() const { return strand_; }

    // From sessions, on their strands.
    error_code register_client(server_session& s, const msg::hello& h);
    void route(server_session& from, const msg::send& m);
    void broadcast(server_session& from, const msg::broadcast& m);
    void client_term(server_session& from, const msg::term& m);
    void introduce(server_session& from, const msg::intro_request& m);
    void app_frame(server_session& from, frame_view f);
    void unregister(server_session& s, msg::leave_reason reason);
    /// BYE: closes `s` once the answers to its stores (STORED, ERROR) are queued to it.
    void leave(server_session& s);
    void ack(server_session& from, const msg::ack& a);
    void get(server_session& from, const msg::get& g);
    void pump(server_session& s); // the session has room again
    void lookup(server_session& from, const msg::lookup& m);
    /// Tells the directory's waiting changes now (takes the lock).
    void announce_now();
    void count_error(error code) noexcept;
    void count_slow_consumer() noexcept { slow_consumers_.fetch_add(1); }
    void count_lost() noexcept { lost_.fetch_add(1); }
    /// Whether log() goes anywhere: callers build a line's strings only when it does.
    bool logging() const noexcept { return static_cast<bool>(options_.log); }
    /// Logs `event` (docs/guide.md §2) with its sentence and fields. Fields are never
    /// passed from inside a coroutine: GCC 12 mishandles the braced list there.
    void log(log_level level, std::string_view event, std::string_view message,
             std::initializer_list<log_field> fields = {}) const;
    void log(const log_record& r) const;

    const server_options& options() const noexcept { return options_; }
    io_counters counters_;

private:
    // The cluster's side (remote.cpp).
    bool cluster_claimed(const std::string& id, std::uint64_t revision) override;
    void cluster_claim_failed(const std::string& id, error_code ec) override;
    void cluster_joined(const std::string& id, std::uint64_t revision, const std::string& node,
                        const std::string& endpoint) override;
    void cluster_left(const std::string& id, std::uint64_t revision,
                      msg::leave_reason reason) override;
    void cluster_frame(std::string_view to, std::string_view from, std::string_view from_node,
                       std::span<const std::uint8_t> f) override;
    bool cluster_logging() const noexcept override { return logging(); }
    void cluster_log(const log_record& r) override { log(r); }
    // Mailboxes in the cluster (remote_mailbox.cpp).
    void cluster_stored(std::uint64_t token, error_code ec) override;
    void cluster_mailbox_opened(const std::string& id, std::uint64_t feed, std::uint64_t delivered,
                                std::uint64_t pending, error_code ec) override;
    void cluster_mail(const std::string& id, std::uint64_t feed, std::uint64_t seq,
                      std::uint64_t pending, std::int64_t stored_at,
                      std::span<const std::uint8_t> record) override;
    /// A frame for client `to` of node `node`, from a client of this one (STORED, ERROR).
    void reply_remote(std::string_view node, std::string_view to, std::string_view about,
                      const shared_frame& f);
    void deliver_remote(std::string_view to, std::string_view from, std::string_view from_node,
                        frame_view f);
    std::shared_ptr<server_session> remote_recipient(std::string_view id);
    /// Ends local client `s` whose id another node holds now or may hold (mutex_ held by
    /// `lock`, released).
    void fence(std::unique_lock<std::mutex>& lock, server_session& s);
    bool claiming_again(std::string_view id, const server_session* s) const;
    void fan_out(std::string_view from, std::string_view body, const server_session* except);
    /// INTRODUCTION of `peer` to client `dialer` (of any node), or the ERROR to send instead.
    shared_frame introduction(std::string_view dialer, std::string_view dialer_key,
                              server_session& peer, std::uint64_t ref);

    boost::asio::awaitable<void> accept_loop();
    boost::asio::awaitable<void> idle_watch();
    void start_session(boost::asio::ip::tcp::socket socket);
    void start_session(std::shared_ptr<udp::stream> stream);
    /// TLS: refuses plain text, shakes hands within the timeout, then opens the session.
    static boost::asio::awaitable<void> tls_accept(std::shared_ptr<server_core> self,
                                                   boost::asio::ip::tcp::socket socket);
    /// `names`: those of the client's certificate, if it sent one.
    void open_session(transport stream, std::vector<std::string> names = {});
    bool deliverable(server_session& from, std::size_t size, std::uint16_t type, std::uint64_t ref);
    bool allowed(server_session& from, const routed_message& m, std::uint64_t ref);
    void session_ended(const std::shared_ptr<server_session>& s);
    void accept_ready();
    boost::asio::any_io_executor session_strand() const;
    // The directory's batch of changes goes out: now (mutex_ held), or soon.
    void announce();
    void announce_soon();
    std::string assign_id(const server_session& s) const;
    /// Lists a client whose id is settled and welcomes it (mutex_ held).
    void admit(server_session& s, std::string id, std::string_view endpoint, std::uint16_t flags,
               const msg::hello* h, std::uint64_t join_seq);
    void registered(server_session& s);
    /// not_allowed or auth_failed under `rules`, or success.
    static error_code check_access(const access_rules& rules, std::string_view id,
                                   const msg::hello& h);
    /// The mailbox of `id`, opened empty if it has none (mutex_ held, or the constructor).
    mailbox& mailbox_of(const std::string& id);

    // Mailboxes (mailbox.cpp); all under mutex_.
    struct route_result {
        bool found = false;
        bool offline = false;
        error_code ec;
    };
    void load_store();
    /// What a SEND or a routed application frame carries.
    struct outgoing {
        std::uint16_t type; // 0: SEND/DELIVER
        std::string_view to;
        std::string_view body;
        std::uint64_t ref;
        std::uint16_t flags; // as sent: flag_link_sync, flag_confirm
        std::uint32_t ttl_ms;
        std::uint64_t link, link_seq;
    };
    void route_one(server_session& from, const outgoing& m);
    /// Sends `m` to its recipient on another node; false when none is listed there.
    bool forward(server_session& from, const outgoing& m);
    std::shared_ptr<server_session> recipient(server_session& from, std::string_view id);
    void deliver_live(server_session& from, server_session& to, const outgoing& m,
                      std::uint16_t mark, bool confirm_wanted);
    error_code store_mail(mailbox& mb, std::string_view from, const outgoing& m,
                          std::uint16_t flags, std::int64_t now);
    void ack_upto(mailbox& mb, std::uint64_t seq);
    void pump(mailbox& mb);
    std::size_t send_mail(mailbox& mb, std::size_t max);
    void open_mailbox(server_session& s, const msg::hello& h);
    void confirm(server_session& from, std::uint64_t ref, std::uint16_t ref_type,
                 std::string_view to, std::uint32_t offline);
    void commit();
    void committed(std::uint64_t batch, error_code ec);
    std::int64_t expiry(std::uint32_t ttl_ms, std::int64_t now) const;
    void drop_expired(mailbox& mb, std::int64_t now);
    void forget(mailbox& mb, std::uint64_t seq);
    boost::asio::awaitable<void> expiry_watch();
    /// The answer a sender gets for one SEND or BROADCAST once every copy is stored.
    struct store_group {
        std::weak_ptr<server_session> from;
        std::uint64_t ref;
        std::uint16_t ref_type;
        std::string to; // empty for a broadcast
        std::uint32_t offline = 0;
        std::uint32_t remaining = 0;
        std::uint32_t stored = 0;
        bool answer = false; // STORED is wanted (flag_confirm, or a recipient offline)
    };
    /// Stores a copy of `m` from `from` for mailbox `to` in the cluster (mutex_ held by
    /// `lock`, released while NATS takes it). `group`: the answer it counts towards.
    void store_shared(std::unique_lock<std::mutex>& lock, server_session& from, std::string_view to,
                      const outgoing& m, std::uint16_t flags,
                      const std::shared_ptr<store_group>& group);
    void broadcast_shared(std::unique_lock<std::mutex>& lock, server_session& from,
                          const msg::broadcast& b, const outgoing& o);
    void answer_store(store_group& g, std::string_view recipient, error_code ec);
    void settle(store_group& g);
    /// Reads `mb` from the cluster's stream for the client whose claim waits in claims_.
    void load_mailbox(mailbox& mb);
    /// Admits the claim of `id` once its mailbox has loaded (mutex_ held by `lock`).
    void mailbox_loaded(std::unique_lock<std::mutex>& lock, mailbox& mb);
    void close_shared(mailbox& mb);

    std::unique_ptr<cluster> cluster_;
    std::shared_ptr<udp::listener> udp_; // server_options::udp
    void open_udp();
    // Registrations waiting for the cluster to settle their id (under mutex_).
    struct claim {
        std::shared_ptr<server_session> session;
        std::string endpoint;
        std::uint16_t flags;
        std::uint64_t seq;          // HELLO's
        std::uint64_t revision = 0; // won, while its mailbox loads
        bool again = false;         // an online client's id, released by another node
    };
    std::unordered_map<std::string, claim, string_hash, std::equal_to<>> claims_;
    // NATS's delivery thread only (remote_recipient()).
    std::unordered_map<std::string, std::shared_ptr<server_session>, string_hash, std::equal_to<>>
        remote_recipients_;
    std::uint64_t remote_recipients_epoch_ = 0;

    boost::asio::any_io_executor ex_;
    boost::asio::strand<boost::asio::any_io_executor> strand_;
    server_options options_;
    boost::asio::ip::tcp::acceptor acceptor_;
    boost::asio::ip::tcp::endpoint endpoint_;
    boost::asio::steady_timer drained_;
    boost::asio::steady_timer idle_timer_;
    boost::asio::steady_timer backoff_timer_; // accept errors

    mutable std::mutex mutex_;
    std::unordered_set<std::shared_ptr<server_session>> sessions_;
    directory directory_;
    std::vector<std::shared_ptr<server_session>> welcomed_; // announce()'s scratch
    // DELIVER.seq; taken under each recipient's queue lock (connection::enqueue_numbered).
    std::atomic<std::uint64_t> next_msg_seq_{1};
    // Bumped under mutex_ by every leave: a sender's remembered recipient is still online
    // while this is unchanged.
    std::atomic<std::uint64_t> leaves_{0};
    // server_options::barrier: set under mutex_, read by the router without it.
    std::atomic<bool> barrier_open_{true};
    bool barrier_opened_ = false; // for registered()'s log line
    // Set before the server runs: any id may have a mailbox, so routing looks under the lock.
    bool has_mailboxes_ = false;
    std::uint64_t registrations_ = 0;

    // server_options::allow_ids and secrets: replaced whole, under mutex_, by
    // update_access(); registration reads it without the lock and looks again under it.
    std::atomic<std::shared_ptr<const access_rules>> access_;
    guess_guard guard_;
    /// `s` registered or ended: it no longer counts as waiting to register.
    void settle(server_session& s);
    std::shared_ptr<message_store> store_;
    bool durable_ = false;
    std::unordered_map<std::string, mailbox, string_hash, std::equal_to<>> mailboxes_;
    std::vector<store_change_t> changes_; // not yet written to the store
    std::uint64_t batch_ = 1;             // the store write changes_ will go in
    std::uint64_t committed_ = 0;         // the last store write committed
    struct confirmation {
        std::uint64_t batch;
        std::weak_ptr<server_session> to;
        std::uint64_t ref;
        std::uint16_t ref_type;
        std::string recipient;
        std::uint32_t offline;
    };
    std::deque<confirmation> confirmations_; // waiting for their batch to commit
    // Sessions that said BYE while the store had not yet answered their sends.
    std::vector<std::weak_ptr<server_session>> leaving_;
    bool awaits_answers(const server_session& s) const;
    void close_answered(); // closes those of leaving_ answered by now (mutex_ held)
    std::uint64_t pending_mail_ = 0;
    // Mailboxes in the cluster's stream: stores waiting for NATS's answer, by token.
    bool shared_mail_ = false;
    std::uint64_t feeds_ = 0;
    std::uint64_t next_store_ = 1;
    struct store_wait {
        std::shared_ptr<store_group> group;
        std::string recipient;
    };
    std::unordered_map<std::uint64_t, store_wait> stores_;
    boost::asio::steady_timer expiry_timer_;
    std::chrono::steady_clock::time_point idle_since_;
    bool stopping_ = false;

    std::atomic<std::uint64_t> connections_{0}, routed_{0}, broadcasts_{0}, slow_consumers_{0},
        lost_{0}, stored_{0}, stored_offline_{0}, acked_{0}, expired_{0}, store_failures_{0},
        refused_{0};
    std::array<std::atomic<std::uint64_t>, 128> errors_{};
    latency_recorder registration_latency_; // HELLO read to WELCOME queued (admit())
    latency_recorder commit_latency_;       // commit() to the store's answer
};

} // namespace libnet::detail

#endif
