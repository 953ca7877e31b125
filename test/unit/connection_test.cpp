// SPDX-License-Identifier: BSL-1.0
#include "../../libnet/src/wire/connection_impl.hpp"
#include "test_stream.hpp"

#include <libnet/codec.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>

#include <catch2/catch.hpp>

#include <optional>
#include <string>
#include <vector>

// The connection's reading, writing and closing over a scripted stream: byte-by-byte reads,
// short and failing writes, a peer that never closes. No sockets.

namespace {

using namespace std::chrono_literals;
using libnet::detail::basic_connection;
using libnet::detail::connection_limits;
using libnet::detail::shared_frame;

// A frame of application type 0x8001 whose value is `text`, as bytes.
std::string wire(std::string_view text) {
    std::vector<std::uint8_t> out;
    libnet::append_frame(out, 0x8001,
                         {reinterpret_cast<const std::uint8_t*>(text.data()), text.size()});
    return {out.begin(), out.end()};
}

shared_frame frame_of(std::string_view text) {
    auto const bytes = wire(text);
    auto p = std::make_shared_for_overwrite<std::uint8_t[]>(bytes.size());
    std::memcpy(p.get(), bytes.data(), bytes.size());
    return {std::move(p), bytes.size(), 1};
}

// Records what a connection tells its subclass.
class recorder final : public basic_connection<scripted::stream> {
public:
    using basic_connection::basic_connection;
    std::vector<std::string> frames;
    std::optional<libnet::error_code> closing_reason;

private:
    void on_frame(libnet::frame_view f) override {
        frames.emplace_back(f.value.begin(), f.value.end());
    }
    void on_closing(libnet::error_code reason) override { closing_reason = reason; }
};

struct fixture {
    boost::asio::io_context ioc;
    std::shared_ptr<scripted::script> peer = std::make_shared<scripted::script>();
    std::shared_ptr<recorder> conn;
    bool finished = false;

    explicit fixture(connection_limits limits = short_limits()) {
        conn = std::make_shared<recorder>(scripted::stream(ioc.get_executor(), peer), limits);
    }
    static connection_limits short_limits() {
        connection_limits l;
        l.close_timeout = 100ms;
        return l;
    }
    void start() {
        boost::asio::co_spawn(ioc, conn->run(), [this](std::exception_ptr e) {
            REQUIRE_FALSE(e);
            finished = true;
        });
    }
    // Runs until nothing is left to do (the connection parked on its script) or `limit`.
    void settle(std::chrono::milliseconds limit = 2000ms) {
        ioc.restart();
        ioc.run_for(limit);
    }
    void poll() {
        ioc.restart();
        ioc.poll();
    }
};

} // namespace

TEST_CASE("connection: frames are reassembled from 1-byte reads and split from one read") {
    auto const read_limit = GENERATE(std::size_t{1}, std::size_t{7}, SIZE_MAX);
    fixture f;
    f.peer->read_limit = read_limit;
    f.peer->push(wire("alpha") + wire("") + wire(std::string(3000, 'x')));
    f.peer->push(wire("omega"));
    f.peer->push(boost::asio::error::eof);
    f.start();
    f.settle();
    INFO("read limit " << read_limit);
    REQUIRE(f.finished);
    REQUIRE(f.conn->frames.size() == 4);
    CHECK(f.conn->frames[0] == "alpha");
    CHECK(f.conn->frames[1].empty());
    CHECK(f.conn->frames[2] == std::string(3000, 'x'));
    CHECK(f.conn->frames[3] == "omega");
    CHECK(f.conn->closing_reason == libnet::error::connection_closed);
    CHECK(f.peer->closed);
}

TEST_CASE("connection: a stream ending inside a frame drops the partial frame") {
    fixture f;
    auto const whole = wire("complete"), cut = wire("cut short");
    f.peer->push(whole + cut.substr(0, 5));
    f.peer->push(boost::asio::error::connection_reset);
    f.start();
    f.settle();
    REQUIRE(f.finished);
    REQUIRE(f.conn->frames.size() == 1);
    CHECK(f.conn->frames[0] == "complete");
    CHECK(f.conn->closing_reason == boost::asio::error::connection_reset);
}

