// SPDX-License-Identifier: BSL-1.0
#include "core.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <algorithm>
#include <stdexcept>

namespace libnet::detail {

namespace asio = boost::asio;
using asio::ip::tcp;
using namespace asio::experimental::awaitable_operators;

namespace {

constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);

// The coroutines' log lines, out of them: GCC 12 mishandles braced lists inside a coroutine.
void log_listening(const server_core& core, std::string_view transport,
                   const std::string& address) {
    if (!core.logging())
        return;
    auto const text = (transport == "udp" ? "listening on udp " : "listening on ") + address;
    core.log(log_level::info, "server.listening", text,
             {{"address", address}, {"transport", transport}});
}

void log_accept_failed(const server_core& core, const boost::system::error_code& ec) {
    if (!core.logging())
        return;
    auto const why = ec.message();
    core.log(log_level::warn, "server.accept_failed", "accept: " + why, {{"reason", why}});
}

void log_session_failed(const server_core& core, const server_session& s, std::string_view why) {
    if (!core.logging())
        return;
    auto const address = endpoint_string(s.remote_endpoint());
    auto const text = "session failed: " + std::string(why);
    if (s.id().empty())
        core.log(log_level::error, "session.failed", text, {{"address", address}, {"reason", why}});
    else
        core.log(log_level::error, "session.failed", text,
                 {{"id", s.id()}, {"address", address}, {"reason", why}});
}

tcp::endpoint resolve(asio::any_io_executor ex, const server_options& o) {
    tcp::resolver resolver(ex);
    auto results = resolver.resolve(o.host, std::to_string(o.port),
                                    tcp::resolver::passive | tcp::resolver::numeric_service);
    return results.begin()->endpoint();
}

} // namespace

server_core::server_core(asio::any_io_executor ex, server_options options)
    : ex_(ex), strand_(asio::make_strand(ex)), options_(std::move(options)), acceptor_(strand_),
      drained_(strand_), idle_timer_(strand_), backoff_timer_(strand_),
      directory_(options_.max_frame), guard_(options_.guesses), expiry_timer_(strand_),
      idle_since_(std::chrono::steady_clock::now()) {
    if (options_.max_frame < min_max_frame_size)
        throw std::invalid_argument("max_frame " + std::to_string(options_.max_frame) +
                                    " is below the protocol's minimum, " +
                                    std::to_string(min_max_frame_size));
    if (options_.barrier != 0 && !options_.cluster.servers.empty())
        throw std::invalid_argument("a barrier is for one server, not a cluster");
    if (options_.udp.enabled && options_.tls.context)
        throw std::invalid_argument("UDP has no encryption (no DTLS yet): a server with TLS "
                                    "takes no UDP clients");
    barrier_open_.store(options_.barrier == 0, std::memory_order_relaxed);
    load_store();
    auto const ep = resolve(ex, options_);
    acceptor_.open(ep.protocol());
    acceptor_.set_option(tcp::acceptor::reuse_address(true));
    acceptor_.bind(ep);
    acceptor_.listen(options_.backlog);
    acceptor_.non_blocking(true); // accept_ready() takes every waiting connection at once
    endpoint_ = acceptor_.local_endpoint();
    if (options_.udp.enabled)
        open_udp();
    if (!options_.cluster.servers.empty()) {
        if (options_.store)
            throw std::invalid_argument("a cluster keeps its mailboxes in NATS: drop the store");
        cluster_ = std::make_unique<cluster>(ex, options_.cluster, endpoint_.port(),
                                             static_cast<cluster_events&>(*this));
        shared_mail_ = has_mailboxes_;
        if (shared_mail_)
            cluster_->keep_mailboxes({options_.mailbox_max_messages, options_.message_ttl,
                                      static_cast<std::uint32_t>(options_.max_frame + 1024)});
        cluster_->connect();
    }
}

server_core::~server_core() {
    cluster_.reset(); // before anything its callbacks use
    if (udp_)
        udp_->close();
}

