// SPDX-License-Identifier: BSL-1.0
#ifndef LIBNET_SRC_UDP_STREAM_HPP
#define LIBNET_SRC_UDP_STREAM_HPP

#include "channel.hpp"

#include <libnet/udp_options.hpp>

#include <boost/asio/any_completion_handler.hpp>
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/buffer.hpp>
#include <boost/asio/ip/udp.hpp>
#include <boost/asio/steady_timer.hpp>

#include <memory>
#include <optional>
#include <vector>

namespace libnet::detail::udp {

/// The channel's settings from the public ones; throws std::invalid_argument when out of
/// range.
channel_limits limits_of(const udp_transport& t);

/// Where a stream's datagrams go: the server's socket, shared by its sessions, or the
/// client's own.
class datagram_port {
public:
    virtual ~datagram_port() = default;
    virtual void send_datagram(std::span<const std::uint8_t> d,
                               const boost::asio::ip::udp::endpoint& to) = 0;
    /// The stream of `cid` is done with the port (its strand).
    virtual void stream_ended(std::uint64_t cid) = 0;
};

/// A channel (channel.hpp) as an Asio stream, so that a connection runs over UDP as it does
/// over TCP: async_read_some gives what arrived in order, async_write_some takes frames,
/// and a timer does the channel's retransmissions and delayed acknowledgements. Datagrams
/// arrive through on_datagram() from whoever reads the socket. Everything runs on the
/// executor given, which must be a strand if the io_context has several threads.
class stream : public std::enable_shared_from_this<stream> {
public:
    using executor_type = boost::asio::any_io_executor;
    using endpoint = boost::asio::ip::udp::endpoint;
    using clock = channel::clock;
    using handler =
        boost::asio::any_completion_handler<void(boost::system::error_code, std::size_t)>;

    stream(executor_type ex, std::shared_ptr<datagram_port> port, endpoint peer, std::uint64_t cid,
           const channel_limits& limits);
    /// Starts the timer (once, after construction).
    void start();

    executor_type get_executor() const noexcept { return ex_; }
    const endpoint& peer() const noexcept { return peer_; }
    std::uint64_t cid() const noexcept { return ch_.cid(); }
    bool is_open() const noexcept { return !closed_; }
    const channel& state() const noexcept { return ch_; }

    template <class Buffers, class Token>
    auto async_read_some(const Buffers& buffers, Token&& token) {
        return boost::asio::async_initiate<Token, void(boost::system::error_code, std::size_t)>(
            [this](auto h, const Buffers& b) {
                start_read(*boost::asio::buffer_sequence_begin(b), handler(std::move(h)));
            },
            token, buffers);
    }

    template <class Buffers, class Token>
    auto async_write_some(const Buffers& buffers, Token&& token) {
        return boost::asio::async_initiate<Token, void(boost::system::error_code, std::size_t)>(
            [this](auto h, const Buffers& b) {
                std::vector<boost::asio::const_buffer> list(boost::asio::buffer_sequence_begin(b),
                                                            boost::asio::buffer_sequence_end(b));
                start_write(std::move(list), handler(std::move(h)));
            },
            token, buffers);
    }

    /// Ends this side's stream once what was written is sent (the peer reads its end).
    void shutdown_send();
    /// Pending operations complete with operation_aborted. After shutdown_send(), the stream
    /// lingers on its own until the peer has acknowledged everything (or a few timeouts
    /// passed); without it, the peer gets a RESET.
    void close();
    /// Ends at once, without a word to the peer: its socket is gone.
    void abort() {
        closed_ = true;
        try_read();
        try_write();
        finish();
    }
    /// Bytes arrived that a read has not taken yet.
    bool input_buffered() const noexcept { return ch_.readable() > 0; }
    std::uint64_t unacknowledged() const noexcept { return ch_.unacknowledged(); }

    // From the network, on the strand.
    /// A DATA datagram for this stream, `size` bytes long, from `from`.
    void on_data(const data_datagram& d, const endpoint& from, std::size_t size);
    /// A RESPONSE to a CHALLENGE (server), or a CHALLENGE to answer (client).
    void on_path(const path_datagram& p, const endpoint& from);
    /// The peer does not know the session (anymore).
    void on_reset();

private:
    void start_read(boost::asio::mutable_buffer b, handler h);
    void start_write(std::vector<boost::asio::const_buffer> b, handler h);
    bool try_read();
    bool try_write();
    void flush();
    void send(std::span<const std::uint8_t> d, const endpoint& to);
    void complete(std::optional<handler>& h, boost::system::error_code ec, std::size_t n);
    boost::system::error_code failure() const;
    void finish();
    boost::asio::awaitable<void> run_timer(std::shared_ptr<stream> self);

    executor_type ex_;
    std::shared_ptr<datagram_port> port_;
    endpoint peer_;
    channel ch_;
    channel_limits limits_;
    boost::asio::steady_timer timer_;
    clock::time_point timer_at_ = clock::time_point::max();
    clock::time_point linger_until_ = clock::time_point::max();

    // In optionals: Asio 1.81's any_completion_handler move assignment recurses without end
    // (it converts `other` as an lvalue); moves here are constructions only.
    std::optional<handler> read_;
    boost::asio::mutable_buffer read_buffer_;
    std::optional<handler> write_;
    std::vector<boost::asio::const_buffer> write_buffers_;

    // Path validation (server): datagrams from a new address count, but ours go on to the
    // old one until the new one echoes a CHALLENGE.
    endpoint challenged_;
    std::uint64_t challenge_token_ = 0;
    clock::time_point challenged_at_{};

    bool shut_ = false;   // shutdown_send() was called
    bool closed_ = false; // close() was called: no more operations
    bool ended_ = false;  // the port was told: nothing more goes out
};

} // namespace libnet::detail::udp

#endif
