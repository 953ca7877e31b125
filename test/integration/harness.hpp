// SPDX-License-Identifier: BSL-1.0
#ifndef LIBNET_TEST_HARNESS_HPP
#define LIBNET_TEST_HARNESS_HPP

// Integration-test support: one io_context, a server on port 0, clients and raw sockets,
// and awaiting with deadlines (never sleeping).

#include <libnet/access.hpp>
#include <libnet/client.hpp>
#include <libnet/detail/frame_reader.hpp>
#include <libnet/server.hpp>

#include <boost/asio.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>

#include <catch2/catch.hpp>

#include <chrono>
#include <functional>
#include <map>
#include <optional>

namespace test {

namespace asio = boost::asio;
using namespace std::chrono_literals;
using asio::ip::tcp;
using libnet::error_code;
inline constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);

/// Runs `body` on a fresh io_context until it and everything it started have finished,
/// failing the test if that takes longer than `limit`.
inline void run(std::function<asio::awaitable<void>(asio::io_context&)> body,
                std::chrono::seconds limit = 20s) {
    asio::io_context ioc;
    bool done = false;
    std::exception_ptr failure;
    asio::co_spawn(ioc, body(ioc), [&](std::exception_ptr e) {
        done = true;
        failure = e;
    });
    ioc.run_for(limit);
    if (failure)
        std::rethrow_exception(failure);
    INFO("the test body did not finish in time");
    REQUIRE(done);
    INFO("the test left work running (a server or client not closed)");
    REQUIRE(ioc.stopped());
}

/// Options for test servers: the defaults, but a short close_timeout, so that stopping a
/// server whose raw test peers never close does not wait out the 2 s default.
inline libnet::server_options test_options(libnet::server_options o) {
    if (o.close_timeout == libnet::server_options{}.close_timeout)
        o.close_timeout = 250ms;
    return o;
}

/// Server options with an allow list, given as a comma-separated list (GCC 12 mishandles
/// initializer lists inside coroutines).
inline libnet::server_options allow(std::string_view ids) {
    libnet::server_options o;
    o.allow_ids = libnet::parse_id_list(ids);
    return o;
}

/// One id's secret, for server_options::secrets or server::update_access (outside the
/// coroutines: GCC 12 mishandles initializer lists inside them).
inline std::map<std::string, std::string> secret_of(std::string id, std::string secret) {
    std::map<std::string, std::string> m;
    m.emplace(std::move(id), std::move(secret));
    return m;
}

/// A server running on the test's io_context; stop() and await finished() at the end.
class server {
public:
    server(asio::io_context& ioc, libnet::server_options o = {})
        : srv_(ioc.get_executor(), test_options(std::move(o))),
          done_(ioc, std::chrono::steady_clock::time_point::max()) {
        srv_.async_run([this](error_code ec) {
            result_ = ec;
            done_.cancel();
        });
    }
    std::string port() const { return std::to_string(srv_.local_endpoint().port()); }
    libnet::server& get() { return srv_; }
    libnet::server* operator->() { return &srv_; }

    /// Waits for async_run to complete.
    asio::awaitable<void> finished(std::chrono::milliseconds limit = 5000ms) {
        done_.expires_after(limit);
        if (!result_)
            co_await done_.async_wait(use_tuple);
        INFO("server did not stop in time");
        REQUIRE(result_.has_value());
        CHECK_FALSE(*result_);
    }
    asio::awaitable<void> stop() {
        srv_.stop();
        co_await finished();
    }
    bool has_finished() const { return result_.has_value(); }

private:
    libnet::server srv_;
    asio::steady_timer done_;
    std::optional<error_code> result_;
};

/// Options for test clients: the id, and a short close_timeout (as test_options).
inline libnet::client_options with_id(std::string id) {
    libnet::client_options o;
    o.id = std::move(id);
    o.close_timeout = 250ms;
    return o;
}

/// Connects a client and asserts registration succeeded.
inline asio::awaitable<std::unique_ptr<libnet::client>> connect(asio::io_context& ioc,
                                                                const server& s, std::string id) {
    auto c = std::make_unique<libnet::client>(ioc.get_executor(), with_id(id));
    auto [ec] = co_await c->async_connect("127.0.0.1", s.port(), use_tuple);
    INFO("connect " << id << ": " << ec.message());
    REQUIRE_FALSE(ec);
    co_return c;
}

/// Connects with `o` to `s` at `host`; returns the client and the result (no assertion).
inline asio::awaitable<std::pair<std::unique_ptr<libnet::client>, error_code>>
try_connect(asio::io_context& ioc, const server& s, libnet::client_options o,
            std::string host = "127.0.0.1") {
    auto c = std::make_unique<libnet::client>(ioc.get_executor(), std::move(o));
    auto [ec] = co_await c->async_connect(host, s.port(), use_tuple);
    co_return std::pair{std::move(c), ec};
}

/// The next event within `limit`; fails the test otherwise.
inline asio::awaitable<libnet::event> next_event(libnet::client& c,
                                                 std::chrono::milliseconds limit = 5000ms) {
    auto [ec, ev] = co_await c.async_receive(limit, use_tuple);
    INFO(c.id() << ": no event: " << ec.message());
    REQUIRE_FALSE(ec);
    co_return ev;
}

