// SPDX-License-Identifier: BSL-1.0
// Connecting and registering: the connection to the server, HELLO, and WELCOME with the
// directory snapshot (docs/protocol.md §6).

#include "../udp/connect.hpp"
#include "core.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <limits>

namespace libnet::detail {

namespace asio = boost::asio;
using asio::ip::tcp;
using namespace asio::experimental::awaitable_operators;
using clock = std::chrono::steady_clock;

namespace {

std::uint16_t hello_flags(const client_options& o) {
    std::uint16_t f = 0;
    if (o.pull)
        f |= msg::hello_pull;
    if (!o.directory)
        f |= msg::hello_no_directory;
    return f;
}
constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);

connection_limits limits_for(const client_options& o) {
    connection_limits l;
    l.max_frame = o.max_frame;
    // No bound at this level: the outbound part holds sends back until there is room.
    l.max_queue_bytes = std::numeric_limits<std::size_t>::max();
    l.close_timeout = o.close_timeout;
    l.coalesce_turns = 8;
    l.keep_unwritten = o.reconnect.enabled; // sent again on the next connection
    return l;
}
// The client side of TLS: SNI and the name the server's certificate must carry.
asio::awaitable<error_code> handshake(transport::tls_stream& tls, std::string name) {
    if (!SSL_set_tlsext_host_name(tls.native_handle(), name.c_str()))
        co_return error_code(asio::ssl::error::unspecified_system_error);
    tls.set_verify_callback(asio::ssl::host_name_verification(name));
    auto [ec] = co_await tls.async_handshake(asio::ssl::stream_base::client, use_tuple);
    co_return ec;
}
} // namespace

client_connection::client_connection(transport stream, const client_options& o, client_core* core)
    : connection(std::move(stream), limits_for(o)), core_(core) {}

void client_connection::on_frame(frame_view f) {
    try {
        core_->on_frame(f);
    } catch (...) { // from a hook
        core_->hook_failed(std::current_exception());
    }
}
void client_connection::on_closing(error_code reason) {
    core_->on_closing(*this, reason);
}
void client_connection::on_written(std::uint64_t written) {
    core_->on_written(written);
}
bool client_connection::want_read() {
    return core_->want_read();
}

void client_core::connect(std::string host, std::string port, pending<> op) {
    if (state_ != state::idle)
        return op.complete(ex_, asio::error::already_started);
    state_ = state::connecting;
    host_ = host;
    port_ = port;
    spawn(connect_session(std::move(host), std::move(port), false), std::move(op));
}

// The server's address as async_connect was given it: "udp://" first picks UDP.
static bool take_udp_scheme(std::string& host) {
    constexpr std::string_view scheme = "udp://";
    if (!host.starts_with(scheme))
        return false;
    host.erase(0, scheme.size());
    return true;
}

asio::awaitable<client_core::dialed> client_core::dial_tcp(std::string host, std::string port) {
    auto& timer = connect_timer_;
    tcp::resolver resolver(ex_);
    auto resolved =
        co_await (resolver.async_resolve(host, port, use_tuple) || timer.async_wait(use_tuple));
    if (resolved.index() == 1)
        co_return dialed::failed(asio::error::timed_out);
    auto [rec, endpoints] = std::get<0>(resolved);
    if (rec || aborting_)
        co_return dialed::failed(rec);
    tcp::socket socket(ex_);
    auto connected =
        co_await (asio::async_connect(socket, endpoints, use_tuple) || timer.async_wait(use_tuple));
    if (connected.index() == 1)
        co_return dialed::failed(asio::error::timed_out);
    if (auto ec = std::get<0>(std::get<0>(connected)))
        co_return dialed::failed(ec);
    boost::system::error_code ignored;
    auto const local = socket.local_endpoint(ignored);
    dialed d; // built in place: GCC 12 and braced temporaries in coroutines
    d.stream.emplace(std::move(socket));
    d.local = local;
    co_return d;
}

asio::awaitable<client_core::dialed> client_core::dial_udp(std::string host, std::string port,
                                                           clock::time_point deadline) {
    if (options_.tls.context) // DTLS is not there yet: never fall back to plain text
        co_return dialed::failed(asio::error::operation_not_supported);
    auto& timer = connect_timer_;
    asio::ip::udp::resolver resolver(ex_);
    auto resolved =
        co_await (resolver.async_resolve(host, port, use_tuple) || timer.async_wait(use_tuple));
    if (resolved.index() == 1)
        co_return dialed::failed(asio::error::timed_out);
    auto [rec, endpoints] = std::get<0>(resolved);
    if (rec || aborting_)
        co_return dialed::failed(rec);
    auto const to = endpoints.begin()->endpoint();
    auto opened =
        co_await (udp::connect(ex_, to, options_.udp, deadline) || timer.async_wait(use_tuple));
    if (opened.index() == 1)
        co_return dialed::failed(asio::error::timed_out);
    auto c = std::move(std::get<0>(opened));
    if (c.ec)
        co_return dialed::failed(c.ec);
    if (aborting_) {
        c.stream->close();
        co_return dialed::failed({});
    }
    dialed d;
    d.stream.emplace(std::move(c.stream));
    d.local = tcp::endpoint(c.local, 0); // where links are advertised when listening on all
    co_return d;
}

