// SPDX-License-Identifier: BSL-1.0
// Messages over a direct link with acknowledgements, so that a link that drops loses
// nothing: what it did not confirm is re-sent through the server, and the receiver drops
// what it had already seen (docs/protocol.md §15.4); the end of links, and the mesh rule.

#include "core.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace libnet::detail {

namespace asio = boost::asio;
using clock = std::chrono::steady_clock;

namespace {

constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);
// A receiver whose reads keep filling their buffer acknowledges once per this many bytes.
constexpr std::size_t ack_bytes = 256 * 1024;

shared_frame resend_frame(std::string_view to, std::uint16_t type, std::string_view body,
                          std::uint64_t ref, std::uint64_t link, std::uint64_t link_seq) {
    if (type == 0)
        return make_frame(msg::send{to, body, ref, link, link_seq, 0});
    return make_frame(msg::app{type, to, {}, body, ref, 0, link, link_seq});
}
} // namespace

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
    // Kept even if the link is already closing: on_link_finished re-sends it.
    if (type == 0)
        link.enqueue_message(msg::deliver{id_, body, seq});
    else
        link.enqueue_message(msg::app{type, {}, id_, body, 0, seq});
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
    std::uint64_t seq = 0;
    std::uint16_t type = 0;
    std::string_view body;
    if (f.core_type() == frame_type::deliver) {
        msg::deliver d;
        if (msg::decode(f, d))
            return;
        seq = d.seq;
        body = d.body;
    } else {
        msg::app a;
        if (msg::decode(f, a))
            return;
        seq = a.seq;
        type = a.type;
        body = a.body;
    }
    if (seq <= link.delivered)
        return;
    link.delivered = seq;
    link.unacked_in += f.value.size();
    post_ack(link);
    deliver(message{link.peer, std::string(body), seq, false, type, route::direct});
}

void client_core::post_ack(peer_link& link) {
    if (link.ack_posted)
        return;
    link.ack_posted = true;
    // After the reader has handled everything it has buffered. While reads keep filling
    // their buffer, more is on its way: one ACK per ack_bytes then, not one per read, which
    // would double the system calls of a bulk transfer. A read that did not fill its buffer
    // means the sender paused (perhaps for this ACK): acknowledge at once.
    asio::post(ex_, [l = std::static_pointer_cast<peer_link>(link.shared_from_this())] {
        l->ack_posted = false;
        if (l->delivered > l->acked && (!l->input_pending() || l->unacked_in >= ack_bytes)) {
            l->acked = l->delivered;
            l->unacked_in = 0;
            l->enqueue_message(msg::ack{l->delivered});
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
    bool const current = links_.finished(link);
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
    for (auto* s : link_handshakes_) // dialers still shaking hands: not links yet
        close_stream(*s);
    links_.for_each([reason](peer_link& l) { l.close(reason); });
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
    while (!links_.empty()) {
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
    for (auto* s : link_handshakes_) // dialers still shaking hands: not links yet
        close_stream(*s);
    links_.for_each([](peer_link& l) {
        if (!l.verified() || l.gone) // accepted and not yet identified ones too
            return l.close(error::not_connected);
        if (l.delivered > l.acked)
            l.enqueue(make_frame(msg::ack{l.delivered}));
        l.acked = l.delivered;
        // BYE, then keep reading: the peer's last ACKs still come in.
        l.finish(error::connection_closed, make_frame(msg::bye{}));
    });
}

void client_core::notify_links() {
    for (auto* t : link_watchers_)
        t->cancel();
}

// --- the directory as frames arrive ------------------------------------------------------

void client_core::on_joined_frame(const peer_info& p) {
    links_.joined(p.id, p.join_seq, p.endpoint);
    // The mesh rule: dial those who joined after us, so every pair gets exactly one link.
    if (!options_.mesh || p.join_seq <= join_seq_ || p.endpoint.empty() || leaving_links_)
        return;
    spawn([](std::shared_ptr<client_core> self, std::string id) -> asio::awaitable<void> {
        auto ec = co_await self->link_to(id);
        if (ec && self->state_ == state::registered && self->links_.live(id))
            self->push_event(link_down{id, ec});
    }(shared_from_this(), p.id));
}

void client_core::on_left_frame(const std::string& id) {
    links_.left(id);
}

} // namespace libnet::detail