// SPDX-License-Identifier: BSL-1.0
// TLS between clients and the server (docs/guide.md §12).

#include "harness.hpp"
#include "peers_harness.hpp"
#include "tls_harness.hpp"

#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/endian/conversion.hpp>

using namespace test;
using namespace boost::asio::experimental::awaitable_operators;

namespace {

libnet::server_options tls_server(const tls_dir& d, bool verify_clients = false) {
    libnet::server_options o;
    o.tls.context = libnet::make_server_context(d.files("server"), verify_clients);
    return o;
}

libnet::client_options tls_client(const tls_dir& d, std::string id, std::string identity = {}) {
    auto o = with_id(std::move(id));
    o.tls.context = libnet::make_client_context(d.files(identity));
    return o;
}

bool says(const error_code& ec, std::string_view what) {
    return ec.message().find(what) != std::string::npos;
}

} // namespace

TEST_CASE("tls: clients register and exchange messages over TLS") {
    tls_dir d;
    run([&d](asio::io_context& ioc) -> asio::awaitable<void> {
        server s(ioc, tls_server(d));
        auto [a, aec] = co_await try_connect(ioc, s, tls_client(d, "alice"));
        INFO("alice: " << aec.message());
        REQUIRE_FALSE(aec);
        // By name too: the certificate names localhost as well as 127.0.0.1.
        auto [b, bec] = co_await try_connect(ioc, s, tls_client(d, "bob"), "localhost");
        INFO("bob: " << bec.message());
        REQUIRE_FALSE(bec);
        auto joined = co_await expect<libnet::peer_joined>(*a);
        CHECK(joined.peer.id == "bob");
        std::string const body(100'000, 'x'); // several TLS records
        auto [sec] = co_await a->async_send("bob", body, use_tuple);
        CHECK_FALSE(sec);
        auto m = co_await expect<libnet::message>(*b);
        CHECK(m.from == "alice");
        CHECK(m.body == body);
        co_await close(*b);
        auto left = co_await expect<libnet::peer_left>(*a);
        CHECK(left.id == "bob");
        CHECK(left.reason == libnet::msg::leave_reason::bye); // a clean end, through TLS
        co_await close(*a);
        co_await s.stop();
    });
}

TEST_CASE("tls: mutual TLS admits a client with a certificate from the CA only") {
    tls_dir d;
    d.issue("alice", "alice");
    d.issue("stranger", "stranger", {}, std::chrono::hours(24), true);
    run([&d](asio::io_context& ioc) -> asio::awaitable<void> {
        server s(ioc, tls_server(d, true));
        auto [a, aec] = co_await try_connect(ioc, s, tls_client(d, "alice", "alice"));
        INFO("alice: " << aec.message());
        REQUIRE_FALSE(aec);
        auto [n, nec] = co_await try_connect(ioc, s, tls_client(d, "nobody"));
        INFO("without a certificate: " << nec.message());
        CHECK(nec);
        auto [x, xec] = co_await try_connect(ioc, s, tls_client(d, "stranger", "stranger"));
        INFO("certificate of another CA: " << xec.message());
        CHECK(xec);
        CHECK(s->stats().online == 1);
        co_await close(*a);
        co_await s.stop();
    });
}

TEST_CASE("tls: a client refuses a server certificate it cannot verify") {
    tls_dir d;
    d.issue("expired", "localhost", {"IP:127.0.0.1"}, std::chrono::seconds(-60));
    d.issue("other", "localhost", {"IP:127.0.0.1"}, std::chrono::hours(24), true);
    d.issue("misnamed", "elsewhere", {"DNS:elsewhere"});
    for (std::string const name : {"expired", "other", "misnamed"}) {
        DYNAMIC_SECTION(name) {
            run([&d, name](asio::io_context& ioc) -> asio::awaitable<void> {
                libnet::server_options o;
                o.tls.context = libnet::make_server_context(d.files(name), false);
                server s(ioc, std::move(o));
                auto [c, ec] = co_await try_connect(ioc, s, tls_client(d, "alice"));
                INFO(ec.message());
                CHECK(ec.category() == asio::error::get_ssl_category());
                CHECK(says(ec, "certificate verify failed"));
                CHECK(s->stats().online == 0);
                co_await s.stop();
            });
        }
    }
}

TEST_CASE("tls: plain text and TLS meeting on one port fail clearly on both sides") {
    tls_dir d;
    run([&d](asio::io_context& ioc) -> asio::awaitable<void> {
        std::vector<std::string> lines;
        auto o = tls_server(d);
        o.log = [&lines](libnet::log_level, std::string_view line) {
            lines.emplace_back(line);
        };
        server tls(ioc, std::move(o));
        auto [p, pec] = co_await try_connect(ioc, tls, with_id("plain"));
        CHECK(pec == libnet::error::tls_required);
        bool logged = false;
        for (auto const& l : lines)
            logged = logged || l.find("TLS required") != std::string::npos;
        CHECK(logged);

        server plain(ioc);
        auto [t, tec] = co_await try_connect(ioc, plain, tls_client(d, "tls"));
        INFO(tec.message());
        CHECK(tec.category() == asio::error::get_ssl_category());
        CHECK(plain->stats().online == 0);
        co_await tls.stop();
        co_await plain.stop();
    });
}

TEST_CASE("tls: with identity mapping a client registers only under its certificate's name") {
    tls_dir d;
    d.issue("alice", "alice", {"DNS:alice.example"});
    run([&d](asio::io_context& ioc) -> asio::awaitable<void> {
        auto o = tls_server(d, true);
        o.tls.map_identity = true;
        server s(ioc, std::move(o));
        auto [a, aec] = co_await try_connect(ioc, s, tls_client(d, "alice", "alice"));
        CHECK_FALSE(aec);
        auto [b, bec] = co_await try_connect(ioc, s, tls_client(d, "alice.example", "alice"));
        CHECK_FALSE(bec);
        auto [m, mec] = co_await try_connect(ioc, s, tls_client(d, "mallory", "alice"));
        CHECK(mec == libnet::error::not_permitted);
        auto [e, eec] = co_await try_connect(ioc, s, tls_client(d, "", "alice"));
        CHECK(eec == libnet::error::not_permitted); // a server-assigned id names no certificate
        co_await close(*a);
        co_await close(*b);
        co_await s.stop();
    });
}

TEST_CASE("tls: a server with TLS refuses to open UDP whose sessions would travel in clear") {
    tls_dir d;
    asio::io_context ioc;
    auto o = tls_server(d);
    o.udp.enabled = true;
    CHECK_THROWS_WITH(libnet::server(ioc.get_executor(), o),
                      Catch::Contains("UDP has no encryption"));
    o.udp.enabled = false;
    CHECK_NOTHROW(libnet::server(ioc.get_executor(), o));
}

TEST_CASE("tls: a handshake that never comes is cut at the handshake timeout") {
    tls_dir d;
    run([&d](asio::io_context& ioc) -> asio::awaitable<void> {
        auto o = tls_server(d);
        o.tls.handshake_timeout = 200ms;
        server s(ioc, std::move(o));
        tcp::socket silent(ioc);
        co_await silent.async_connect(
            {asio::ip::make_address("127.0.0.1"), static_cast<std::uint16_t>(std::stoi(s.port()))},
            asio::use_awaitable);
        char byte = 0;
        asio::steady_timer limit(ioc, 5s);
        auto r = co_await (silent.async_read_some(asio::buffer(&byte, 1), use_tuple) ||
                           limit.async_wait(use_tuple));
        INFO("the server did not close the silent connection");
        REQUIRE(r.index() == 0);
        CHECK(std::get<0>(std::get<0>(r)) == asio::error::eof);
        co_await s.stop();
    });
}

namespace {

// A TCP relay that keeps a copy of every byte it passes, both ways: what an eavesdropper
// on the wire sees.
class tap {
public:
    explicit tap(asio::io_context& ioc)
        : acceptor_(ioc, {asio::ip::make_address("127.0.0.1"), 0}),
          done_(ioc, asio::steady_timer::time_point::max()) {}
    std::string port() const { return std::to_string(acceptor_.local_endpoint().port()); }
    const std::string& seen() const { return *seen_; }

    /// Starts relaying one connection to port `to` of 127.0.0.1.
    void start(std::string to) {
        asio::co_spawn(acceptor_.get_executor(), relay(std::move(to)),
                       [this](std::exception_ptr e) {
                           failure_ = e;
                           finished_ = true;
                           done_.cancel();
                       });
    }
    /// Waits until both directions have ended.
    asio::awaitable<void> finished() {
        if (!finished_)
            co_await done_.async_wait(use_tuple);
        if (failure_)
            std::rethrow_exception(failure_);
    }

private:
    // Relays one connection to `to`; ends when both directions have.
    asio::awaitable<void> relay(std::string to) {
        auto ex = co_await asio::this_coro::executor;
        auto in =
            std::make_shared<tcp::socket>(co_await acceptor_.async_accept(asio::use_awaitable));
        auto out = std::make_shared<tcp::socket>(ex);
        co_await out->async_connect(
            {asio::ip::make_address("127.0.0.1"), static_cast<std::uint16_t>(std::stoi(to))},
            asio::use_awaitable);
        co_await (pump(in, out, seen_) && pump(out, in, seen_));
    }

    static asio::awaitable<void> pump(std::shared_ptr<tcp::socket> from,
                                      std::shared_ptr<tcp::socket> to,
                                      std::shared_ptr<std::string> seen) {
        std::vector<char> buf(16 * 1024);
        for (;;) {
            auto [ec, n] = co_await from->async_read_some(asio::buffer(buf), use_tuple);
            seen->append(buf.data(), n);
            if (ec)
                break;
            auto [wec, w] = co_await asio::async_write(*to, asio::buffer(buf.data(), n), use_tuple);
            if (wec)
                break;
        }
        boost::system::error_code ignored;
        to->shutdown(tcp::socket::shutdown_send, ignored);
    }

    tcp::acceptor acceptor_;
    asio::steady_timer done_;
    bool finished_ = false;
    std::exception_ptr failure_;
    std::shared_ptr<std::string> seen_ = std::make_shared<std::string>();
};

} // namespace

TEST_CASE("tls: an eavesdropper on the wire reads neither secrets nor messages") {
    auto const with_tls = GENERATE(true, false); // without: the control, the tap does see them
    tls_dir d;
    run([&d, with_tls](asio::io_context& ioc) -> asio::awaitable<void> {
        libnet::server_options o;
        if (with_tls)
            o = tls_server(d);
        o.secrets["alice"] = "open sesame";
        server s(ioc, std::move(o));
        auto bo = with_id("bob");
        if (with_tls)
            bo = tls_client(d, "bob");
        auto [b, bec] = co_await try_connect(ioc, s, std::move(bo));
        REQUIRE_FALSE(bec);
        tap t(ioc);
        t.start(s.port());
        auto ao = with_id("alice");
        if (with_tls)
            ao = tls_client(d, "alice");
        ao.credentials = "open sesame";
        auto a = std::make_unique<libnet::client>(ioc.get_executor(), std::move(ao));
        auto [ec] = co_await a->async_connect("127.0.0.1", t.port(), use_tuple);
        INFO(ec.message());
        REQUIRE_FALSE(ec);
        auto [sec] = co_await a->async_send("bob", "the plans are in the red folder", use_tuple);
        CHECK_FALSE(sec);
        auto got = co_await messages(*b, 1);
        CHECK(got.at(0).body == "the plans are in the red folder");
        co_await close(*a);
        co_await t.finished();
        INFO((with_tls ? "with TLS" : "plain") << ", " << t.seen().size() << " bytes seen");
        CHECK(t.seen().size() > 100);
        bool const readable = t.seen().find("red folder") != std::string::npos ||
                              t.seen().find("open sesame") != std::string::npos;
        CHECK(readable == !with_tls);
        co_await close(*b);
        co_await s.stop();
    });
}

TEST_CASE("tls: traffic on a direct link is unreadable on the wire") {
    auto const encrypted = GENERATE(true, false); // false: the control, the tap reads it
    run([encrypted](asio::io_context& ioc) -> asio::awaitable<void> {
        server s(ioc);
        tap t(ioc); // bob advertises the tap, which relays to where bob listens
        auto bo = with_id("bob");
        bo.listen = "127.0.0.1:0";
        bo.advertise = "127.0.0.1:" + t.port();
        bo.encrypt_links = encrypted;
        auto [b, bec] = co_await try_connect(ioc, s, std::move(bo));
        REQUIRE_FALSE(bec);
        auto const listening = b->listen_endpoint();
        t.start(listening.substr(listening.rfind(':') + 1));
        auto ao = with_id("alice");
        ao.encrypt_links = encrypted;
        auto [a, aec] = co_await try_connect(ioc, s, std::move(ao));
        REQUIRE_FALSE(aec);
        auto [lec] = co_await a->async_connect_peer("bob", use_tuple);
        INFO(lec.message());
        REQUIRE_FALSE(lec);
        auto [sec] = co_await a->async_send("bob", "meet at the north gate", use_tuple);
        CHECK_FALSE(sec);
        auto got = co_await messages(*b, 1);
        CHECK(got.at(0).body == "meet at the north gate");
        CHECK(got.at(0).via == libnet::route::direct);
        co_await close(*a);
        co_await close(*b);
        co_await t.finished();
        INFO((encrypted ? "encrypted" : "plain") << ", " << t.seen().size() << " bytes seen");
        CHECK(t.seen().size() > 100);
        CHECK((t.seen().find("north gate") == std::string::npos) == encrypted);
        co_await s.stop();
    });
}

namespace {

// Dials a TLS link endpoint presenting certificate `me`, sends PEER_HELLO(mallory, token)
// and returns the acceptor's ERROR code, or 0 for PEER_WELCOME.
asio::awaitable<std::uint16_t> tls_peer_hello(asio::io_context& ioc, std::string endpoint,
                                              libnet::detail::pem_identity me, std::string token) {
    asio::ssl::context ctx(asio::ssl::context::tls_client);
    ctx.use_certificate_chain(asio::buffer(me.cert));
    ctx.use_private_key(asio::buffer(me.key), asio::ssl::context::pem);
    ctx.set_verify_mode(asio::ssl::verify_none); // the acceptor's key is not what is tested
    asio::ssl::stream<tcp::socket> link(ioc, ctx);
    co_await link.next_layer().async_connect(parse_endpoint(endpoint), asio::use_awaitable);
    co_await link.async_handshake(asio::ssl::stream_base::client, asio::use_awaitable);
    std::vector<std::uint8_t> hello;
    libnet::msg::encode(libnet::msg::peer_hello{libnet::protocol_version, "mallory", token, 42},
                        hello);
    co_await asio::async_write(link, asio::buffer(hello), asio::use_awaitable);
    std::vector<std::uint8_t> frame(libnet::frame_header_size);
    co_await asio::async_read(link, asio::buffer(frame), asio::use_awaitable);
    auto const type = boost::endian::load_big_u16(frame.data());
    auto const length = boost::endian::load_big_u32(frame.data() + 2);
    REQUIRE(length < 4096);
    frame.resize(libnet::frame_header_size + length);
    co_await asio::async_read(link, asio::buffer(frame.data() + libnet::frame_header_size, length),
                              asio::use_awaitable);
    if (type == static_cast<std::uint16_t>(libnet::frame_type::peer_welcome))
        co_return 0;
    REQUIRE(type == static_cast<std::uint16_t>(libnet::frame_type::error));
    libnet::msg::error e;
    auto const* value = frame.data() + libnet::frame_header_size;
    std::span<const std::uint8_t> const bytes(value, length);
    libnet::frame_view const view{type, bytes};
    auto const decoded = libnet::msg::decode(view, e);
    REQUIRE_FALSE(decoded);
    co_return e.code;
}

} // namespace

TEST_CASE("tls: a link token presented with another key than the dialer's is refused") {
    auto const mallory_key = libnet::detail::make_certificate({"mallory", {}});
    auto const thief_key = libnet::detail::make_certificate({"thief", {}});
    run([mallory_key, thief_key](asio::io_context& ioc) -> asio::awaitable<void> {
        server s(ioc);
        auto bo = with_id("bob");
        bo.listen = "127.0.0.1:0";
        auto [bob, bec] = co_await try_connect(ioc, s, std::move(bo));
        REQUIRE_FALSE(bec);
        raw mallory(ioc);
        co_await mallory.connect(s);
        libnet::msg::hello hello;
        hello.id = "mallory";
        co_await mallory.send(hello);
        libnet::msg::directory d;
        std::vector<std::uint8_t> storage;
        co_await mallory.expect(d, storage);
        auto const fingerprint = libnet::detail::certificate_fingerprint(mallory_key.cert);
        co_await mallory.send(libnet::msg::intro_request{"bob", 7, fingerprint});
        libnet::msg::introduction in;
        co_await mallory.expect(in, storage);
        CHECK(in.link_key.size() == 32); // bob links over TLS: pin its key
        std::string const token(in.token), endpoint(in.endpoint);

        auto const auth_failed = static_cast<std::uint16_t>(libnet::error::auth_failed);
        auto stolen = co_await tls_peer_hello(ioc, endpoint, thief_key, token);
        CHECK(stolen == auth_failed);
        auto own = co_await tls_peer_hello(ioc, endpoint, mallory_key, token);
        CHECK(own == 0); // the same token, with the key it was issued for
        co_await close(*bob);
        co_await s.stop();
    });
}
