// SPDX-License-Identifier: BSL-1.0
#include "harness.hpp"

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>

#include <stdexcept>
#include <tuple>

// The client's operations: per-operation cancellation, the order of sends that complete at
// once, and hooks that throw.

using namespace test;

namespace {

/// The completion of an operation started with a callback, awaited with a deadline.
template <class... T>
class outcome {
public:
    explicit outcome(asio::io_context& ioc)
        : done_(ioc, std::chrono::steady_clock::time_point::max()) {}

    auto handler() {
        return [this](error_code ec, T... v) {
            result_.emplace(ec, std::move(v)...);
            done_.cancel();
        };
    }
    /// The handler, with `signal`'s slot as its cancellation slot.
    auto handler(asio::cancellation_signal& signal) {
        return asio::bind_cancellation_slot(signal.slot(), handler());
    }

    asio::awaitable<std::tuple<error_code, T...>> get(std::chrono::milliseconds limit = 5000ms) {
        done_.expires_after(limit);
        if (!result_)
            co_await done_.async_wait(use_tuple);
        INFO("the operation did not complete in time");
        REQUIRE(result_.has_value());
        co_return std::move(*result_);
    }
    bool completed() const { return result_.has_value(); }

private:
    asio::steady_timer done_;
    std::optional<std::tuple<error_code, T...>> result_;
};

} // namespace

TEST_CASE("operations: a cancelled receive completes alone, and no event is lost") {
    run([](asio::io_context& ioc) -> asio::awaitable<void> {
        server s(ioc);
        auto rx = co_await connect(ioc, s, "rx");
        auto tx = co_await connect(ioc, s, "tx");
        co_await expect<libnet::peer_joined>(*rx);

        outcome<libnet::event> cancelled(ioc);
        outcome<std::vector<libnet::event>> batch(ioc);
        asio::cancellation_signal signal, batch_signal;
        rx->async_receive(cancelled.handler(signal));
        rx->async_receive_batch(10, batch.handler(batch_signal));
        signal.emit(asio::cancellation_type::terminal);
        auto [ec, ev] = co_await cancelled.get();
        CHECK(ec == asio::error::operation_aborted);
        CHECK(rx->is_connected());

        // The batch receive started after it still waits, and takes the next message.
        co_await tx->async_send("rx", "one", use_tuple);
        auto [bec, events] = co_await batch.get();
        REQUIRE_FALSE(bec);
        REQUIRE(events.size() == 1);
        CHECK(std::get<libnet::message>(events[0]).body == "one");

        // A cancelled batch receive does not take what comes after it.
        outcome<std::vector<libnet::event>> cancelled_batch(ioc);
        rx->async_receive_batch(10, cancelled_batch.handler(batch_signal));
        batch_signal.emit(asio::cancellation_type::total);
        auto [cbec, none] = co_await cancelled_batch.get();
        CHECK(cbec == asio::error::operation_aborted);
        CHECK(none.empty());
        co_await tx->async_send("rx", "two", use_tuple);
        auto m = co_await expect<libnet::message>(*rx);
        CHECK(m.body == "two");
        co_await close(*tx);
        co_await close(*rx);
        co_await s.stop();
    });
}

TEST_CASE("operations: a receive raced against a timer with || loses nothing") {
    using namespace asio::experimental::awaitable_operators;
    run([](asio::io_context& ioc) -> asio::awaitable<void> {
        server s(ioc);
        auto rx = co_await connect(ioc, s, "rx");
        auto tx = co_await connect(ioc, s, "tx");
        co_await expect<libnet::peer_joined>(*rx);
        asio::steady_timer tick(ioc, 20ms);
        auto first = co_await (rx->async_receive(asio::use_awaitable) ||
                               tick.async_wait(asio::use_awaitable));
        // The group flattens the event's variant and adds monostate for the timer.
        CHECK(std::holds_alternative<std::monostate>(first)); // nothing was sent
        co_await tx->async_send("rx", "after", use_tuple);
        tick.expires_after(5s);
        auto second = co_await (rx->async_receive(asio::use_awaitable) ||
                                tick.async_wait(asio::use_awaitable));
        REQUIRE(std::holds_alternative<libnet::message>(second));
        CHECK(std::get<libnet::message>(second).body == "after");
        co_await close(*tx);
        co_await close(*rx);
        co_await s.stop();
    });
}

TEST_CASE("operations: cancelling a connect that waits for WELCOME abandons it") {
    run(
        [](asio::io_context& ioc) -> asio::awaitable<void> {
            tcp::acceptor acceptor(ioc, {asio::ip::make_address("127.0.0.1"), 0});
            auto o = with_id("patient");
            o.connect_timeout = 30s; // far beyond the test's limit
            libnet::client c(ioc.get_executor(), o);
            outcome<> connected(ioc);
            asio::cancellation_signal signal;
            c.async_connect("127.0.0.1", std::to_string(acceptor.local_endpoint().port()),
                            connected.handler(signal));
            auto [aec, peer] = co_await acceptor.async_accept(use_tuple);
            REQUIRE_FALSE(aec);
            signal.emit(asio::cancellation_type::terminal);
            auto [ec] = co_await connected.get(2000ms);
            CHECK(ec == asio::error::operation_aborted);
            CHECK_FALSE(c.is_connected());
            // The client is finished: it serves one session.
            auto [again] = co_await c.async_connect("127.0.0.1", "1", use_tuple);
            CHECK(again == asio::error::already_started);
            auto [cec] = co_await c.async_close(use_tuple);
            CHECK_FALSE(cec);
        },
        10s);
}

