// Direct links between clients (docs/protocol.md §15): listening, introductions, the
// PEER_HELLO / PEER_WELCOME handshake, the mesh rule, and sending over a link with
// acknowledgements, so that a link that drops loses nothing: what it did not confirm is
// re-sent through the server, and the receiver drops what it had already seen.

#include "../wire/peer_token.hpp"
#include "core.hpp"

#include <libnet/client_id.hpp>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <sstream>

namespace libnet::detail {

namespace asio = boost::asio;
using asio::ip::tcp;
using namespace asio::experimental::awaitable_operators;
using clock = std::chrono::steady_clock;

namespace {

constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);
constexpr std::size_t records_per_peer = 4;

// "[host:]port", "[v6]:port" -> host (may be empty) and port.
bool split_host_port(std::string_view s, std::string& host, std::string& port) {
    auto const colon = s.rfind(':');
    if (colon == std::string_view::npos) {
        host.clear();
        port = std::string(s);
    } else {
        host = std::string(s.substr(0, colon));
        port = std::string(s.substr(colon + 1));
        if (host.size() >= 2 && host.front() == '[' && host.back() == ']')
            host = host.substr(1, host.size() - 2);
    }
    return !port.empty() && port.find_first_not_of("0123456789") == std::string::npos &&
           port.size() <= 5 && std::stoul(port) <= 65535;
}

std::string to_string(const tcp::endpoint& ep) {
    std::ostringstream os;
    os << ep;
    return os.str();
}

shared_frame resend_frame(std::string_view to, std::uint16_t type, std::string_view body,
                          std::uint64_t ref, std::uint64_t link, std::uint64_t link_seq) {
    if (type == 0)
        return make_frame(msg::send{to, body, ref, link, link_seq, 0});
    return make_frame(msg::app{type, to, {}, body, ref, 0, link, link_seq});
}

} // namespace

// --- listening ---------------------------------------------------------------------------

error_code client_core::start_listening(const tcp::endpoint& local) {
    std::string host, port;
    if (!split_host_port(options_.listen, host, port))
        return error::malformed_message;
    boost::system::error_code ec;
    tcp::endpoint ep(tcp::v4(), static_cast<std::uint16_t>(std::stoul(port)));
    if (!host.empty()) {
        auto const addr = asio::ip::make_address(host, ec);
        if (ec)
            return ec;
        ep.address(addr);
    } else if (local.address().is_v6()) {
        ep = tcp::endpoint(tcp::v6(), ep.port());
    }
    acceptor_.emplace(ex_);
    acceptor_->open(ep.protocol(), ec);
    if (!ec)
        acceptor_->set_option(tcp::acceptor::reuse_address(true), ec);
    if (!ec)
        acceptor_->bind(ep, ec);
    if (!ec)
        acceptor_->listen(asio::socket_base::max_listen_connections, ec);
    if (ec) {
        acceptor_.reset();
        return ec;
    }
    auto bound = acceptor_->local_endpoint(ec);
    if (ec)
        return ec;
    if (advertise_.empty()) {
        // Listening on every interface: advertise the one that reaches the server.
        auto shown = bound;
        if (shown.address().is_unspecified())
            shown.address(local.address());
        advertise_ = to_string(shown);
    }
    {
        std::lock_guard lock(info_mutex_);
        listen_endpoint_ = to_string(bound);
    }
    spawn(accept_loop());
    return {};
}

asio::awaitable<void> client_core::accept_loop() {
    for (;;) {
        if (!acceptor_ || !acceptor_->is_open())
            co_return;
        auto [ec, socket] = co_await acceptor_->async_accept(ex_, use_tuple);
        if (ec == asio::error::operation_aborted || !acceptor_ || !acceptor_->is_open())
            co_return;
        if (ec) { // out of descriptors and the like: back off instead of spinning
            asio::steady_timer backoff(ex_, std::chrono::milliseconds(100));
            co_await backoff.async_wait(use_tuple);
            continue;
        }
        auto link = std::make_shared<peer_link>(std::move(socket), options_, this, false);
        link->set_deadline(clock::now() + options_.connect_timeout, error::hello_timeout);
        accepting_.push_back(link);
        spawn_link(link);
    }
}

void client_core::spawn_link(std::shared_ptr<peer_link> link) {
    spawn([](std::shared_ptr<client_core> self,
             std::shared_ptr<peer_link> l) -> asio::awaitable<void> {
        co_await l->run();
        self->on_link_finished(l);
    }(shared_from_this(), std::move(link)));
}

