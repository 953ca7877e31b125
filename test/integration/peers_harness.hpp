// SPDX-License-Identifier: BSL-1.0
#ifndef LIBNET_TEST_PEERS_HARNESS_HPP
#define LIBNET_TEST_PEERS_HARNESS_HPP

// Support for direct-link tests: listening clients, waiting for a kind of event, and a
// TCP proxy that can cut a link in the middle of a stream.

#include "harness.hpp"

#include <memory>
#include <vector>

namespace test {

inline libnet::client_options listening(std::string id, bool mesh = false) {
    auto o = with_id(std::move(id));
    o.listen = "127.0.0.1:0";
    o.mesh = mesh;
    return o;
}

inline asio::awaitable<std::unique_ptr<libnet::client>>
connect_with(asio::io_context& ioc, const server& s, libnet::client_options o) {
    auto id = o.id;
    auto c = std::make_unique<libnet::client>(ioc.get_executor(), std::move(o));
    auto [ec] = co_await c->async_connect("127.0.0.1", s.port(), use_tuple);
    INFO("connect " << id << ": " << ec.message());
    REQUIRE_FALSE(ec);
    co_return c;
}

/// The next event of type T, skipping (and counting in `skipped`) any others.
template <class T>
asio::awaitable<T> next_of(libnet::client& c, std::vector<libnet::event>* skipped = nullptr,
                           std::chrono::milliseconds limit = 5000ms) {
    for (;;) {
        auto ev = co_await next_event(c, limit);
        if (auto* p = std::get_if<T>(&ev))
            co_return std::move(*p);
        if (skipped)
            skipped->push_back(std::move(ev));
    }
}

/// Forwards every connection it accepts to `upstream`; kill() cuts them all at once
/// (with a reset), as a network failure would.
class proxy {
public:
    proxy(asio::io_context& ioc, tcp::endpoint upstream)
        : acceptor_(ioc, {asio::ip::make_address("127.0.0.1"), 0}), upstream_(upstream) {
        asio::co_spawn(ioc, accept_loop(), asio::detached);
    }
    std::string endpoint() const {
        return "127.0.0.1:" + std::to_string(acceptor_.local_endpoint().port());
    }
    void kill() {
        for (auto& s : sockets_) {
            boost::system::error_code ignored;
            s->set_option(asio::socket_base::linger(true, 0), ignored);
            s->close(ignored);
        }
        sockets_.clear();
    }
    void stop() {
        boost::system::error_code ignored;
        acceptor_.close(ignored);
        kill();
    }
    int accepted() const { return accepted_; }

private:
    asio::awaitable<void> accept_loop() {
        for (;;) {
            auto [ec, down] = co_await acceptor_.async_accept(use_tuple);
            if (ec)
                co_return;
            ++accepted_;
            auto a = std::make_shared<tcp::socket>(std::move(down));
            auto b = std::make_shared<tcp::socket>(acceptor_.get_executor());
            auto [cec] = co_await b->async_connect(upstream_, use_tuple);
            if (cec)
                continue;
            sockets_.push_back(a);
            sockets_.push_back(b);
            asio::co_spawn(acceptor_.get_executor(), pump(a, b), asio::detached);
            asio::co_spawn(acceptor_.get_executor(), pump(b, a), asio::detached);
        }
    }
    static asio::awaitable<void> pump(std::shared_ptr<tcp::socket> from,
                                      std::shared_ptr<tcp::socket> to) {
        std::vector<char> buf(16384);
        for (;;) {
            auto [ec, n] = co_await from->async_read_some(asio::buffer(buf), use_tuple);
            if (ec)
                break;
            auto [wec, w] = co_await asio::async_write(*to, asio::buffer(buf, n), use_tuple);
            if (wec)
                break;
        }
        boost::system::error_code ignored;
        to->shutdown(tcp::socket::shutdown_send, ignored);
    }

    tcp::acceptor acceptor_;
    tcp::endpoint upstream_;
    std::vector<std::shared_ptr<tcp::socket>> sockets_;
    int accepted_ = 0;
};

inline tcp::endpoint parse_endpoint(const std::string& s) {
    auto colon = s.rfind(':');
    return {asio::ip::make_address(s.substr(0, colon)),
            static_cast<std::uint16_t>(std::stoi(s.substr(colon + 1)))};
}

} // namespace test

#endif
