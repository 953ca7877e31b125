#include "core.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <algorithm>
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
    return l;
}
} // namespace

client_connection::client_connection(tcp::socket socket, const client_options& o, client_core* core)
    : connection(std::move(socket), limits_for(o)),
      core_(core) {}

void client_connection::on_frame(frame_view f) {
    try {
        core_->on_frame(f);
    } catch (...) { // from a hook
        core_->hook_failed(std::current_exception());
    }
}
void client_connection::on_closing(error_code reason) {
    core_->on_closing(reason);
}
void client_connection::on_written(std::uint64_t written) {
    core_->on_written(written);
}
bool client_connection::want_read() {
    return core_->want_read();
}

namespace {
asio::any_io_executor make_client_strand(const asio::any_io_executor& ex) {
    if (auto const* io = ex.target<asio::io_context::executor_type>())
        return asio::make_strand(*io);
    return asio::make_strand(ex);
}
} // namespace

client_core::client_core(asio::any_io_executor ex, client_options options)
    : ex_(make_client_strand(ex)), options_(std::move(options)),
      events_(ex_, options_.max_events, [this](const event& e, bool was_full) { taken(e, was_full); }),
      out_(ex_, options_.max_queue_bytes), state_signal_(ex_), finished_signal_(ex_),
      connect_timer_(ex_), mailbox_(ex_) {}

bool client_core::on_strand() const {
    using io_strand = asio::strand<asio::io_context::executor_type>;
    if (auto const* s = ex_.target<io_strand>())
        return s->running_in_this_thread();
    return ex_.target<asio::strand<asio::any_io_executor>>()->running_in_this_thread();
}

void client_core::spawn(asio::awaitable<error_code> op, pending<> done) {
    asio::co_spawn(ex_, std::move(op),
                   [self = shared_from_this(), done = std::move(done)](std::exception_ptr e,
                                                                       error_code ec) mutable {
                       if (e) {
                           self->hook_failed(e);
                           ec = error::hook_failed;
                       }
                       done.complete(self->ex_, ec);
                   });
}

void client_core::spawn(asio::awaitable<void> task) {
    asio::co_spawn(ex_, std::move(task), [self = shared_from_this()](std::exception_ptr e) {
        if (e)
            self->hook_failed(e);
    });
}

// A hook threw (or, defensively, one of the client's own coroutines): the session ends with
// hook_failed, so nothing claims to be connected and async_close still completes.
void client_core::hook_failed(std::exception_ptr) {
    if (!end_reason_)
        end_reason_ = error::hook_failed;
    if (state_ == state::connecting)
        return fail_registration(error::hook_failed);
    if (conn_)
        conn_->close(error::hook_failed);
}

void client_core::on_cancel(asio::cancellation_slot slot, op_kind kind, std::uint64_t key) {
    if (!slot.is_connected())
        return;
    slot.assign([weak = weak_from_this(), kind, key](asio::cancellation_type) {
        if (auto self = weak.lock()) {
            auto ex = self->ex_;
            asio::post(ex, [self = std::move(self), kind, key] { self->cancel(kind, key); });
        }
    });
}

void client_core::cancel(op_kind kind, std::uint64_t key) {
    switch (kind) {
    case op_kind::receive:
        return events_.cancel(key);
    case op_kind::connect:
        if (state_ == state::connecting)
            abort_connect();
        return;
    case op_kind::confirm:
        // The message may already be on its way: its STORED or ERROR becomes an event.
        return mailbox_.cancel_confirm(key);
    case op_kind::fetch:
        for (auto& m : mailbox_.cancel_fetch(key))
            push_event(std::move(m));
        return;
    }
}

error_code client_core::not_open() const {
    if (state_ == state::idle || state_ == state::connecting || !end_reason_)
        return error::not_connected;
    return end_reason_;
}

void client_core::connect(std::string host, std::string port, pending<> op) {
    if (state_ != state::idle)
        return op.complete(ex_, asio::error::already_started);
    state_ = state::connecting;
    spawn(connect_session(std::move(host), std::move(port)), std::move(op));
}