/// The next event, which must be a T.
template <class T>
asio::awaitable<T> expect(libnet::client& c, std::chrono::milliseconds limit = 5000ms) {
    auto ev = co_await next_event(c, limit);
    auto* p = std::get_if<T>(&ev);
    INFO(c.id() << ": got event #" << ev.index());
    REQUIRE(p != nullptr);
    co_return std::move(*p);
}

/// Receives until the session ends; returns the end code.
inline asio::awaitable<error_code> end_of(libnet::client& c,
                                          std::chrono::milliseconds limit = 5000ms) {
    for (;;) {
        auto [ec, ev] = co_await c.async_receive(limit, use_tuple);
        if (ec)
            co_return ec;
    }
}

/// The next `n` messages, other events skipped, in arrival order.
inline asio::awaitable<std::vector<libnet::message>> messages(libnet::client& c, std::size_t n) {
    std::vector<libnet::message> out;
    while (out.size() < n) {
        auto ev = co_await next_event(c);
        if (auto* m = std::get_if<libnet::message>(&ev))
            out.push_back(std::move(*m));
    }
    co_return out;
}

inline asio::awaitable<void> close(libnet::client& c) {
    auto [ec] = co_await c.async_close(use_tuple);
    REQUIRE_FALSE(ec);
}

/// A raw TCP connection speaking frames by hand, to test what the library would never send.
class raw {
public:
    explicit raw(asio::io_context& ioc) : sock_(ioc), reader_(libnet::default_max_frame_size) {}

    /// Connects to `s`; from `local` (another loopback address, say) when given.
    asio::awaitable<void> connect(const server& s, std::string local = {}) {
        if (!local.empty()) {
            sock_.open(tcp::v4());
            sock_.bind({asio::ip::make_address(local), 0});
        }
        auto [ec] = co_await sock_.async_connect(
            {asio::ip::make_address("127.0.0.1"), static_cast<std::uint16_t>(std::stoi(s.port()))},
            use_tuple);
        REQUIRE_FALSE(ec);
    }
    asio::awaitable<void> write(const std::vector<std::uint8_t>& bytes) {
        auto [ec, n] = co_await asio::async_write(sock_, asio::buffer(bytes), use_tuple);
        REQUIRE_FALSE(ec);
    }
    template <class M>
    asio::awaitable<void> send(const M& m) {
        std::vector<std::uint8_t> b;
        libnet::msg::encode(m, b);
        co_await write(b);
    }
    /// The next frame's type and value, or nothing when the server closed (within `limit`).
    asio::awaitable<std::optional<std::pair<std::uint16_t, std::vector<std::uint8_t>>>>
    read(std::chrono::milliseconds limit = 5000ms) {
        asio::steady_timer timer(sock_.get_executor(), limit);
        for (;;) {
            auto r = reader_.next();
            REQUIRE(r.status != libnet::decode_status::error);
            if (r.status == libnet::decode_status::ok)
                co_return std::pair{r.frame.type, std::vector<std::uint8_t>(r.frame.value.begin(),
                                                                            r.frame.value.end())};
            using namespace asio::experimental::awaitable_operators;
            auto res = co_await (sock_.async_read_some(reader_.prepare(), use_tuple) ||
                                 timer.async_wait(use_tuple));
            INFO("raw read timed out");
            REQUIRE(res.index() == 0);
            auto [ec, n] = std::get<0>(res);
            if (ec)
                co_return std::nullopt;
            reader_.commit(n);
        }
    }
    /// Reads until a frame of `type` arrives (skipping others, e.g. PINGs); decodes it.
    template <class M>
    asio::awaitable<void> expect(M& out, std::vector<std::uint8_t>& storage) {
        for (;;) {
            auto f = co_await read();
            INFO("connection closed while waiting for " << libnet::to_string(M::type));
            REQUIRE(f.has_value());
            if (f->first != static_cast<std::uint16_t>(M::type))
                continue;
            storage = std::move(f->second);
            REQUIRE_FALSE(libnet::msg::decode(libnet::frame_view{f->first, storage}, out));
            co_return;
        }
    }
    /// Expects ERROR(code) and then the server closing the connection.
    asio::awaitable<void> expect_error_and_close(libnet::error code) {
        libnet::msg::error e;
        std::vector<std::uint8_t> storage;
        co_await expect(e, storage);
        CHECK(e.code == static_cast<std::uint16_t>(code));
        for (;;) {
            auto f = co_await read();
            if (!f)
                break;
        }
    }
    tcp::socket& socket() { return sock_; }

private:
    tcp::socket sock_;
    libnet::detail::frame_reader reader_;
};

/// On a server allowing only alice, with `log`: alice joins, bob is refused, alice leaves.
inline asio::awaitable<void> join_refuse_leave(asio::io_context& ioc, libnet::log_function log) {
    auto o = allow("alice");
    o.log = std::move(log);
    server s(ioc, o);
    auto a = co_await connect(ioc, s, "alice");
    auto r = co_await try_connect(ioc, s, with_id("bob"));
    CHECK(r.second == libnet::error::not_allowed);
    co_await close(*a);
    co_await s.stop();
}

} // namespace test

#endif