TEST_CASE(
    "operations: a cancelled confirmed send stops waiting and its receipt comes as an event") {
    run([](asio::io_context& ioc) -> asio::awaitable<void> {
        server s(ioc, allow("alice,bob"));
        auto a = co_await connect(ioc, s, "alice");
        outcome<libnet::receipt> confirmed(ioc);
        asio::cancellation_signal signal;
        a->async_send_confirmed("bob", "kept", confirmed.handler(signal));
        signal.emit(asio::cancellation_type::terminal);
        auto [ec, r] = co_await confirmed.get();
        CHECK(ec == asio::error::operation_aborted);
        // The message was sent all the same: bob (offline) has it in his mailbox, and the
        // server's answer arrives as an event.
        auto st = co_await expect<libnet::stored>(*a);
        CHECK(st.to == "bob");
        auto b = co_await connect(ioc, s, "bob");
        auto m = co_await expect<libnet::message>(*b);
        CHECK(m.body == "kept");
        co_await close(*b);
        co_await close(*a);
        co_await s.stop();
    });
}

TEST_CASE("operations: a cancelled fetch hands its messages over as events") {
    run([](asio::io_context& ioc) -> asio::awaitable<void> {
        server s(ioc, allow("alice,bob"));
        auto a = co_await connect(ioc, s, "alice");
        for (int i = 0; i < 3; ++i) {
            auto [ec, r] =
                co_await a->async_send_confirmed("bob", "m" + std::to_string(i), use_tuple);
            REQUIRE_FALSE(ec);
        }
        auto o = with_id("bob");
        o.pull = true;
        libnet::client b(ioc.get_executor(), o);
        auto [bec] = co_await b.async_connect("127.0.0.1", s.port(), use_tuple);
        REQUIRE_FALSE(bec);
        outcome<std::vector<libnet::message>> fetched(ioc);
        asio::cancellation_signal signal;
        b.async_fetch(10, fetched.handler(signal));
        signal.emit(asio::cancellation_type::terminal);
        auto [fec, got] = co_await fetched.get();
        CHECK(fec == asio::error::operation_aborted);
        CHECK(got.empty());
        for (int i = 0; i < 3; ++i) { // none lost, in order
            auto m = co_await expect<libnet::message>(b);
            CHECK(m.body == "m" + std::to_string(i));
        }
        co_await close(b);
        co_await close(*a);
        co_await s.stop();
        CHECK(s->stats().pending == 0); // received, so acknowledged
    });
}

TEST_CASE("operations: sends that complete at once keep their order with broadcasts") {
    run([](asio::io_context& ioc) -> asio::awaitable<void> {
        server s(ioc);
        auto tx = co_await connect(ioc, s, "tx");
        auto rx = co_await connect(ioc, s, "rx");
        co_await expect<libnet::peer_joined>(*tx);
        constexpr int n = 2000;
        int completed = 0, awaited = 0;
        for (int i = 0; i < n; ++i) { // issued back to back: they share writes
            auto body = std::to_string(i);
            if (i % 100 == 50)
                tx->async_broadcast(std::move(body), [&completed](error_code ec) {
                    CHECK_FALSE(ec);
                    ++completed;
                });
            else if (i % 7 == 0) { // and some awaited one at a time in between
                auto [ec] = co_await tx->async_send("rx", std::move(body), use_tuple);
                CHECK_FALSE(ec);
                ++awaited;
            } else
                tx->async_send("rx", std::move(body), [&completed](error_code ec) {
                    CHECK_FALSE(ec);
                    ++completed;
                });
        }
        for (int i = 0; i < n; ++i) {
            auto m = co_await expect<libnet::message>(*rx);
            REQUIRE(m.body == std::to_string(i));
            CHECK(m.broadcast == (i % 100 == 50));
        }
        CHECK(completed + awaited == n); // every callback ran
        co_await close(*tx);
        co_await close(*rx);
        co_await s.stop();
    });
}

TEST_CASE("operations: a hook that throws ends the session with hook_failed") {
    run([](asio::io_context& ioc) -> asio::awaitable<void> {
        server s(ioc);
        auto watcher = co_await connect(ioc, s, "watcher");
        auto o = with_id("fragile");
        o.on_message = [](const libnet::message& m) -> bool {
            if (m.body == "boom")
                throw std::runtime_error("the application failed");
            return false;
        };
        libnet::client c(ioc.get_executor(), o);
        auto [cec] = co_await c.async_connect("127.0.0.1", s.port(), use_tuple);
        REQUIRE_FALSE(cec);
        co_await expect<libnet::peer_joined>(*watcher);
        co_await watcher->async_send("fragile", "fine", use_tuple);
        co_await watcher->async_send("fragile", "boom", use_tuple);
        auto m = co_await expect<libnet::message>(c); // what came before is still received
        CHECK(m.body == "fine");
        auto end = co_await end_of(c);
        CHECK(end == libnet::error::hook_failed);
        CHECK_FALSE(c.is_connected());
        auto [sec] = co_await c.async_send("watcher", "late", use_tuple);
        CHECK(sec == libnet::error::hook_failed);
        auto [close_ec] = co_await c.async_close(use_tuple); // completes, never hangs
        CHECK_FALSE(close_ec);
        auto left = co_await expect<libnet::peer_left>(*watcher);
        CHECK(left.id == "fragile");
        co_await close(*watcher);
        co_await s.stop();
    });
}