asio::awaitable<error_code> client_core::connect_session(std::string host, std::string port) {
    auto const deadline = clock::now() + options_.connect_timeout;
    auto& timer = connect_timer_;
    timer.expires_at(deadline);
    auto given_up = [this](error_code ec) {
        state_ = aborting_ ? state::finished : state::idle;
        finished_signal_.cancel();
        return aborting_ ? error_code(asio::error::operation_aborted) : ec;
    };

    tcp::resolver resolver(ex_);
    auto resolved =
        co_await (resolver.async_resolve(host, port, use_tuple) || timer.async_wait(use_tuple));
    if (resolved.index() == 1)
        co_return given_up(asio::error::timed_out);
    auto [rec, endpoints] = std::get<0>(resolved);
    if (rec)
        co_return given_up(rec);
    if (aborting_)
        co_return given_up({});
    tcp::socket socket(ex_);
    auto connected =
        co_await (asio::async_connect(socket, endpoints, use_tuple) || timer.async_wait(use_tuple));
    if (connected.index() == 1)
        co_return given_up(asio::error::timed_out);
    if (auto ec = std::get<0>(std::get<0>(connected)))
        co_return given_up(ec);
    if (aborting_)
        co_return given_up({});
    advertise_ = options_.advertise;
    if (!options_.listen.empty()) {
        boost::system::error_code ec;
        auto const local = socket.local_endpoint(ec);
        if (!ec)
            ec = start_listening(local);
        if (ec)
            co_return given_up(ec);
    }

    conn_ = std::make_shared<client_connection>(std::move(socket), options_, this);
    out_.attach(conn_);
    spawn([](std::shared_ptr<client_core> self,
             std::shared_ptr<client_connection> c) -> asio::awaitable<void> {
        co_await c->run();
        self->on_finished();
    }(shared_from_this(), conn_));
    mailbox_.resume(options_.resume_after);
    conn_->enqueue(
        make_frame(msg::hello{protocol_version, options_.id, advertise_, options_.credentials,
                              hello_flags(options_), options_.resume_after}));

    state_signal_.expires_at(deadline);
    while (state_ == state::connecting) {
        auto [ec] = co_await state_signal_.async_wait(use_tuple);
        if (!ec && state_ == state::connecting) {
            fail_registration(asio::error::timed_out);
            co_return asio::error::timed_out;
        }
    }
    co_return registered_once_ ? error_code{} : not_open();
}