void server_core::open_udp() {
    auto o = options_;
    o.host = options_.udp.host.empty() ? options_.host : options_.udp.host;
    o.port = options_.udp.port;
    auto const ep = resolve(ex_, o);
    udp_ = std::make_shared<udp::listener>(ex_, udp::listener::endpoint(ep.address(), ep.port()),
                                           options_.udp, [this] { return session_strand(); });
}

asio::awaitable<error_code> server_core::run() {
    if (cluster_)
        cluster_->start();
    log_listening(*this, "tcp", endpoint_string(endpoint_));
    if (udp_) {
        log_listening(*this, "udp", endpoint_string(udp_endpoint()));
        udp_->start([weak = weak_from_this()](std::shared_ptr<udp::stream> s) {
            if (auto self = weak.lock())
                self->start_session(std::move(s));
            else
                asio::post(s->get_executor(), [s] { s->close(); });
        });
    }
    {
        std::lock_guard lock(mutex_);
        idle_since_ = std::chrono::steady_clock::now(); // idle time counts from the run
    }
    if (!mailboxes_.empty() || durable_)
        asio::co_spawn(
            strand_,
            [](std::shared_ptr<server_core> self) -> asio::awaitable<void> {
                co_await self->expiry_watch();
            }(shared_from_this()),
            asio::detached);
    if (options_.idle_timeout.count() > 0)
        co_await (accept_loop() || idle_watch());
    else
        co_await accept_loop();
    for (;;) {
        {
            std::lock_guard lock(mutex_);
            if (sessions_.empty())
                break;
        }
        drained_.expires_at(std::chrono::steady_clock::time_point::max());
        co_await drained_.async_wait(use_tuple);
    }
    if (udp_)
        udp_->close();
    store_->flush(); // what was confirmed is committed; the rest gets its chance
    if (cluster_)
        cluster_->stop(); // the other nodes see our clients leave
    log(log_level::info, "server.stopped", "stopped");
    co_return error_code{};
}

asio::awaitable<void> server_core::accept_loop() {
    for (;;) {
        auto [ec, socket] = co_await acceptor_.async_accept(session_strand(), use_tuple);
        if (!ec) {
            start_session(std::move(socket)); // refused with shutting_down when stopping
            accept_ready();
            continue;
        }
        if (ec == asio::error::operation_aborted || !acceptor_.is_open())
            co_return;
        // Out of descriptors and the like: back off instead of spinning.
        log_accept_failed(*this, ec);
        backoff_timer_.expires_after(std::chrono::milliseconds(100));
        co_await backoff_timer_.async_wait(use_tuple);
    }
}

asio::awaitable<void> server_core::idle_watch() {
    for (;;) {
        auto wake = std::chrono::steady_clock::now() + options_.idle_timeout;
        {
            std::lock_guard lock(mutex_);
            if (stopping_)
                co_return;
            if (directory_.members().empty())
                wake = idle_since_ + options_.idle_timeout;
        }
        if (wake <= std::chrono::steady_clock::now()) {
            log(log_level::info, "server.idle_timeout", "idle timeout");
            stop(msg::term_reason::idle);
            co_return;
        }
        idle_timer_.expires_at(wake);
        co_await idle_timer_.async_wait(use_tuple);
    }
}

// A new session's strand. On an io_context, the strand wraps its executor directly: then it
// fits inside any_io_executor's own storage, and the copies Asio makes for every
// operation's completion cost no allocation (a strand over any_io_executor does not fit).
asio::any_io_executor server_core::session_strand() const {
    if (auto const* io = ex_.target<asio::io_context::executor_type>())
        return asio::make_strand(*io);
    return asio::make_strand(ex_);
}

// Takes every connection already waiting, so that a join storm's backlog is emptied each
// time the acceptor gets its turn, not one connection per trip through the run queue.
void server_core::accept_ready() {
    for (std::size_t n = 0; n < 1024; ++n) {
        tcp::socket socket(session_strand());
        boost::system::error_code ec;
        acceptor_.accept(socket, ec);
        if (ec)
            return; // would_block: none left; other errors: async_accept reports them
        start_session(std::move(socket));
    }
}

