// SPDX-License-Identifier: BSL-1.0
// pingpong: two clients, one message in flight: a sends to b, b answers, a measures the
// round trip and sends the next.

#include "fleet.hpp"
#include "run.hpp"

namespace bench {

namespace {

constexpr std::chrono::seconds close_grace{5};

using clock = std::chrono::steady_clock;

class pingpong_run {
public:
    pingpong_run(boost::asio::io_context& ioc, const target& t, const pingpong_options& o)
        : t_(t), o_(o), clients_(ioc, t, 2, t.nats || t.no_directory ? 0 : 2),
          run_(ioc, "pingpong", t.timeout), a_(clients_[0]), b_(clients_[1]) {
        rtt_us_.reserve(o.count);
    }

    int run(boost::asio::io_context& ioc) {
        clients_.message_handler = [this](raw_client& c, std::size_t n) {
            arrived(c, n);
        };
        clients_.failure_handler = [this](const std::string& what) {
            run_.finish(what);
        };
        run_.start([this] { return progress(); },
                   [this] { clients_.close_all(close_grace, [] {}); });
        clients_.start([this] { begin(); });
        ioc.run();
        print();
        return run_.report();
    }

private:
    void begin() {
        if (clients_.failures() > 0)
            return; // the failure handler has ended the run
        a_.set_message(b_.id(), o_.size);
        b_.set_message(a_.id(), o_.size);
        started_ = sent_ = clock::now();
        a_.queue_messages(1);
    }

    void arrived(raw_client& c, std::size_t n) {
        if (&c == &b_) {
            b_.queue_messages(n);
            return;
        }
        auto const now = clock::now();
        rtt_us_.push_back(std::chrono::duration<double, std::micro>(now - sent_).count());
        if (rtt_us_.size() == o_.count) {
            seconds_ = std::chrono::duration<double>(now - started_).count();
            run_.finish();
            return;
        }
        sent_ = now;
        a_.queue_messages(1);
    }

    std::string progress() const {
        return clients_.progress() + ", " + std::to_string(rtt_us_.size()) + "/" +
               std::to_string(o_.count) + " round trips";
    }

    void print() {
        auto const done = rtt_us_.size();
        auto const p50 = quantile(rtt_us_, 0.5);
        auto const p99 = quantile(rtt_us_, 0.99);
        result_line()
            .add("bench", "pingpong")
            .add("server", t_.nats ? "nats" : "libnet")
            .add("size", std::uint64_t{o_.size})
            .add("count", std::uint64_t{done})
            .add("seconds", seconds_)
            .add("rtt_p50_us", p50, 1)
            .add("rtt_p99_us", p99, 1)
            .add("round_trips_per_s", seconds_ > 0 ? static_cast<double>(done) / seconds_ : 0.0, 0)
            .print();
    }

    target t_;
    pingpong_options o_;
    fleet clients_;
    runner run_;
    raw_client& a_;
    raw_client& b_;
    std::vector<double> rtt_us_;
    clock::time_point started_, sent_;
    double seconds_ = 0;
};

} // namespace

int run_pingpong(const target& t, const pingpong_options& o) {
    boost::asio::io_context ioc(1);
    pingpong_run p(ioc, t, o);
    return p.run(ioc);
}

} // namespace bench
