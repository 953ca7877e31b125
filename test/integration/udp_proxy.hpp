// SPDX-License-Identifier: BSL-1.0
#ifndef LIBNET_TEST_UDP_PROXY_HPP
#define LIBNET_TEST_UDP_PROXY_HPP

// A UDP relay between one client and a server that loses, duplicates, delays and reorders
// datagrams by a seeded random generator, and can move to a new source port (a NAT that
// rebinds) or to another server (a server restarted behind the same address).

#include <boost/asio.hpp>

#include <memory>
#include <random>

namespace test {

class lossy_proxy : public std::enable_shared_from_this<lossy_proxy> {
public:
    using udp = boost::asio::ip::udp;
    struct conditions {
        double loss = 0;      ///< each way
        double duplicate = 0; ///< sent twice
        double reorder = 0;   ///< held back behind later ones
        std::chrono::microseconds delay{0};
    };
    struct counts {
        std::uint64_t forwarded = 0, dropped = 0, duplicated = 0, reordered = 0;
    };

    lossy_proxy(boost::asio::io_context& ioc, udp::endpoint server, conditions c, unsigned seed)
        : ioc_(ioc), server_(server), cond_(c), rng_(seed),
          front_(ioc, udp::endpoint(boost::asio::ip::make_address("127.0.0.1"), 0)),
          back_(std::make_shared<udp::socket>(
              ioc, udp::endpoint(boost::asio::ip::make_address("127.0.0.1"), 0))) {}

    /// Where the client sends.
    udp::endpoint endpoint() const { return front_.local_endpoint(); }
    std::uint16_t back_port() const { return back_->local_endpoint().port(); }
    void start() {
        spawn(client_side(shared_from_this()));
        spawn(server_side(shared_from_this(), back_));
    }
    /// From now on the server sees the client's datagrams come from a new port; what it
    /// sends to the old one is lost.
    void change_port() {
        auto old = back_;
        back_ = std::make_shared<udp::socket>(
            ioc_, udp::endpoint(boost::asio::ip::make_address("127.0.0.1"), 0));
        spawn(server_side(shared_from_this(), back_));
        boost::system::error_code ignored;
        old->close(ignored);
    }
    /// From now on the client's datagrams go to `server`.
    void redirect(udp::endpoint server) { server_ = server; }
    void set_conditions(conditions c) { cond_ = c; }
    void stop() {
        boost::system::error_code ignored;
        front_.close(ignored);
        back_->close(ignored);
    }
    const counts& up() const { return up_; }
    const counts& down() const { return down_; }

private:
    template <class Awaitable>
    void spawn(Awaitable a) {
        boost::asio::co_spawn(ioc_, std::move(a), boost::asio::detached);
    }
    bool chance(double p) { return p > 0 && std::uniform_real_distribution<>(0, 1)(rng_) < p; }

    // Sends `d` through `socket` to `to`, as the conditions say.
    void relay(std::shared_ptr<udp::socket> socket, udp::endpoint to,
               std::shared_ptr<std::vector<std::uint8_t>> d, counts& n) {
        if (chance(cond_.loss)) {
            ++n.dropped;
            return;
        }
        int copies = 1;
        if (chance(cond_.duplicate)) {
            ++n.duplicated;
            copies = 2;
        }
        auto delay = cond_.delay;
        if (chance(cond_.reorder)) {
            ++n.reordered;
            delay += std::chrono::milliseconds(3);
        }
        for (int i = 0; i < copies; ++i) {
            ++n.forwarded;
            if (delay.count() == 0) {
                boost::system::error_code ignored;
                socket->send_to(boost::asio::buffer(*d), to, 0, ignored);
                continue;
            }
            auto timer = std::make_shared<boost::asio::steady_timer>(ioc_, delay);
            timer->async_wait([timer, socket, to, d](boost::system::error_code) {
                boost::system::error_code ignored;
                socket->send_to(boost::asio::buffer(*d), to, 0, ignored);
            });
        }
    }

    boost::asio::awaitable<void> client_side(std::shared_ptr<lossy_proxy> self) {
        std::vector<std::uint8_t> buf(65536);
        for (;;) {
            udp::endpoint from;
            auto [ec, n] = co_await front_.async_receive_from(
                boost::asio::buffer(buf), from, boost::asio::as_tuple(boost::asio::use_awaitable));
            if (!front_.is_open())
                break;
            if (ec)
                continue;
            client_ = from;
            relay(back_, server_,
                  std::make_shared<std::vector<std::uint8_t>>(buf.begin(), buf.begin() + n), up_);
        }
        (void)self;
    }

    boost::asio::awaitable<void> server_side(std::shared_ptr<lossy_proxy> self,
                                             std::shared_ptr<udp::socket> back) {
        std::vector<std::uint8_t> buf(65536);
        for (;;) {
            udp::endpoint from;
            auto [ec, n] = co_await back->async_receive_from(
                boost::asio::buffer(buf), from, boost::asio::as_tuple(boost::asio::use_awaitable));
            if (!back->is_open() || !front_.is_open())
                break;
            if (ec)
                continue;
            auto front = std::shared_ptr<udp::socket>(self, &front_);
            relay(front, client_,
                  std::make_shared<std::vector<std::uint8_t>>(buf.begin(), buf.begin() + n), down_);
        }
    }

    boost::asio::io_context& ioc_;
    udp::endpoint server_, client_;
    conditions cond_;
    std::mt19937 rng_;
    udp::socket front_;
    std::shared_ptr<udp::socket> back_;
    counts up_, down_;
};

} // namespace test

#endif