void server_core::announce() {
    // Behind a closed barrier joins and leaves pile up; its opening announces them at once.
    if (!directory_.due() || !barrier_open_.load(std::memory_order_relaxed))
        return;
    welcomed_.clear();
    directory_.announce(welcomed_);
    bool mail = false;
    for (auto const& s : welcomed_)
        if (s->mailbox_) {
            pump(*s->mailbox_);
            mail = true;
        }
    welcomed_.clear();
    if (mail)
        commit(); // expired mail met on the way
}

void server_core::announce_now() {
    std::lock_guard lock(mutex_);
    announce();
}

// Posted, not run: every registration handled before it runs joins the same batch.
void server_core::announce_soon() {
    asio::post(strand_, [self = shared_from_this()] { self->announce_now(); });
}

void server_core::start_session(tcp::socket socket) {
    connections_.fetch_add(1, std::memory_order_relaxed);
    if (options_.on_accept) {
        boost::system::error_code ec;
        auto const remote = socket.remote_endpoint(ec);
        if (ec || !options_.on_accept(remote)) {
            if (logging()) {
                auto const address = endpoint_string(remote);
                log(log_level::info, "connection.refused", "refused connection from " + address,
                    {{"address", address}, {"reason", "on_accept"}});
            }
            socket.close(ec);
            return;
        }
    }
    if (options_.tls.context)
        return asio::co_spawn(socket.get_executor(),
                              tls_accept(shared_from_this(), std::move(socket)), asio::detached);
    open_session(transport(std::move(socket)));
}

// A UDP session whose client proved its address (the listener's strand).
void server_core::start_session(std::shared_ptr<udp::stream> stream) {
    connections_.fetch_add(1, std::memory_order_relaxed);
    if (options_.on_accept) {
        auto const& peer = stream->peer();
        tcp::endpoint const remote(peer.address(), peer.port());
        if (!options_.on_accept(remote)) {
            if (logging()) {
                auto const address = endpoint_string(remote);
                log(log_level::info, "connection.refused", "refused udp session from " + address,
                    {{"address", address}, {"reason", "on_accept"}});
            }
            asio::post(stream->get_executor(), [stream] { stream->close(); }); // a RESET
            return;
        }
    }
    open_session(transport(std::move(stream)));
}

void server_core::open_session(transport stream, std::vector<std::string> names) {
    auto s = std::make_shared<server_session>(std::move(stream), this);
    s->cert_names_ = std::move(names);
    if (options_.guesses.unregistered_per_address != 0) { // off by default: no cost
        auto const address = s->remote_endpoint().address().to_string();
        if (guard_.opened(address)) {
            s->unsettled_ = true;
        } else {
            if (logging()) {
                auto const why = "too many connections waiting to register";
                auto const from = endpoint_string(s->remote_endpoint());
                log(log_level::info, "connection.refused",
                    "refused connection from " + address + ": " + why,
                    {{"address", from}, {"reason", why}, {"code", to_string(error::rate_limited)}});
            }
            s->close(error::rate_limited, make_error_frame(error::rate_limited));
        }
    }
    {
        std::lock_guard lock(mutex_);
        if (stopping_) {
            s->close(error::shutting_down, make_error_frame(error::shutting_down));
        }
        sessions_.insert(s);
    }
    if (logging()) {
        auto const address = endpoint_string(s->remote_endpoint());
        log(log_level::debug, "connection.accepted", "connection from " + address,
            {{"address", address}});
    }
    asio::co_spawn(
        s->get_executor(),
        // The session's coroutine owns the core; the session only points at it, so an
        // io_context destroyed mid-session leaves no ownership cycle behind.
        [](std::shared_ptr<server_core> core, std::shared_ptr<server_session> s,
           std::chrono::milliseconds hello_timeout) -> asio::awaitable<void> {
            s->set_deadline(std::chrono::steady_clock::now() + hello_timeout, error::hello_timeout);
            try {
                co_await s->run();
            } catch (const std::exception& e) { // bad_alloc, a throwing log function...
                log_session_failed(*core, *s, e.what());
            }
            core->session_ended(s); // always, or the server would never drain
        }(shared_from_this(), s, options_.hello_timeout),
        asio::detached);
}

