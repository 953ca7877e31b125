// SPDX-License-Identifier: BSL-1.0
#include "../wire/peer_token.hpp"
#include "connect.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace libnet::detail::udp {

namespace asio = boost::asio;
using namespace asio::experimental::awaitable_operators;
using udp_socket = asio::ip::udp::socket;

namespace {

constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);

// The client's socket, connected to the server: it carries one stream's datagrams, and
// gives the stream what comes back.
class client_port final : public datagram_port, public std::enable_shared_from_this<client_port> {
public:
    explicit client_port(udp_socket socket) : socket_(std::move(socket)) {}

    void attach(const std::shared_ptr<stream>& s) {
        stream_ = s;
        asio::co_spawn(socket_.get_executor(), receive_loop(shared_from_this()), asio::detached);
    }

    void send_datagram(std::span<const std::uint8_t> d, const udp_socket::endpoint_type&) override {
        boost::system::error_code ignored; // a lost datagram: the channel sends it again
        socket_.send(asio::buffer(d.data(), d.size()), 0, ignored);
    }

    void stream_ended(std::uint64_t) override {
        boost::system::error_code ignored;
        socket_.close(ignored);
    }

private:
    asio::awaitable<void> receive_loop(std::shared_ptr<client_port> /*self: alive while reading*/) {
        std::vector<std::uint8_t> buf(max_datagram);
        for (;;) {
            auto [ec, n] = co_await socket_.async_receive(asio::buffer(buf), use_tuple);
            auto s = stream_.lock();
            if (!s || !socket_.is_open())
                break;
            if (ec) // ICMP port unreachable and the like: the channel's timeouts decide
                continue;
            auto const r = decode({buf.data(), n});
            if (!r.value)
                continue;
            auto const from = s->peer();
            if (auto* d = std::get_if<data_datagram>(&*r.value); d && d->cid == s->cid())
                s->on_data(*d, from, n);
            else if (auto* p = std::get_if<path_datagram>(&*r.value);
                     p && !p->response && p->cid == s->cid())
                s->on_path(*p, from);
            else if (auto* rs = std::get_if<reset_datagram>(&*r.value); rs && rs->cid == s->cid())
                s->on_reset();
        }
    }

    udp_socket socket_;
    std::weak_ptr<stream> stream_;
};

// Sends `init` and waits for the server's answer with the same nonce; returns it, or
// nothing when `wait` passed.
asio::awaitable<std::optional<datagram>> ask(udp_socket& socket, const init_datagram& init,
                                             std::chrono::steady_clock::time_point until) {
    std::vector<std::uint8_t> buf(max_datagram);
    auto const n = encode(init, buf);
    boost::system::error_code ignored;
    socket.send(asio::buffer(buf.data(), n), 0, ignored);
    asio::steady_timer timer(socket.get_executor(), until);
    for (;;) {
        auto got = co_await (socket.async_receive(asio::buffer(buf), use_tuple) ||
                             timer.async_wait(use_tuple));
        if (got.index() == 1)
            co_return std::nullopt;
        auto [ec, size] = std::get<0>(got);
        if (ec) {
            if (std::chrono::steady_clock::now() >= until)
                co_return std::nullopt;
            continue; // ICMP unreachable: the server may not be up yet
        }
        auto r = decode({buf.data(), size});
        if (!r.value)
            continue;
        if (auto* c = std::get_if<cookie_datagram>(&*r.value); c && c->nonce == init.nonce)
            co_return *r.value;
        if (auto* a = std::get_if<accept_datagram>(&*r.value); a && a->nonce == init.nonce)
            co_return *r.value;
    }
}

connected failed(error_code ec) {
    connected c;
    c.ec = ec;
    return c;
}

} // namespace

asio::awaitable<connected> connect(asio::any_io_executor ex, asio::ip::udp::endpoint to,
                                   udp_transport options,
                                   std::chrono::steady_clock::time_point deadline) {
    auto limits = limits_of(options);
    udp_socket socket(ex);
    boost::system::error_code ec;
    socket.open(to.protocol(), ec);
    if (!ec)
        socket.connect(to, ec);
    if (ec)
        co_return failed(ec);
    init_datagram init; // assigned, not braced: GCC 12 in coroutines
    init.nonce = random_u64();
    auto wait = limits.initial_rto;
    for (;;) {
        auto const now = std::chrono::steady_clock::now();
        if (now >= deadline)
            co_return failed(asio::error::timed_out);
        auto const until = std::min<std::chrono::steady_clock::time_point>(deadline, now + wait);
        auto answer = co_await ask(socket, init, until);
        if (!answer) {
            wait = std::min<std::chrono::milliseconds>(wait * 2, limits.max_rto);
            continue;
        }
        if (auto* c = std::get_if<cookie_datagram>(&*answer)) {
            init.cookie = c->cookie; // and ask again at once, with it
            continue;
        }
        auto const& a = std::get<accept_datagram>(*answer);
        limits.max_datagram = std::min<std::size_t>(
            limits.max_datagram, std::max<std::size_t>(a.max_datagram, min_datagram));
        connected done;
        auto const local = socket.local_endpoint(ec);
        done.local = ec ? to.address() : local.address();
        auto port = std::make_shared<client_port>(std::move(socket));
        done.stream = std::make_shared<stream>(ex, port, to, a.cid, limits);
        port->attach(done.stream);
        done.stream->start();
        co_return done;
    }
}

} // namespace libnet::detail::udp
