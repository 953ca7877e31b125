// SPDX-License-Identifier: BSL-1.0
#ifndef LIBNET_SRC_WIRE_TRANSPORT_HPP
#define LIBNET_SRC_WIRE_TRANSPORT_HPP

#include "../udp/stream.hpp"

#include <boost/asio/awaitable.hpp>
#include <boost/asio/buffer.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/stream.hpp>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <utility>

namespace libnet::detail {

/// The stream a connection runs over: a TCP socket, TLS on one (docs/guide.md §12), or a
/// UDP session (docs/guide.md §13).
/// Which one is chosen at run time, so every session, client and link is one type whether
/// it encrypts or not; the branch costs nothing next to a system call.
class transport {
public:
    using executor_type = boost::asio::any_io_executor;
    using tcp = boost::asio::ip::tcp;
    using tls_stream = boost::asio::ssl::stream<tcp::socket>;

    explicit transport(tcp::socket socket) : tcp_(std::move(socket)) {}
    /// TLS over `socket` with `context` (which must outlive the transport); the handshake is
    /// still to be made (handshake()).
    transport(tcp::socket socket, boost::asio::ssl::context& context)
        : tcp_(socket.get_executor()),
          tls_(std::make_unique<tls_stream>(std::move(socket), context)) {}

    /// A UDP session's stream, already open (its handshake made).
    explicit transport(std::shared_ptr<udp::stream> s)
        : tcp_(s->get_executor()), udp_(std::move(s)) {}

    executor_type get_executor() noexcept { return tcp_.get_executor(); }
    tcp::socket& socket() noexcept { return tls_ ? tls_->next_layer() : tcp_; }
    const tcp::socket& socket() const noexcept { return tls_ ? tls_->next_layer() : tcp_; }
    /// The TLS stream; null over plain TCP.
    tls_stream* tls() noexcept { return tls_.get(); }
    /// The UDP stream; null over TCP.
    udp::stream* udp() const noexcept { return udp_.get(); }

    template <class Buffers, class Token>
    auto async_read_some(const Buffers& buffers, Token&& token) {
        if (udp_)
            return udp_->async_read_some(buffers, std::forward<Token>(token));
        if (tls_)
            return tls_->async_read_some(buffers, std::forward<Token>(token));
        return tcp_.async_read_some(buffers, std::forward<Token>(token));
    }

    /// Over TLS, the buffers are gathered into one record-sized block first: the TLS stream
    /// writes only the first buffer of a sequence per call, which would cost a record and a
    /// system call per frame.
    template <class Buffers, class Token>
    auto async_write_some(const Buffers& buffers, Token&& token) {
        if (udp_)
            return udp_->async_write_some(buffers, std::forward<Token>(token));
        if (!tls_)
            return tcp_.async_write_some(buffers, std::forward<Token>(token));
        if (!staging_)
            staging_ = std::make_unique<char[]>(staging_size);
        auto const n =
            boost::asio::buffer_copy(boost::asio::buffer(staging_.get(), staging_size), buffers);
        return tls_->async_write_some(boost::asio::buffer(staging_.get(), n),
                                      std::forward<Token>(token));
    }

private:
    static constexpr std::size_t staging_size = 16 * 1024; // one TLS record's payload

    tcp::socket tcp_; // the socket over plain TCP; unused (closed) under TLS
    std::unique_ptr<tls_stream> tls_;
    std::unique_ptr<char[]> staging_;
    std::shared_ptr<udp::stream> udp_;
};

// What basic_connection asks of its stream beyond reading and writing (connection.hpp).

/// Sets the socket up for framed traffic; returns the peer's address.
boost::asio::ip::tcp::endpoint prepare_stream(transport& s);
/// No more data from this side: a TCP half-close, or TLS's close_notify (without waiting
/// for the peer's: the reader goes on until it comes).
boost::asio::awaitable<void> shutdown_send(transport& s);
/// Closes at once; pending operations complete with operation_aborted.
void close_stream(transport& s);
inline bool stream_open(const transport& s) {
    return s.udp() ? s.udp()->is_open() : s.socket().is_open();
}
/// Input already received but not yet read: over TLS a read returns one record at most,
/// however much more has arrived.
bool input_buffered(transport& s);
/// Bytes written that the peer has not acknowledged yet (Linux: SIOCOUTQ); 0 where that
/// can't be known.
std::uint64_t unacknowledged_bytes(transport& s);

} // namespace libnet::detail

#endif