TEST_CASE(
    "connection: close flushes the queue and the last frame then half-closes and ends at eof") {
    auto const write_limit = GENERATE(std::size_t{3}, SIZE_MAX); // short writes too
    fixture f;
    f.peer->write_limit = write_limit;
    f.start();
    f.poll();
    std::string expected;
    for (int i = 0; i < 50; ++i) {
        auto const text = "m" + std::to_string(i);
        REQUIRE(f.conn->enqueue(frame_of(text)));
        expected += wire(text);
    }
    f.conn->close(libnet::error::terminated, frame_of("last"));
    expected += wire("last");
    CHECK_FALSE(f.conn->enqueue(frame_of("too late"))); // nothing after the last frame
    f.poll();
    INFO("write limit " << write_limit);
    CHECK(f.peer->written == expected);
    CHECK(f.peer->shut_down);
    CHECK_FALSE(f.finished); // waits for the peer to close its side
    f.peer->push(boost::asio::error::eof);
    f.settle();
    CHECK(f.finished);
    CHECK(f.conn->closing_reason == libnet::error::terminated);
    CHECK(f.conn->reason() == libnet::error::terminated);
}

TEST_CASE("connection: a TLS stream cut without close_notify ends cleanly only between frames") {
    auto const mid_frame = GENERATE(false, true);
    fixture f;
    auto const whole = wire("complete"), cut = wire("cut short");
    f.peer->push(mid_frame ? whole + cut.substr(0, 5) : whole);
    f.peer->push(boost::asio::ssl::error::stream_truncated);
    f.start();
    f.settle();
    INFO((mid_frame ? "inside a frame" : "between frames"));
    REQUIRE(f.finished);
    REQUIRE(f.conn->frames.size() == 1);
    if (mid_frame)
        CHECK(f.conn->closing_reason == boost::asio::ssl::error::stream_truncated);
    else
        CHECK(f.conn->closing_reason == libnet::error::connection_closed);
}

TEST_CASE("connection: a peer that never closes is cut off after close_timeout") {
    fixture f;
    f.start();
    f.poll();
    f.conn->close(libnet::error::not_connected);
    auto const start = std::chrono::steady_clock::now();
    f.settle(5000ms);
    REQUIRE(f.finished);
    CHECK(f.peer->shut_down);
    CHECK(f.peer->closed);
    CHECK(std::chrono::steady_clock::now() - start < 4000ms); // the timeout, not the limit
}

TEST_CASE("connection: a failing write closes the connection with the write's error") {
    fixture f;
    f.peer->fail_write = 2;
    f.start();
    f.poll();
    REQUIRE(f.conn->enqueue(frame_of("first")));
    f.poll();
    REQUIRE(f.conn->enqueue(frame_of("second")));
    f.settle();
    REQUIRE(f.finished); // the parked read was aborted by closing the stream
    CHECK(f.peer->written == wire("first"));
    CHECK(f.conn->closing_reason == boost::asio::error::broken_pipe);
}

TEST_CASE("connection: finish keeps handling frames until the peer closes") {
    fixture f;
    f.start();
    f.poll();
    f.conn->finish(libnet::error::not_connected, frame_of("bye"));
    f.poll();
    CHECK(f.peer->written == wire("bye"));
    CHECK(f.peer->shut_down);
    f.peer->push(wire("answer to what came before"));
    f.poll();
    REQUIRE(f.conn->frames.size() == 1);
    CHECK(f.conn->frames[0] == "answer to what came before");
    f.peer->push(boost::asio::error::eof);
    f.settle();
    CHECK(f.finished);
}

TEST_CASE("connection: after close the input is drained unhandled until the peer closes") {
    fixture f;
    f.start();
    f.poll();
    f.conn->close(libnet::error::terminated);
    f.poll();
    f.peer->push(wire("ignored"));
    f.peer->push(boost::asio::error::eof);
    f.settle();
    CHECK(f.finished);
    CHECK(f.conn->frames.empty());
}

namespace {
// A DELIVER as its bytes, for comparing with what a connection wrote.
std::string deliver_wire(std::string_view body, std::uint64_t seq) {
    std::vector<std::uint8_t> out;
    libnet::msg::encode(libnet::msg::deliver{"peer", body, seq}, out);
    return {out.begin(), out.end()};
}
} // namespace

TEST_CASE("connection: frames encoded in place and shared frames leave in the order queued") {
    fixture f;
    f.start();
    f.poll();
    std::string expected;
    for (std::uint64_t i = 0; i < 30; ++i) {
        auto const text = "m" + std::to_string(i);
        if (i % 3 == 0) {
            REQUIRE(f.conn->enqueue(frame_of(text)));
            expected += wire(text);
        } else {
            REQUIRE(f.conn->enqueue_message(libnet::msg::deliver{"peer", text, i}));
            expected += deliver_wire(text, i);
        }
    }
    f.conn->close(libnet::error::not_connected, frame_of("last"));
    expected += wire("last");
    f.poll();
    CHECK(f.peer->written == expected);
    f.peer->push(boost::asio::error::eof);
    f.settle();
    CHECK(f.finished);
}

