// The client's side of mailboxes: acknowledgements, confirmed sends, STORED and pull mode
// (docs/protocol.md §16).

#include "core.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace libnet::detail {

namespace asio = boost::asio;
using clock = std::chrono::steady_clock;

namespace {
constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);
}

// One ACK per turn of the strand, however many messages were taken in it.
void client_core::consumed() {
    // Everything up to the first message still queued for the application is its own now.
    last_delivered_ = unconsumed_.empty() ? highest_seq_ : unconsumed_.front() - 1;
    if (ack_posted_)
        return;
    ack_posted_ = true;
    asio::post(ex_, [self = shared_from_this()] {
        self->ack_posted_ = false;
        self->send_ack();
    });
}

void client_core::send_ack() {
    if (state_ != state::registered || leaving_ || !conn_ || conn_->closing())
        return;
    // Everything received up to the first message the application has not taken yet.
    auto const upto = unconsumed_.empty() ? highest_seq_ : unconsumed_.front() - 1;
    if (upto <= acked_)
        return;
    acked_ = upto;
    write_silent(make_frame(msg::ack{upto, 0}));
}

void client_core::on_stored(frame_view f) {
    msg::stored s;
    if (msg::decode(f, s))
        return;
    if (auto it = confirms_.find(s.ref); it != confirms_.end()) {
        auto& w = *it->second;
        w.r.offline = s.count;
        w.r.durable = (s.flags & msg::stored_durable) != 0;
        w.done = true;
        w.timer->cancel();
        confirms_.erase(it);
        return;
    }
    push_event(stored{std::string(s.to), s.count, s.ref});
}

void client_core::on_fetched(frame_view f) {
    msg::fetched m;
    if (msg::decode(f, m) || fetches_.empty())
        return;
    auto& w = *fetches_.front();
    fetches_.pop_front();
    for (std::size_t i = 0; i < w.got.size() && !unconsumed_.empty(); ++i)
        unconsumed_.pop_front();
    if (!w.got.empty())
        consumed();
    w.done = true;
    w.timer->cancel();
}

bool client_core::on_mailbox_error(const msg::error& e) {
    if (e.ref == 0)
        return false;
    if (auto it = confirms_.find(e.ref); it != confirms_.end()) {
        auto& w = *it->second;
        if (w.broadcast && e.code == static_cast<std::uint16_t>(error::queue_full)) {
            w.r.refused.emplace_back(e.id); // STORED follows for the rest
            return true;
        }
        w.ec = static_cast<error>(e.code);
        w.done = true;
        w.timer->cancel();
        confirms_.erase(it);
        return true;
    }
    for (auto it = fetches_.begin(); it != fetches_.end(); ++it) {
        if ((*it)->ref != e.ref)
            continue;
        auto& w = **it;
        for (std::size_t i = 0; i < w.got.size(); ++i) // none: the server refuses GET whole
            unconsumed_.pop_back();
        w.ec = static_cast<error>(e.code);
        w.done = true;
        w.timer->cancel();
        fetches_.erase(it);
        return true;
    }
    return false;
}

void client_core::end_mailbox_ops(error_code ec) {
    for (auto& [ref, w] : confirms_) {
        w->ec = ec;
        w->done = true;
        w->timer->cancel();
    }
    confirms_.clear();
    for (auto* w : fetches_) {
        w->ec = ec;
        w->done = true;
        w->timer->cancel();
    }
    fetches_.clear();
}

asio::awaitable<std::pair<error_code, receipt>>
client_core::send_confirmed(std::uint32_t type, std::string to, std::string body) {
    if (state_ != state::registered || leaving_)
        co_return std::pair{not_open(), receipt{}};
    bool const bcast = type > 0xFFFF;
    auto const ref = next_ref_++;
    shared_frame f;
    if (bcast)
        f = make_frame(msg::broadcast{body, ref, msg::flag_confirm, 0});
    else if (type == 0)
        f = make_frame(msg::send{to, body, ref, 0, 0, msg::flag_confirm, 0});
    else
        f = make_frame(msg::app{
            static_cast<std::uint16_t>(type), to, {}, body, ref, 0, 0, 0, msg::flag_confirm, 0});
    if (f.size - frame_header_size > server_max_frame_)
        co_return std::pair{error_code(error::frame_too_large), receipt{}};
    asio::steady_timer timer(ex_, clock::time_point::max());
    confirm_waiter w; // no braced initialisers in coroutines (GCC 12)
    w.timer = &timer;
    w.broadcast = bcast;
    confirms_[ref] = &w;
    auto ec = co_await write(std::move(f));
    if (ec && !w.done) {
        confirms_.erase(ref);
        co_return std::pair{ec, receipt{}};
    }
    while (!w.done)
        co_await timer.async_wait(use_tuple);
    co_return std::pair{w.ec, std::move(w.r)};
}

asio::awaitable<std::pair<error_code, std::vector<message>>> client_core::fetch(std::size_t max) {
    std::vector<message> none;
    if (state_ != state::registered || leaving_)
        co_return std::pair{not_open(), std::move(none)};
    if (!options_.pull || !has_mailbox_)
        co_return std::pair{error_code(error::not_permitted), std::move(none)};
    auto const ref = next_ref_++;
    asio::steady_timer timer(ex_, clock::time_point::max());
    fetch_waiter w;
    w.ref = ref;
    w.timer = &timer;
    fetches_.push_back(&w);
    auto const count = static_cast<std::uint32_t>(std::min<std::size_t>(max, 0xFFFF'FFFF));
    auto f = make_frame(msg::get{count, ref});
    auto ec = co_await write(std::move(f));
    if (ec && !w.done) {
        std::erase(fetches_, &w);
        co_return std::pair{ec, std::move(none)};
    }
    while (!w.done)
        co_await timer.async_wait(use_tuple);
    co_return std::pair{w.ec, std::move(w.got)};
}

} // namespace libnet::detail
