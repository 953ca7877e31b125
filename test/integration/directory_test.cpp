#include "harness.hpp"

#include <future>
#include <map>
#include <mutex>
#include <set>
#include <thread>

// The directory under load: batched announcements keep every view exact, presence opt-out
// and lookups, and join storms that nothing blocks.

using namespace test;

namespace {

std::string name(const char* prefix, int i) {
    return prefix + std::to_string(i);
}

// What the coroutines of a multi-threaded test saw; asserted after the threads joined
// (Catch2 assertions are not thread-safe).
struct tally {
    std::mutex mutex;
    std::vector<std::string> problems;

    void problem(std::string p) {
        std::lock_guard lock(mutex);
        problems.push_back(std::move(p));
    }
};

// Keeps a view from the snapshot and the events, checking each delta against it, until
// `marker` joins: then the view must be exactly `expected`.
asio::awaitable<void> watch(libnet::client& c, std::string marker, std::set<std::string> expected,
                            std::shared_ptr<tally> t) {
    std::set<std::string> view;
    for (auto const& p : c.directory())
        view.insert(p.id);
    for (;;) {
        auto [ec, ev] = co_await c.async_receive(20s, use_tuple);
        if (ec) {
            t->problem(c.id() + ": " + ec.message());
            co_return;
        }
        if (auto* j = std::get_if<libnet::peer_joined>(&ev)) {
            if (!view.insert(j->peer.id).second)
                t->problem(c.id() + ": JOINED " + j->peer.id + " already in view");
            if (j->peer.id == marker)
                break;
        } else if (auto* l = std::get_if<libnet::peer_left>(&ev)) {
            if (view.erase(l->id) != 1)
                t->problem(c.id() + ": LEFT " + l->id + " not in view");
        }
    }
    if (view != expected)
        t->problem(c.id() + ": view has " + std::to_string(view.size()) + " ids, expected " +
                   std::to_string(expected.size()));
    std::set<std::string> listed;
    for (auto const& p : c.directory())
        listed.insert(p.id);
    if (listed != expected)
        t->problem(c.id() + ": directory() disagrees with the events");
}

// Joins, leaves (by BYE or by dropping the connection) and joins again under one id; the
// client of the last join stays online and is returned.
asio::awaitable<std::shared_ptr<libnet::client>> churn(asio::io_context& ioc, std::string port,
                                                       std::string id, bool abort,
                                                       std::shared_ptr<tally> t) {
    for (int round = 0; round < 2; ++round) {
        libnet::client c(ioc.get_executor(), with_id(id));
        auto [ec] = co_await c.async_connect("127.0.0.1", port, use_tuple);
        if (ec) {
            t->problem(id + ": connect: " + ec.message());
            co_return nullptr;
        }
        if (abort)
            continue; // the destructor drops the connection
        auto [cec] = co_await c.async_close(use_tuple);
        if (cec)
            t->problem(id + ": close: " + cec.message());
    }
    auto c = std::make_shared<libnet::client>(ioc.get_executor(), with_id(id));
    auto [ec] = co_await c->async_connect("127.0.0.1", port, use_tuple);
    if (ec)
        t->problem(id + ": last connect: " + ec.message());
    co_return c;
}

} // namespace

TEST_CASE("directory: every view stays exact under concurrent joins and leaves, 2 threads") {
    asio::io_context ioc;
    libnet::server srv(ioc.get_executor(), {});
    auto stopped = srv.async_run(asio::use_future);
    auto const port = std::to_string(srv.local_endpoint().port());
    auto t = std::make_shared<tally>();
    constexpr int observers = 4, churners = 40;
    std::set<std::string> expected;
    std::vector<std::unique_ptr<libnet::client>> obs;
    std::vector<std::future<void>> watching;
    std::vector<std::shared_ptr<libnet::client>> parked;
    std::thread runner;
    {
        auto work = asio::make_work_guard(ioc);
        std::thread second([&ioc] { ioc.run(); });
        runner = std::thread([&ioc] { ioc.run(); });
        for (int i = 0; i < observers; ++i) {
            obs.push_back(
                std::make_unique<libnet::client>(ioc.get_executor(), with_id(name("o", i))));
            expected.insert(name("o", i));
            auto f = obs.back()->async_connect("127.0.0.1", port, asio::use_future);
            REQUIRE(f.wait_for(10s) == std::future_status::ready);
            REQUIRE_NOTHROW(f.get());
        }
        for (int i = 0; i < churners; ++i)
            expected.insert(name("x", i));
        expected.insert("marker");
        for (auto& o : obs)
            watching.push_back(
                asio::co_spawn(ioc, watch(*o, "marker", expected, t), asio::use_future));
        std::vector<std::future<std::shared_ptr<libnet::client>>> churning;
        for (int i = 0; i < churners; ++i)
            churning.push_back(asio::co_spawn(ioc, churn(ioc, port, name("x", i), i % 2 == 0, t),
                                              asio::use_future));
        for (auto& f : churning) {
            REQUIRE(f.wait_for(20s) == std::future_status::ready);
            parked.push_back(f.get()); // online until the server stops
        }
        REQUIRE(srv.stats().online == static_cast<std::size_t>(observers + churners));
        libnet::client marker(ioc.get_executor(), with_id("marker"));
        auto mf = marker.async_connect("127.0.0.1", port, asio::use_future);
        REQUIRE(mf.wait_for(10s) == std::future_status::ready);
        REQUIRE_NOTHROW(mf.get());
        for (auto& w : watching) {
            REQUIRE(w.wait_for(20s) == std::future_status::ready);
            w.get();
        }
        srv.stop(); // the parked churners, the marker and the observers get TERM
        REQUIRE(stopped.wait_for(10s) == std::future_status::ready);
        stopped.get();
        work.reset();
        ioc.stop();
        second.join();
        runner.join();
    }
    INFO(t->problems.size() << " problems, first: "
                            << (t->problems.empty() ? "" : t->problems.front()));
    CHECK(t->problems.empty());
}
