// SPDX-License-Identifier: BSL-1.0
#ifndef LIBNET_SRC_UDP_LISTENER_HPP
#define LIBNET_SRC_UDP_LISTENER_HPP

#include "cookie.hpp"
#include "stream.hpp"

#include <libnet/udp_options.hpp>

#include <boost/asio/strand.hpp>

#include <functional>
#include <mutex>
#include <unordered_map>

namespace libnet::detail::udp {

/// The server's UDP socket (docs/protocol.md §17.3-17.4): answers INIT with a cookie and
/// keeps nothing until the cookie comes back; then opens a session under a new connection
/// id and hands its stream to the server. Later datagrams go to their session by connection
/// id, whatever address they come from; one for no session gets a RESET.
class listener final : public datagram_port, public std::enable_shared_from_this<listener> {
public:
    using endpoint = boost::asio::ip::udp::endpoint;
    /// Gives a new session's stream to the server.
    using open_fn = std::function<void(std::shared_ptr<stream>)>;
    /// An executor for a new session (a strand).
    using strand_fn = std::function<boost::asio::any_io_executor()>;

    listener(boost::asio::any_io_executor ex, const endpoint& bind, const server_udp& options,
             strand_fn strand);

    endpoint local_endpoint() const { return local_; }
    /// Reads the socket until close(), opening sessions with `open`; keeps the listener
    /// alive meanwhile.
    void start(open_fn open);
    /// No more new sessions; those open go on.
    void stop_accepting();
    /// Closes the socket (once the server's sessions have ended).
    void close();

    void send_datagram(std::span<const std::uint8_t> d, const endpoint& to) override;
    void stream_ended(std::uint64_t cid) override;

    /// Sessions the listener holds (any thread; for tests and stats).
    std::size_t sessions() const;
    std::size_t remembered_cookies() const;

private:
    boost::asio::awaitable<void> receive_loop(std::shared_ptr<listener> self);
    void handle(std::span<const std::uint8_t> d, const endpoint& from);
    void on_init(const init_datagram& d, const endpoint& from, std::size_t size);
    void open(const init_datagram& d, const endpoint& from, std::uint64_t key);
    void send_accept(std::uint64_t nonce, std::uint64_t cid, const endpoint& to);
    std::shared_ptr<stream> find(std::uint64_t cid);
    void forget_cookies(cookie_jar::clock::time_point now);

    boost::asio::strand<boost::asio::any_io_executor> strand_;
    boost::asio::ip::udp::socket socket_;
    endpoint local_;
    server_udp options_;
    channel_limits limits_;
    strand_fn make_strand_;
    open_fn open_;
    cookie_jar jar_;
    std::atomic<bool> accepting_{true};

    mutable std::mutex mutex_; // streams end on their own strands
    std::unordered_map<std::uint64_t, std::weak_ptr<stream>> sessions_;
    // Cookies that opened a session, until they expire: an INIT that repeats one gets the
    // same ACCEPT while its session lives (the first ACCEPT was lost), and nothing after.
    struct used_cookie {
        std::uint64_t cid;
        endpoint from;
        std::uint64_t nonce;
        cookie_jar::clock::time_point until;
    };
    std::unordered_map<std::uint64_t, used_cookie> used_; // strand only
    std::atomic<std::size_t> used_count_{0};
    cookie_jar::clock::time_point next_sweep_{};
};

} // namespace libnet::detail::udp

#endif