// --- dialing -----------------------------------------------------------------------------

void client_core::connect_peer(std::string id, pending<> op) {
    spawn(link_to(std::move(id)), std::move(op));
}

asio::awaitable<error_code> client_core::link_to(std::string id) {
    if (state_ != state::registered || leaving_links_)
        co_return not_open();
    if (id == id_)
        co_return error::no_peer_link;
    auto const deadline = clock::now() + options_.connect_timeout;
    if (!links_.contains(id)) {
        if (auto ec = co_await dial(id, deadline))
            co_return ec;
    }
    std::shared_ptr<peer_link> last;
    asio::steady_timer timer(ex_, deadline);
    for (;;) {
        if (auto it = links_.find(id); it != links_.end()) {
            last = it->second;
            if (last->verified())
                co_return last->gone ? last->reason() : error_code{};
        } else {
            auto ec = last ? last->reason() : error_code();
            // A dial that lost to the peer's crossing dial: the winner is on its way.
            if (ec != error::already_registered)
                co_return ec ? ec : error_code(error::no_peer_link);
        }
        link_watchers_.push_back(&timer);
        auto [ec] = co_await timer.async_wait(use_tuple);
        std::erase(link_watchers_, &timer);
        if (!ec)
            co_return asio::error::timed_out;
        if (state_ != state::registered)
            co_return not_open();
    }
}

asio::awaitable<error_code> client_core::dial(std::string id, clock::time_point deadline) {
    if (!options_.directory) // links live and die with the peer's directory entry
        co_return error::no_peer_link;
    auto entry = live_.find(id);
    if (entry == live_.end())
        co_return error::no_such_client;
    if (entry->second.endpoint.empty())
        co_return error::no_peer_link;

    asio::steady_timer timer(ex_, deadline);
    intro_result intro;
    intro.timer = &timer;
    auto const ref = next_ref_++;
    intros_[ref] = &intro;
    write_silent(make_frame(msg::intro_request{id, ref}));
    while (!intro.done) {
        auto [ec] = co_await timer.async_wait(use_tuple);
        if (!ec && !intro.done) {
            intros_.erase(ref);
            co_return asio::error::timed_out;
        }
    }
    if (intro.ec)
        co_return intro.ec;

    std::string host, port;
    if (!split_host_port(intro.endpoint, host, port))
        co_return error::no_peer_link;
    timer.expires_at(deadline);
    tcp::resolver resolver(ex_);
    auto resolved =
        co_await (resolver.async_resolve(host, port, use_tuple) || timer.async_wait(use_tuple));
    if (resolved.index() == 1)
        co_return asio::error::timed_out;
    auto [rec, endpoints] = std::get<0>(resolved);
    if (rec)
        co_return rec;
    tcp::socket socket(ex_);
    auto connected =
        co_await (asio::async_connect(socket, endpoints, use_tuple) || timer.async_wait(use_tuple));
    if (connected.index() == 1)
        co_return asio::error::timed_out;
    if (auto ec = std::get<0>(std::get<0>(connected)))
        co_return ec;
    if (state_ != state::registered || leaving_links_)
        co_return not_open();
    if (links_.contains(id))
        co_return error_code{}; // the peer dialed us meanwhile, and won

    auto link = std::make_shared<peer_link>(std::move(socket), options_, this, true);
    link->peer = id;
    link->id = random_u64() | 1; // never 0
    link->expect_proof = std::move(intro.proof);
    link->set_deadline(deadline, error::hello_timeout);
    link->enqueue(make_frame(msg::peer_hello{protocol_version, id_, intro.token, link->id}));
    links_[id] = link;
    spawn_link(std::move(link));
    co_return error_code{};
}

void client_core::on_introduction(frame_view f) {
    msg::introduction m;
    if (msg::decode(f, m))
        return;
    auto it = intros_.find(m.ref);
    if (it == intros_.end())
        return; // its dial gave up
    auto& r = *it->second;
    r.endpoint = std::string(m.endpoint);
    r.token = std::string(m.token);
    r.proof = std::string(m.proof);
    r.done = true;
    r.timer->cancel();
    intros_.erase(it);
}

bool client_core::on_intro_error(const msg::error& e) {
    if (e.ref_type != static_cast<std::uint16_t>(frame_type::intro_request))
        return false;
    auto fail = [&](auto it) {
        it->second->ec = from_wire(e.code);
        it->second->done = true;
        it->second->timer->cancel();
        return intros_.erase(it);
    };
    if (auto it = intros_.find(e.ref); it != intros_.end())
        fail(it);
    else if (e.code == static_cast<std::uint16_t>(error::unknown_type))
        for (auto it = intros_.begin(); it != intros_.end();) // a server without links
            it = fail(it);
    return true;
}

