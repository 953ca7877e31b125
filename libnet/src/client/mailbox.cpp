// The client's side of mailboxes: acknowledgements, confirmed sends, STORED and pull mode
// (docs/protocol.md §16).

#include "core.hpp"

#include <boost/asio/post.hpp>

#include <algorithm>

namespace libnet::detail {

namespace asio = boost::asio;

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
        auto& w = it->second;
        w.r.offline = s.count;
        w.r.durable = (s.flags & msg::stored_durable) != 0;
        w.op.complete(ex_, {}, std::move(w.r));
        confirms_.erase(it);
        return;
    }
    push_event(stored{std::string(s.to), s.count, s.ref});
}

void client_core::on_fetched(frame_view f) {
    msg::fetched m;
    if (msg::decode(f, m) || fetches_.empty())
        return;
    auto w = std::move(fetches_.front());
    fetches_.pop_front();
    for (std::size_t i = 0; i < w.got.size() && !unconsumed_.empty(); ++i)
        unconsumed_.pop_front();
    if (!w.got.empty())
        consumed();
    w.op.complete(ex_, {}, std::move(w.got));
}

// The fetch's messages so far become events (they are this client's now), and so do
// those still on their way for it.
void client_core::cancel_fetch(std::uint64_t key) {
    auto it = std::find_if(fetches_.begin(), fetches_.end(),
                           [key](const fetch_waiter& w) { return w.key == key; });
    if (it == fetches_.end() || it->abandoned)
        return;
    it->abandoned = true;
    it->op.complete(ex_, asio::error::operation_aborted, {});
    auto got = std::move(it->got);
    it->got.clear();
    for (std::size_t i = 0; i < got.size() && !unconsumed_.empty(); ++i)
        unconsumed_.pop_front(); // push_event lists them again
    for (auto& m : got)
        push_event(std::move(m));
}

bool client_core::on_mailbox_error(const msg::error& e) {
    if (e.ref == 0)
        return false;
    if (auto it = confirms_.find(e.ref); it != confirms_.end()) {
        auto& w = it->second;
        if (w.broadcast && e.code == static_cast<std::uint16_t>(error::queue_full)) {
            w.r.refused.emplace_back(e.id); // STORED follows for the rest
            return true;
        }
        w.op.complete(ex_, static_cast<error>(e.code), receipt{});
        confirms_.erase(it);
        return true;
    }
    auto it = std::find_if(fetches_.begin(), fetches_.end(),
                           [&e](const fetch_waiter& w) { return w.ref == e.ref; });
    if (it == fetches_.end())
        return false;
    for (std::size_t i = 0; i < it->got.size(); ++i) // none: the server refuses GET whole
        unconsumed_.pop_back();
    it->op.complete(ex_, static_cast<error>(e.code), {});
    fetches_.erase(it);
    return true;
}

void client_core::end_mailbox_ops(error_code ec) {
    for (auto& [ref, w] : confirms_)
        w.op.complete(ex_, ec, receipt{});
    confirms_.clear();
    for (auto& w : fetches_)
        w.op.complete(ex_, ec, {});
    fetches_.clear();
}

void client_core::send_confirmed(std::uint32_t type, std::string to, std::string body,
                                 std::uint64_t key, pending<receipt> op) {
    if (!can_send())
        return op.complete(ex_, not_open(), receipt{});
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
        return op.complete(ex_, error::frame_too_large, receipt{});
    op.keep_work(ex_);
    auto& w = confirms_[ref];
    w.key = key;
    w.op = std::move(op);
    w.broadcast = bcast;
    write_silent(std::move(f)); // a failure to send ends the session, and end_mailbox_ops
}

void client_core::fetch(std::size_t max, std::uint64_t key, pending<std::vector<message>> op) {
    if (!can_send())
        return op.complete(ex_, not_open(), {});
    if (!options_.pull || !has_mailbox_)
        return op.complete(ex_, error::not_permitted, {});
    auto const ref = next_ref_++;
    op.keep_work(ex_);
    fetches_.push_back({ref, key, std::move(op), {}, false});
    auto const count = static_cast<std::uint32_t>(std::min<std::size_t>(max, 0xFFFF'FFFF));
    write_silent(make_frame(msg::get{count, ref}));
}

} // namespace libnet::detail
