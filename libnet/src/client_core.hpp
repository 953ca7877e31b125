#ifndef LIBNET_SRC_CLIENT_CORE_HPP
#define LIBNET_SRC_CLIENT_CORE_HPP

#include <libnet/client_options.hpp>
#include <libnet/detail/connection.hpp>
#include <libnet/event.hpp>

#include <boost/asio/strand.hpp>

#include <algorithm>
#include <deque>
#include <string>
#include <vector>

namespace libnet::detail {

class client_core;

/// The client's connection to its server; forwards everything to the core.
class client_connection final : public connection {
public:
    client_connection(boost::asio::ip::tcp::socket socket, const client_options& o,
                      client_core* core);
    using connection::resume_reading;
    using connection::set_heartbeat;

private:
    void on_frame(frame_view f) override;
    void on_closing(error_code reason) override;
    void on_written(std::uint64_t written) override;
    bool want_read() override;

    client_core* core_; // outlives the connection's run (the run holds the core)
};

/// The client's state; everything runs on strand_.
class client_core : public std::enable_shared_from_this<client_core> {
public:
    client_core(boost::asio::any_io_executor ex, client_options options);

    boost::asio::awaitable<error_code> connect(std::string host, std::string port);
    boost::asio::awaitable<error_code> send(std::string to, std::string body, bool broadcast);
    boost::asio::awaitable<std::pair<error_code, event>>
    receive(std::chrono::steady_clock::time_point deadline);
    boost::asio::awaitable<error_code> terminate(std::string text);
    boost::asio::awaitable<error_code> close();
    void abort(); // any thread

    std::string id() const;
    std::vector<peer_info> directory() const;
    bool connected() const;
    boost::asio::any_io_executor get_executor() const { return ex_; }

private:
    friend class client_connection;
    enum class state { idle, connecting, registered, closing, finished };

    void on_frame(frame_view f);
    void on_registration_frame(frame_view f);
    void on_closing(error_code reason);
    void on_written(std::uint64_t written);
    void on_finished();
    bool want_read() const {
        return events_.size() < std::max<std::size_t>(options_.max_events, 1);
    }
    void push_event(event e);
    void apply_to_directory(const event& e);
    void fail_registration(error_code ec);
    void abort_connect();
    boost::asio::awaitable<error_code> write(shared_frame f);
    error_code not_open() const;

    // A frame on its way out. Held (in order) while the outbound queue has no room, then
    // queued with a ticket until written. A null timer marks the final BYE.
    struct write_waiter {
        shared_frame frame;
        std::uint64_t ticket = 0;
        boost::asio::steady_timer* timer = nullptr;
        error_code* ec = nullptr;
        bool* done = nullptr;
    };
    void release_held();
    static void complete(write_waiter& w, error_code ec);

    boost::asio::strand<boost::asio::any_io_executor> strand_;
    // The strand wrapped once: converting it anew allocates, and every operation and
    // timer needs an any_io_executor.
    boost::asio::any_io_executor ex_;
    client_options options_;
    std::shared_ptr<client_connection> conn_;
    state state_ = state::idle;
    std::atomic<bool> connected_{false};
    error_code end_reason_;
    bool term_seen_ = false;
    bool leaving_ = false;         // close() sent BYE: frames are still delivered until the end
    bool aborting_ = false;        // close() during connect
    bool registered_once_ = false; // connect succeeded even if a TERM follows at once

    std::deque<event> events_;
    std::vector<boost::asio::steady_timer*> receivers_;
    std::deque<write_waiter> held_;             // waiting for room, in send order
    std::deque<write_waiter> writers_;          // queued, waiting to be written
    boost::asio::steady_timer state_signal_;    // registration progress
    boost::asio::steady_timer finished_signal_; // the connection ended
    boost::asio::steady_timer connect_timer_;   // connect's deadline; close() cuts it short
    std::uint32_t server_max_frame_ = default_max_frame_size; // from WELCOME
    std::uint64_t next_ref_ = 1;

    mutable std::mutex info_mutex_; // id_ and directory_ are read from any thread
    std::string id_;
    std::vector<peer_info> directory_; // as of the events the application has received
};

} // namespace libnet::detail

#endif