// --- the handshake -----------------------------------------------------------------------

void client_core::on_link_frame(peer_link& link, frame_view f) {
    if (!link.verified()) {
        if (link.gone || leaving_links_)
            return; // a late handshake on a link being closed
        return link.dialer ? on_peer_welcome(link, f) : on_peer_hello(link, f);
    }
    switch (f.core_type()) {
    case frame_type::deliver:
        return on_link_data(link, f);
    case frame_type::ack: {
        msg::ack a;
        if (!msg::decode(f, a))
            on_link_ack(link, a);
        return;
    }
    case frame_type::bye:
        // The peer leaves: confirm what arrived, then close.
        if (link.delivered > link.acked)
            link.enqueue(make_frame(msg::ack{link.delivered}));
        link.acked = link.delivered;
        return link.close(error::connection_closed);
    case frame_type::error: {
        msg::error e;
        if (!msg::decode(f, e))
            push_event(
                server_error{from_wire(e.code), std::string(e.text), e.ref, e.ref_type, link.peer});
        return;
    }
    default:
        if (is_app_type(f.type))
            return on_link_data(link, f);
        link.enqueue(make_error_frame(error::unknown_type, f.type));
        return;
    }
}

void client_core::on_peer_hello(peer_link& link, frame_view f) {
    auto const type = f.type;
    auto refuse = [&link, type](error code, std::string_view text) {
        link.close(code,
                   make_frame(msg::error{static_cast<std::uint16_t>(code), text, 0, type, {}}));
    };
    if (f.core_type() != frame_type::peer_hello)
        return refuse(error::hello_expected, "a direct link starts with PEER_HELLO");
    msg::peer_hello h;
    if (auto ec = msg::decode(f, h))
        return refuse(wire_code(ec), ec.message());
    if (h.token.empty())
        return refuse(error::auth_failed, "no token");
    if (h.version != protocol_version)
        return refuse(error::unsupported_version, "unsupported protocol version");
    if (peer_key_.empty() || state_ != state::registered || leaving_links_)
        return refuse(error::no_peer_link, "not accepting direct links");
    if (!is_valid_client_id(h.id) || h.link == 0)
        return refuse(error::malformed_message, "bad id or link");
    auto const now = unix_ms();
    switch (check_token(peer_key_, h.token, h.id, id_, now)) {
    case token_check::ok:
        break;
    case token_check::expired:
        return refuse(error::auth_failed, "token expired");
    default:
        return refuse(error::auth_failed, "token not valid for this pair");
    }
    std::erase_if(used_tokens_, [now](auto const& t) { return t.second <= now; });
    auto [pos, fresh] =
        used_tokens_.emplace(std::string(token_nonce(h.token)), token_expires(h.token));
    if (!fresh)
        return refuse(error::auth_failed, "token already used");

    std::string claimed(h.id);
    if (auto it = links_.find(claimed); it != links_.end()) {
        auto& other = *it->second;
        if (other.verified() && other.gone)
            return refuse(error::no_peer_link, "the previous link is still closing");
        if (other.verified() || id_ < claimed) // crossed dials: the smaller id's dial wins
            return refuse(error::already_registered, "a link to this peer exists");
        other.close(error::already_registered); // ours loses; connect_peer waits for this one
    }
    auto self = std::static_pointer_cast<peer_link>(link.shared_from_this());
    std::erase(accepting_, self);
    link.peer = std::move(claimed);
    link.id = h.link;
    links_[link.peer] = self;
    link.clear_deadline();
    link.enqueue(
        make_frame(msg::peer_welcome{protocol_version, id_, token_proof(peer_key_, h.token)}));
    link_verified(link);
}

void client_core::on_peer_welcome(peer_link& link, frame_view f) {
    if (f.core_type() == frame_type::error) {
        msg::error e;
        auto const code = msg::decode(f, e) ? error::malformed_message : from_wire(e.code);
        return link.close(code);
    }
    auto const type = static_cast<std::uint16_t>(frame_type::peer_welcome);
    msg::peer_welcome w;
    if (f.core_type() != frame_type::peer_welcome || msg::decode(f, w))
        return link.close(error::unexpected_frame, make_error_frame(error::unexpected_frame, type));
    if (w.id != link.peer || !equal_secret(w.proof, link.expect_proof))
        return link.close(error::auth_failed, make_error_frame(error::auth_failed, type));
    link.clear_deadline();
    link_verified(link);
}