void client_core::registered() {
    state_ = state::registered;
    registered_once_ = true;
    connected_ = true;
    events_.open();
    state_signal_.cancel();
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
        return;
    }
    case frame_type::directory: {
        msg::directory d;
        if (auto ec = msg::decode(f, d))
            return fail_registration(ec);
        {
            std::lock_guard lock(info_mutex_);
            directory_.clear();
            for (auto const& e : d.entries)
                directory_.push_back({std::string(e.id), e.join_seq, std::string(e.endpoint)});
        }
        for (auto const& e : d.entries) {
            live_[std::string(e.id)] = {e.join_seq, std::string(e.endpoint)};
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

void client_core::on_frame(frame_view f) {
    if (state_ == state::connecting)
        return on_registration_frame(f);
    switch (f.core_type()) {
    case frame_type::deliver: {
        msg::deliver m;
        if (msg::decode(f, m))
            return;
        bool const bcast = (m.flags & msg::flag_broadcast) != 0;
        bool const stored = (m.flags & msg::flag_mailbox) != 0;
        if (stored && (leaving_ || !mailbox_.fresh(m.seq)))
            return; // left: it waits for the next session; or had it already (a redelivery)
        return on_server_message(message{std::string(m.from), std::string(m.body), m.seq, bcast, 0,
                                         route::server, stored},
                                 m.link, m.link_seq, m.flags);
    }
    case frame_type::joined: {
        msg::joined j;
        if (msg::decode(f, j))
            return;
        peer_info p{std::string(j.entry.id), j.entry.join_seq, std::string(j.entry.endpoint)};
        on_joined_frame(p);
        event e = peer_joined{std::move(p)};
        if (options_.on_directory_change)
            options_.on_directory_change(e);
        return push_event(std::move(e));
    }
    case frame_type::left: {
        msg::left l;
        if (msg::decode(f, l))
            return;
        on_left_frame(std::string(l.id));
        event e = peer_left{std::string(l.id), l.reason};
        if (options_.on_directory_change)
            options_.on_directory_change(e);
        return push_event(std::move(e));
    }
    case frame_type::error: {
        msg::error e;
        if (msg::decode(f, e) || on_intro_error(e) || mailbox_.on_error(e) || on_lookup_error(e))
            return;
        return push_event(server_error{from_wire(e.code), std::string(e.text), e.ref,
                                       e.ref_type, std::string(e.id)});
    }
    case frame_type::introduction:
        return on_introduction(f);
    case frame_type::stored:
        return on_stored(f);
    case frame_type::fetched:
        return on_fetched(f);
    case frame_type::presence:
        return on_presence(f);
    case frame_type::term: {
        msg::term t;
        if (msg::decode(f, t))
            t = msg::term{msg::term_reason::shutdown, {}, {}};
        term_seen_ = true;
        push_event(terminated{t.reason, std::string(t.by), std::string(t.text)});
        conn_->close(error::terminated);
        return;
    }
    default:
        if (is_app_type(f.type)) {
            msg::app m;
            if (msg::decode(f, m))
                return;
            bool const stored = (m.flags & msg::flag_mailbox) != 0;
            if (stored && (leaving_ || !mailbox_.fresh(m.seq)))
                return;
            return on_server_message(message{std::string(m.from), std::string(m.body), m.seq, false,
                                             m.type, route::server, stored},
                                     m.link, m.link_seq, 0);
        }
        return; // frames a client does not handle are ignored (docs/protocol.md)
    }
}

void client_core::on_server_message(message m, std::uint64_t link, std::uint64_t link_seq,
                                    std::uint16_t flags) {
    if (flags & msg::flag_link_sync) { // the sender's switch marker (docs/protocol.md §15.4)
        if (m.mailbox)
            consumed();
        auto it = links_.find(m.from);
        if (it == links_.end() || it->second->id != link)
            return; // that link is gone; its sender gives up waiting on it
        auto& l = *it->second;
        if (!l.verified()) {
            l.sync_pending = true; // the marker overtook PEER_WELCOME
            return;
        }
        l.enqueue(make_frame(msg::ack{l.delivered, msg::flag_link_sync}));
        return;
    }
    if (link != 0 && seen_before(m.from, link, link_seq)) {
        if (m.mailbox)
            consumed();
        return; // re-sent after a link drop, but it did arrive over the link
    }
    deliver(std::move(m));
}

void client_core::deliver(message m) {
    if (m.type != 0) {
        if (auto h = options_.app_handlers.find(m.type); h != options_.app_handlers.end()) {
            h->second(m);
            if (m.mailbox)
                consumed();
            return;
        }
    }
    if (options_.on_message && options_.on_message(m)) {
        if (m.mailbox)
            consumed();
        return;
    }
    if (mailbox_.take_for_fetch(m)) // pull mode: the answer to the oldest GET
        return;
    push_event(std::move(m));
}

void client_core::push_event(event e) {
    if (auto* m = std::get_if<message>(&e); m && m->mailbox)
        mailbox_.queued(m->seq);
    events_.push(std::move(e));
}

void client_core::receive(clock::time_point deadline, std::uint64_t key, pending<event> op) {
    events_.receive(std::move(op), deadline, key);
}

void client_core::receive_batch(std::size_t max, std::uint64_t key,
                                pending<std::vector<event>> op) {
    events_.receive_batch(std::move(op), max, key);
}

void client_core::taken(const event& e, bool was_full) {
    apply_to_directory(e);
    if (auto* m = std::get_if<message>(&e); m && m->mailbox) {
        mailbox_.taken(m->seq);
        consumed();
    }
    if (was_full) { // every connection that feeds events paused on the same bound
        if (conn_)
            conn_->resume_reading();
        for (auto& [id, l] : links_)
            l->resume_reading();
        for (auto& l : accepting_)
            l->resume_reading();
    }
}

void client_core::apply_to_directory(const event& e) {
    if (auto* j = std::get_if<peer_joined>(&e)) {
        std::lock_guard lock(info_mutex_);
        directory_.push_back(j->peer);
    } else if (auto* l = std::get_if<peer_left>(&e)) {
        std::lock_guard lock(info_mutex_);
        std::erase_if(directory_, [l](auto const& p) { return p.id == l->id; });
    }
}

void client_core::on_closing(error_code reason) {
    if (!end_reason_)
        end_reason_ = term_seen_ ? error_code(error::terminated)
                      : reason   ? reason
                                 : error_code(error::not_connected);
    connected_ = false;
    if (state_ != state::finished)
        state_ = state::closing;
    if (!leaving_) // after BYE, what the server still sends is delivered until the end
        events_.close(end_reason_);
    state_signal_.cancel();
    close_links(end_reason_);
    out_.set_closed_reason(end_reason_);
    out_.release(); // nothing more can be queued: held sends fail now
    mailbox_.end(end_reason_);
    end_lookups(end_reason_);
}

void client_core::abort_connect() {
    aborting_ = true;
    // In the past rather than cancelled: a wait that has not started yet ends at once too.
    connect_timer_.expires_at(clock::time_point::min());
    if (conn_)
        fail_registration(asio::error::operation_aborted);
}

void client_core::abort() {
    asio::post(ex_, [self = shared_from_this()] {
        if (self->state_ == state::connecting)
            return self->abort_connect(); // no session left behind that nobody owns
        if (self->conn_ && self->state_ != state::finished) {
            if (!self->end_reason_)
                self->end_reason_ = asio::error::operation_aborted;
            self->conn_->close(asio::error::operation_aborted);
        }
    });
}

std::string client_core::id() const {
    std::lock_guard lock(info_mutex_);
    return id_;
}

std::vector<peer_info> client_core::directory() const {
    std::lock_guard lock(info_mutex_);
    return directory_;
}

bool client_core::connected() const {
    return connected_;
}

std::vector<std::string> client_core::linked_peers() const {
    std::lock_guard lock(info_mutex_);
    return linked_;
}

std::string client_core::listen_endpoint() const {
    std::lock_guard lock(info_mutex_);
    return listen_endpoint_;
}

} // namespace libnet::detail