asio::awaitable<error_code> client_core::connect_session(std::string host, std::string port,
                                                         bool again) {
    auto const deadline = clock::now() + options_.connect_timeout;
    auto& timer = connect_timer_;
    timer.expires_at(deadline);
    auto given_up = [this, again](error_code ec) {
        if (again) // the reconnection loop decides what comes next
            return aborting_ ? error_code(asio::error::operation_aborted) : ec;
        state_ = aborting_ ? state::finished : state::idle;
        finished_signal_.cancel();
        return aborting_ ? error_code(asio::error::operation_aborted) : ec;
    };

    bool const over_udp = take_udp_scheme(host) || options_.over_udp;
    dialed d;
    if (over_udp)
        d = co_await dial_udp(host, port, deadline);
    else
        d = co_await dial_tcp(host, port);
    if (d.ec || aborting_ || !d.stream)
        co_return given_up(d.ec);
    advertise_ = options_.advertise;
    std::string hello_key;
    if (!options_.listen.empty()) {
        hello_key = link_key(); // before the first link can be accepted
        if (auto ec = start_listening(d.local))
            co_return given_up(ec);
    }

    auto stream = std::move(*d.stream);
    if (options_.tls.context && !over_udp) {
        auto const& name = options_.tls.server_name.empty() ? host : options_.tls.server_name;
        stream = transport(std::move(stream.socket()), *options_.tls.context);
        auto shook = co_await (handshake(*stream.tls(), name) || timer.async_wait(use_tuple));
        if (shook.index() == 1)
            co_return given_up(asio::error::timed_out);
        if (auto ec = std::get<0>(shook))
            co_return given_up(ec);
        if (aborting_)
            co_return given_up({});
    }
    conn_ = std::make_shared<client_connection>(std::move(stream), options_, this);
    if (!again) // a new session's sends go out at once; a resumed one's after registering
        out_.attach(conn_);
    spawn([](std::shared_ptr<client_core> self,
             std::shared_ptr<client_connection> c) -> asio::awaitable<void> {
        co_await c->run();
        self->on_finished(*c);
    }(shared_from_this(), conn_));
    // Again: the server forgets what the application has taken, and sends the rest again
    // (what is still queued here is recognised and dropped).
    auto const resume_after = again ? mailbox_.last_delivered() : options_.resume_after;
    if (again)
        mailbox_.resuming(resume_after);
    else
        mailbox_.resume(resume_after);
    auto const id = again ? this->id() : options_.id;
    conn_->enqueue(make_frame(msg::hello{protocol_version, id, advertise_, options_.credentials,
                                         hello_flags(options_), resume_after, hello_key}));

    state_signal_.expires_at(deadline);
    while (state_ == state::connecting) {
        auto [ec] = co_await state_signal_.async_wait(use_tuple);
        if (!ec && state_ == state::connecting) {
            fail_registration(asio::error::timed_out);
            co_return asio::error::timed_out;
        }
    }
    if (again)
        co_return state_ == state::registered ? error_code{} : not_open();
    co_return registered_once_ ? error_code{} : not_open();
}

void client_core::registered() {
    state_ = state::registered;
    registered_once_ = true;
    connected_ = true;
    events_.open();
    state_signal_.cancel();
    if (reconnecting_)
        resumed(); // in this turn: a close right after must see the session as it is
}

void client_core::fail_registration(error_code ec) {
    end_reason_ = ec;
    state_ = state::closing;
    conn_->close(ec);
    state_signal_.cancel();
}

void client_core::on_registration_frame(frame_view f) {
    switch (f.core_type()) {
    case frame_type::welcome: {
        msg::welcome w;
        if (auto ec = msg::decode(f, w))
            return fail_registration(ec);
        {
            std::lock_guard lock(info_mutex_);
            id_ = w.id;
        }
        server_max_frame_ = w.max_frame;
        mailbox_.welcome((w.flags & msg::welcome_mailbox) != 0, w.seq);
        peer_key_ = std::string(w.peer_key);
        heartbeat_ = std::chrono::milliseconds(w.heartbeat_ms);
        heartbeat_misses_ = w.heartbeat_misses;
        conn_->set_heartbeat(heartbeat_, heartbeat_misses_);
        if (!options_.directory) // no snapshot comes: registered now
            registered();
        else if ((w.flags & msg::welcome_barrier) != 0)
            state_signal_.expires_at(clock::time_point::max()); // heartbeats guard the wait
        return;
    }
    case frame_type::term: { // the server stopped before its barrier opened
        msg::term t;
        if (auto ec = msg::decode(f, t))
            return fail_registration(ec);
        return fail_registration(error::terminated);
    }
    case frame_type::directory: {
        msg::directory d;
        if (auto ec = msg::decode(f, d))
            return fail_registration(ec);
        if (reconnecting_) {
            catch_up(d);
            registered();
            return;
        }
        {
            std::lock_guard lock(info_mutex_);
            directory_.clear();
            for (auto const& e : d.entries)
                directory_.push_back({std::string(e.id), e.join_seq, std::string(e.endpoint)});
        }
        for (auto const& e : d.entries) {
            links_.joined(std::string(e.id), e.join_seq, std::string(e.endpoint));
            if (e.id == id_)
                join_seq_ = e.join_seq;
        }
        registered();
        return;
    }
    case frame_type::error: {
        msg::error e;
        if (auto ec = msg::decode(f, e))
            return fail_registration(ec);
        return fail_registration(from_wire(e.code));
    }
    default:
        return fail_registration(error::unexpected_frame);
    }
}

void client_core::abort_connect() {
    aborting_ = true;
    // In the past rather than cancelled: a wait that has not started yet ends at once too.
    connect_timer_.expires_at(clock::time_point::min());
    if (conn_)
        fail_registration(asio::error::operation_aborted);
}

} // namespace libnet::detail