void server_core::session_ended(const std::shared_ptr<server_session>& s) {
    settle(*s);
    unregister(*s, msg::leave_reason::closed); // no-op when on_closing did it
    s->route_cache_ = {}; // two sessions remembering each other must not keep both alive
    std::lock_guard lock(mutex_);
    sessions_.erase(s);
    if (sessions_.empty() && stopping_)
        asio::post(strand_, [self = shared_from_this()] { self->drained_.cancel(); });
}

void server_core::stop(msg::term_reason reason, std::string_view by, std::string_view text) {
    {
        std::lock_guard lock(mutex_);
        if (stopping_)
            return;
        announce(); // nobody gets TERM before its snapshot
        stopping_ = true;
        auto const term = make_frame(msg::term{reason, text, by});
        auto const shutting = make_error_frame(error::shutting_down);
        for (auto const& s : sessions_) {
            if (s->registered_)
                s->close(error::terminated, term);
            else
                s->close(error::shutting_down, shutting);
        }
        if (sessions_.empty())
            asio::post(strand_, [self = shared_from_this()] { self->drained_.cancel(); });
    }
    if (logging()) {
        auto const why = msg::to_string(reason);
        auto const text = "terminating (" + std::string(why) +
                          (by.empty() ? std::string() : " by " + std::string(by)) + ")";
        if (by.empty())
            log(log_level::info, "server.terminating", text, {{"reason", why}});
        else
            log(log_level::info, "server.terminating", text, {{"reason", why}, {"by", by}});
    }
    asio::post(strand_, [self = shared_from_this()] {
        boost::system::error_code ignored;
        self->acceptor_.close(ignored);
        if (self->udp_)
            self->udp_->stop_accepting();
        self->idle_timer_.cancel();
        self->backoff_timer_.cancel();
        self->expiry_timer_.cancel();
    });
}

void server_core::count_error(error code) noexcept {
    auto const i = static_cast<std::size_t>(code);
    if (i < errors_.size())
        errors_[i].fetch_add(1, std::memory_order_relaxed);
}

server_stats server_core::stats() const {
    server_stats s;
    s.connections = connections_.load();
    s.frames_in = counters_.frames_in.load();
    s.frames_out = counters_.frames_out.load();
    s.bytes_in = counters_.bytes_in.load();
    s.bytes_out = counters_.bytes_out.load();
    s.routed = routed_.load();
    s.broadcasts = broadcasts_.load();
    s.slow_consumers = slow_consumers_.load();
    s.lost = lost_.load();
    s.stored = stored_.load();
    s.stored_offline = stored_offline_.load();
    s.acked = acked_.load();
    s.expired = expired_.load();
    s.store_failures = store_failures_.load();
    s.refused = refused_.load();
    if (udp_) {
        s.udp_sessions = udp_->sessions();
        s.udp_cookies = udp_->remembered_cookies();
    }
    for (std::size_t i = 0; i < errors_.size(); ++i)
        if (auto n = errors_[i].load())
            s.errors[static_cast<error>(i)] = n;
    if (cluster_)
        s.node = cluster_->node();
    s.registration_latency = registration_latency_.snapshot();
    s.store_commit_latency = commit_latency_.snapshot();
    std::lock_guard lock(mutex_);
    s.registrations = registrations_;
    s.online = directory_.size();
    s.pending = pending_mail_;
    s.connections_open = sessions_.size();
    return s;
}

void server_core::log(log_level level, std::string_view event, std::string_view message,
                      std::initializer_list<log_field> fields) const {
    if (options_.log)
        options_.log({level, event, message, {fields.begin(), fields.size()}});
}

void server_core::log(const log_record& r) const {
    if (options_.log)
        options_.log(r);
}

} // namespace libnet::detail
