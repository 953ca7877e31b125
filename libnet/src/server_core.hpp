#ifndef LIBNET_SRC_SERVER_CORE_HPP
#define LIBNET_SRC_SERVER_CORE_HPP

#include <libnet/detail/connection.hpp>
#include <libnet/server_options.hpp>
#include <libnet/server_stats.hpp>

#include <boost/asio/strand.hpp>

#include <array>
#include <sstream>
#include <string>
#include <unordered_map>
#include <unordered_set>

namespace libnet::detail {

class server_core;

/// "ip:port", "[v6]:port": how endpoints appear in logs and assigned ids.
inline std::string endpoint_string(const boost::asio::ip::tcp::endpoint& ep) {
    std::ostringstream os;
    os << ep;
    return os.str();
}

/// One client connection on the server.
class server_session final : public connection {
public:
    /// `core` outlives the session: the coroutine running the session holds it.
    server_session(boost::asio::ip::tcp::socket socket, server_core* core);

    /// The registered id; set once at registration, read-only afterwards.
    const std::string& id() const noexcept { return id_; }

private:
    friend class server_core;

    void on_frame(frame_view f) override;
    void on_closing(error_code reason) override;
    void on_hello(frame_view f);
    void send_error(error code, std::uint16_t ref_type, std::uint64_t ref = 0,
                    std::string_view about = {});
    std::shared_ptr<server_session> self();

    server_core* core_;
    bool hello_done_ = false; // strand
    bool said_bye_ = false;   // strand
    std::string refusal_;     // strand: on_register's reason, sent as the ERROR's text

    // Written under server_core::mutex_ at registration.
    std::string id_;
    std::string endpoint_;
    std::string peer_key_; // verifies its peer-link tokens; empty without an endpoint
    std::uint64_t join_seq_ = 0;
    bool registered_ = false;
};

struct string_hash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const noexcept {
        return std::hash<std::string_view>{}(s);
    }
};

/// State shared by all sessions of a server: the directory, routing and policies.
/// Lock order: mutex_ before any connection's queue mutex; never the other way round.
class server_core : public std::enable_shared_from_this<server_core> {
public:
    server_core(boost::asio::any_io_executor ex, server_options options);

    boost::asio::awaitable<error_code> run();
    void stop(msg::term_reason reason, std::string_view by = {}, std::string_view text = {});
    boost::asio::ip::tcp::endpoint local_endpoint() const { return endpoint_; }
    server_stats stats() const;
    boost::asio::any_io_executor get_executor() const { return strand_; }

    // From sessions, on their strands.
    error_code register_client(server_session& s, const msg::hello& h);
    void route(server_session& from, const msg::send& m);
    void broadcast(server_session& from, const msg::broadcast& m);
    void client_term(server_session& from, const msg::term& m);
    void introduce(server_session& from, const msg::intro_request& m);
    void app_frame(server_session& from, frame_view f);
    void unregister(server_session& s, msg::leave_reason reason);
    void count_error(error code) noexcept;
    void count_slow_consumer() noexcept { slow_consumers_.fetch_add(1); }
    void count_lost() noexcept { lost_.fetch_add(1); }
    void log(log_level level, const std::string& text) const;

    const server_options& options() const noexcept { return options_; }
    io_counters counters_;

private:
    boost::asio::awaitable<void> accept_loop();
    boost::asio::awaitable<void> idle_watch();
    void start_session(boost::asio::ip::tcp::socket socket);
    bool deliverable(server_session& from, std::size_t size, std::uint16_t type, std::uint64_t ref);
    bool allowed(server_session& from, const routed_message& m, std::uint64_t ref);
    void session_ended(const std::shared_ptr<server_session>& s);
    std::string assign_id(const server_session& s) const;

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
    std::unordered_map<std::string, std::shared_ptr<server_session>, string_hash, std::equal_to<>>
        by_id_;
    std::vector<std::shared_ptr<server_session>> members_; // join order
    std::uint64_t next_join_seq_ = 1;
    std::uint64_t next_msg_seq_ = 1;
    std::uint64_t registrations_ = 0;
    std::chrono::steady_clock::time_point idle_since_;
    bool stopping_ = false;

    std::atomic<std::uint64_t> connections_{0}, routed_{0}, broadcasts_{0}, slow_consumers_{0},
        lost_{0};
    std::array<std::atomic<std::uint64_t>, 128> errors_{};
};

} // namespace libnet::detail

#endif
