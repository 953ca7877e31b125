// SPDX-License-Identifier: BSL-1.0
// route: client i sends to client i+1 (mod N), at most W messages in flight per pair,
// for T seconds once every client is ready.

#include "fleet.hpp"
#include "run.hpp"

#include <cstdio>

namespace bench {

namespace {

constexpr std::chrono::seconds close_grace{5};

class route_run {
public:
    route_run(boost::asio::io_context& ioc, const target& t, const route_options& o)
        : t_(t), o_(o), clients_(ioc, t, o.clients, t.nats || t.no_directory ? 0 : o.clients),
          run_(ioc, "route", t.timeout), clock_(ioc), in_flight_(o.clients, 0) {}

    int run(boost::asio::io_context& ioc) {
        clients_.message_handler = [this](raw_client& c, std::size_t n) {
            delivered(c, n);
        };
        clients_.failure_handler = [this](const std::string& what) {
            run_.finish(what);
        };
        run_.start([this] { return progress(); },
                   [this] {
                       clock_.cancel();
                       clients_.close_all(close_grace, [] {});
                   });
        clients_.start([this] { begin(); });
        ioc.run();
        print();
        return run_.report();
    }

private:
    // Every client is ready: fill every window and start the clock.
    void begin() {
        if (clients_.failures() > 0)
            return; // the failure handler has ended the run
        setup_seconds_ = run_.elapsed();
        auto const n = clients_.size();
        for (std::size_t i = 0; i < n; ++i)
            clients_[i].set_message(clients_[(i + 1) % n].id(), o_.size);
        bytes_at_start_ = clients_.bytes_in();
        frames_at_start_ = clients_.frames_in();
        started_ = std::chrono::steady_clock::now();
        sending_ = true;
        for (std::size_t i = 0; i < n; ++i) {
            clients_[i].queue_messages(o_.window);
            in_flight_[i] = o_.window;
        }
        clock_.expires_after(std::chrono::duration_cast<std::chrono::steady_clock::duration>(
            std::chrono::duration<double>(o_.seconds)));
        clock_.async_wait([this](boost::system::error_code ec) {
            if (!ec)
                end();
        });
    }

    // `n` messages from client i-1 reached client i: that many more may go.
    void delivered(raw_client& c, std::size_t n) {
        auto const from = (c.index() + clients_.size() - 1) % clients_.size();
        if (n > in_flight_[from]) {
            run_.finish(c.id() + " received more messages than were sent to it");
            return;
        }
        msgs_ += n;
        if (!sending_) {
            in_flight_[from] -= n;
            return;
        }
        clients_[from].queue_messages(n);
    }

    void end() {
        sending_ = false;
        seconds_ =
            std::chrono::duration<double>(std::chrono::steady_clock::now() - started_).count();
        msgs_at_end_ = msgs_;
        bytes_ = clients_.bytes_in() - bytes_at_start_;
        frames_ = clients_.frames_in() - frames_at_start_;
        run_.finish();
    }

    std::string progress() const {
        if (!sending_)
            return clients_.progress();
        auto const s = std::chrono::duration<double>(std::chrono::steady_clock::now() - started_);
        char text[96];
        std::snprintf(text, sizeof text, "%llu messages in %.1f s, %.0f msg/s",
                      static_cast<unsigned long long>(msgs_), s.count(),
                      static_cast<double>(msgs_) / s.count());
        return text;
    }

    void print() const {
        auto const rate = seconds_ > 0 ? static_cast<double>(msgs_at_end_) / seconds_ : 0.0;
        result_line()
            .add("bench", "route")
            .add("server", t_.nats ? "nats" : "libnet")
            .add("clients", std::uint64_t{o_.clients})
            .add("window", std::uint64_t{o_.window})
            .add("size", std::uint64_t{o_.size})
            .add("seconds", seconds_)
            .add("msgs", msgs_at_end_)
            .add("msg_per_s", rate, 0)
            .add("bytes_in", bytes_)
            .add("mb_per_s", seconds_ > 0 ? static_cast<double>(bytes_) / seconds_ / 1e6 : 0.0, 1)
            .add("frames_in", frames_)
            .add("setup_seconds", setup_seconds_)
            .add("resets", std::uint64_t{clients_.connect_failed + clients_.resets})
            .add("errors", std::uint64_t{clients_.errors + clients_.protocol_errors})
            .print();
    }

    target t_;
    route_options o_;
    fleet clients_;
    runner run_;
    boost::asio::steady_timer clock_;
    std::vector<std::size_t> in_flight_;
    std::chrono::steady_clock::time_point started_;
    bool sending_ = false;
    std::uint64_t msgs_ = 0, msgs_at_end_ = 0, bytes_at_start_ = 0, frames_at_start_ = 0;
    std::uint64_t bytes_ = 0, frames_ = 0;
    double seconds_ = 0, setup_seconds_ = 0;
};

} // namespace

int run_route(const target& t, const route_options& o) {
    boost::asio::io_context ioc(1);
    route_run r(ioc, t, o);
    return r.run(ioc);
}

} // namespace bench