void client_core::link_verified(peer_link& link) {
    link.st = peer_link::state::syncing;
    link.set_heartbeat(heartbeat_, heartbeat_misses_);
    // The switch marker: once it has come back, everything sent to the peer through the
    // server before it has arrived, and messages may take the link without overtaking.
    link.set_deadline(clock::now() + options_.connect_timeout, error::no_peer_link);
    write_silent(make_frame(msg::send{link.peer, {}, 0, link.id, 0, msg::flag_link_sync}));
    if (link.sync_pending) {
        link.sync_pending = false;
        link.enqueue(make_frame(msg::ack{link.delivered, msg::flag_link_sync}));
    }
    {
        std::lock_guard lock(info_mutex_);
        linked_.insert(std::upper_bound(linked_.begin(), linked_.end(), link.peer), link.peer);
    }
    push_event(link_up{link.peer});
    notify_links();
}

// --- traffic -----------------------------------------------------------------------------

// Over the link, in order behind the sends still waiting for it (its switch marker, or
// room in its window).
void client_core::send_direct(peer_link& link, std::uint16_t type, std::string body, route how,
                              pending<> op) {
    bool const room =
        link.unacked_bytes == 0 || link.unacked_bytes + body.size() <= options_.max_queue_bytes;
    if (link.st == peer_link::state::up && !link.gone && link.waiting.empty() && room) {
        push_direct(link, type, std::move(body));
        return op.complete(ex_, {});
    }
    op.keep_work(ex_);
    link.waiting.push_back({type, std::move(body), how, std::move(op)});
    release_link(link);
}

void client_core::push_direct(peer_link& link, std::uint16_t type, std::string body) {
    auto const seq = link.next_seq++;
    auto f = type == 0 ? make_frame(msg::deliver{id_, body, seq})
                       : make_frame(msg::app{type, {}, id_, body, 0, seq});
    // Kept even if the link is already closing: on_link_finished re-sends it.
    link.enqueue(std::move(f));
    link.unacked_bytes += body.size();
    link.unacked.push_back({seq, type, std::move(body)});
}

void client_core::release_link(peer_link& link) {
    if (link.st != peer_link::state::up || link.gone)
        return;
    while (!link.waiting.empty()) {
        auto& w = link.waiting.front();
        if (link.unacked_bytes != 0 &&
            link.unacked_bytes + w.body.size() > options_.max_queue_bytes)
            return;
        push_direct(link, w.type, std::move(w.body));
        w.op.complete(ex_, {});
        link.waiting.pop_front();
    }
}

void client_core::on_link_data(peer_link& link, frame_view f) {
    message m;
    if (f.core_type() == frame_type::deliver) {
        msg::deliver d;
        if (msg::decode(f, d))
            return;
        m = message{link.peer, std::string(d.body), d.seq, false, 0, route::direct};
    } else {
        msg::app a;
        if (msg::decode(f, a))
            return;
        m = message{link.peer, std::string(a.body), a.seq, false, a.type, route::direct};
    }
    if (m.seq <= link.delivered)
        return;
    link.delivered = m.seq;
    post_ack(link);
    deliver(std::move(m));
}

void client_core::post_ack(peer_link& link) {
    if (link.ack_posted)
        return;
    link.ack_posted = true;
    // After the reader has handled everything it has buffered: one ACK per read.
    asio::post(ex_, [l = std::static_pointer_cast<peer_link>(link.shared_from_this())] {
        l->ack_posted = false;
        if (l->delivered > l->acked) {
            l->acked = l->delivered;
            l->enqueue(make_frame(msg::ack{l->delivered}));
        }
    });
}

void client_core::on_link_ack(peer_link& link, const msg::ack& a) {
    if ((a.flags & msg::flag_link_sync) && link.st == peer_link::state::syncing) {
        link.st = peer_link::state::up;
        link.clear_deadline();
    }
    while (!link.unacked.empty() && link.unacked.front().seq <= a.seq) {
        link.unacked_bytes -= link.unacked.front().body.size();
        link.unacked.pop_front();
    }
    release_link(link);
}

// Both ways count: a re-sent copy that arrives first makes the link's own copy, still
// unread in a link that has not noticed the drop yet, a duplicate too.
bool client_core::seen_before(const std::string& from, std::uint64_t link, std::uint64_t link_seq) {
    auto check = [link_seq](std::uint64_t& delivered) {
        if (link_seq <= delivered)
            return true;
        delivered = link_seq;
        return false;
    };
    if (auto it = links_.find(from); it != links_.end() && it->second->id == link)
        return check(it->second->delivered);
    if (auto it = seen_.find(from); it != seen_.end())
        for (auto& r : it->second)
            if (r.link == link)
                return check(r.delivered);
    return false;
}