TEST_CASE("connection: a burst larger than one block leaves whole and in order") {
    fixture f;
    f.start();
    f.poll();
    std::string expected;
    std::string const body(5000, 'b');
    for (std::uint64_t i = 0; i < 40; ++i) { // about 200 KB: several 64 KiB blocks
        REQUIRE(f.conn->enqueue_message(libnet::msg::deliver{"peer", body, i}));
        expected += deliver_wire(body, i);
    }
    CHECK(f.conn->queued_bytes() == expected.size());
    f.poll();
    CHECK(f.peer->written == expected);
    CHECK(f.conn->queued_bytes() == 0);
    f.peer->push(boost::asio::error::eof);
    f.settle();
    CHECK(f.finished);
}

TEST_CASE("connection: a frame encoded in place past the bound drops the queue for the error") {
    auto limits = fixture::short_limits();
    limits.max_queue_bytes = 1000;
    fixture f(limits);
    f.start();
    f.poll();
    std::string const body(250, 'q'); // three fit in 1000 bytes, four do not
    REQUIRE(f.conn->enqueue_message(libnet::msg::deliver{"peer", body, 1}));
    REQUIRE(f.conn->enqueue_message(libnet::msg::deliver{"peer", body, 2}));
    REQUIRE(f.conn->enqueue_message(libnet::msg::deliver{"peer", body, 3}));
    CHECK_FALSE(f.conn->enqueue_message(libnet::msg::deliver{"peer", body, 4}));
    CHECK(f.conn->reason() == libnet::error::slow_consumer);
    f.poll();
    auto const err = libnet::detail::make_error_frame(libnet::error::slow_consumer);
    CHECK(f.peer->written == std::string(reinterpret_cast<const char*>(err.data.get()), err.size));
    f.peer->push(boost::asio::error::eof);
    f.settle();
    CHECK(f.finished);
}

namespace {

std::string joined_bytes(const std::vector<shared_frame>& frames) {
    std::string out;
    for (auto const& f : frames)
        out.append(reinterpret_cast<const char*>(f.data.get()), f.size);
    return out;
}

connection_limits keeping_unwritten() {
    auto l = fixture::short_limits();
    l.keep_unwritten = true;
    return l;
}

} // namespace

TEST_CASE("connection: keep_unwritten keeps what a failed write left, from a whole frame") {
    fixture f(keeping_unwritten());
    f.peer->write_limit = 10; // 10 bytes per write; the third write fails
    f.peer->fail_write = 3;
    f.start();
    f.poll();
    REQUIRE(f.conn->enqueue(frame_of("first")));  // 11 bytes: whole after two writes
    REQUIRE(f.conn->enqueue(frame_of("second"))); // 12: 9 of them went
    REQUIRE(f.conn->enqueue(frame_of("third")));
    f.settle();
    REQUIRE(f.finished);
    CHECK(f.peer->written == (wire("first") + wire("second")).substr(0, 20));
    CHECK(joined_bytes(f.conn->take_unwritten()) == wire("second") + wire("third"));
}

TEST_CASE("connection: keep_unwritten holds back the queue on close but finish flushes it") {
    bool const graceful = GENERATE(false, true);
    fixture f(keeping_unwritten());
    f.start();
    f.poll();
    // Queued and closed before the writer's next turn.
    REQUIRE(f.conn->enqueue(frame_of("a")));
    REQUIRE(f.conn->enqueue(frame_of("b")));
    if (graceful)
        f.conn->finish(libnet::error::not_connected, frame_of("bye"));
    else
        f.conn->close(libnet::error::heartbeat_timeout);
    f.poll();
    f.peer->push(boost::asio::error::eof);
    f.settle();
    REQUIRE(f.finished);
    if (graceful) {
        CHECK(f.peer->written == wire("a") + wire("b") + wire("bye"));
        CHECK(f.conn->take_unwritten().empty());
    } else {
        CHECK(f.peer->written.empty());
        CHECK(joined_bytes(f.conn->take_unwritten()) == wire("a") + wire("b"));
    }
}