// --- links ending ------------------------------------------------------------------------

void client_core::on_link_closing(peer_link& link, error_code) {
    link.gone = true;
    if (link.verified()) {
        std::lock_guard lock(info_mutex_);
        std::erase(linked_, link.peer);
    }
    notify_links();
}

void client_core::on_link_finished(const std::shared_ptr<peer_link>& link) {
    std::erase(accepting_, link);
    auto it = links_.find(link->peer);
    bool const current = it != links_.end() && it->second == link;
    if (current)
        links_.erase(it);
    if (link->verified() && current && live_.contains(link->peer)) {
        auto& records = seen_[link->peer];
        records.push_back({link->id, link->delivered});
        if (records.size() > records_per_peer)
            records.erase(records.begin());
    }
    reroute(*link);
    if (link->verified() && current && state_ == state::registered)
        push_event(link_down{link->peer, link->reason()});
    notify_links();
}

// What the link did not confirm goes through the server, in order, before anything sent
// after it; the receiver drops what it already had by (link, link_seq).
void client_core::reroute(peer_link& link) {
    for (auto& u : link.unacked)
        write_silent(resend_frame(link.peer, u.type, u.body, next_ref_++, link.id, u.seq));
    link.unacked.clear();
    link.unacked_bytes = 0;
    for (auto& w : link.waiting) {
        if (w.how == route::direct)
            w.op.complete(ex_, error::no_peer_link);
        else
            out_.send(resend_frame(link.peer, w.type, w.body, next_ref_++, 0, 0), std::move(w.op));
    }
    link.waiting.clear();
}

void client_core::close_links(error_code reason) {
    if (acceptor_) {
        boost::system::error_code ignored;
        acceptor_->close(ignored);
    }
    for (auto& [id, l] : links_)
        l->close(reason);
    for (auto& l : accepting_)
        l->close(reason);
    for (auto& [ref, r] : intros_) {
        r->ec = reason ? reason : error_code(error::not_connected);
        r->done = true;
        r->timer->cancel();
    }
    intros_.clear();
    notify_links();
}

asio::awaitable<void> client_core::leave_links() {
    if (!leaving_links_)
        close_links_gracefully();
    asio::steady_timer timer(ex_, clock::now() + options_.close_timeout * 2);
    while (!links_.empty() || !accepting_.empty()) {
        link_watchers_.push_back(&timer);
        auto [ec] = co_await timer.async_wait(use_tuple);
        std::erase(link_watchers_, &timer);
        if (!ec)
            break; // each link's own close_timeout should have ended it already
    }
}

void client_core::close_links_gracefully() {
    leaving_links_ = true;
    if (acceptor_) {
        boost::system::error_code ignored;
        acceptor_->close(ignored);
    }
    for (auto& l : accepting_)
        l->close(error::not_connected);
    for (auto& [id, l] : links_) {
        if (!l->verified() || l->gone) {
            l->close(error::not_connected);
            continue;
        }
        if (l->delivered > l->acked)
            l->enqueue(make_frame(msg::ack{l->delivered}));
        l->acked = l->delivered;
        // BYE, then keep reading: the peer's last ACKs still come in.
        l->finish(error::connection_closed, make_frame(msg::bye{}));
    }
}

void client_core::notify_links() {
    for (auto* t : link_watchers_)
        t->cancel();
}

// --- the directory as frames arrive ------------------------------------------------------

void client_core::on_joined_frame(const peer_info& p) {
    live_[p.id] = {p.join_seq, p.endpoint};
    // The mesh rule: dial those who joined after us, so every pair gets exactly one link.
    if (!options_.mesh || p.join_seq <= join_seq_ || p.endpoint.empty() || leaving_links_)
        return;
    spawn([](std::shared_ptr<client_core> self, std::string id) -> asio::awaitable<void> {
        auto ec = co_await self->link_to(id);
        if (ec && self->state_ == state::registered && self->live_.contains(id))
            self->push_event(link_down{id, ec});
    }(shared_from_this(), p.id));
}

void client_core::on_left_frame(const std::string& id) {
    live_.erase(id);
    seen_.erase(id);
    if (auto it = links_.find(id); it != links_.end())
        it->second->close(error::connection_closed);
}

} // namespace libnet::detail
