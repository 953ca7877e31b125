// SPDX-License-Identifier: BSL-1.0
// The client's side of mailboxes (docs/protocol.md §16): the frames, and the ACKs that
// follow what the application takes. The bookkeeping is mailbox_tracker's.

#include "core.hpp"

#include <boost/asio/post.hpp>

namespace libnet::detail {

namespace asio = boost::asio;

// One ACK per turn of the strand, however many messages were taken in it.
void client_core::consumed() {
    mailbox_.used();
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
    if (auto upto = mailbox_.ack_due())
        write_silent(make_frame(msg::ack{*upto, 0}));
}

void client_core::on_stored(frame_view f) {
    msg::stored s;
    if (msg::decode(f, s) || mailbox_.on_stored(s))
        return;
    push_event(stored{std::string(s.to), s.count, s.ref});
}

void client_core::on_fetched(frame_view f) {
    msg::fetched m;
    if (!msg::decode(f, m) && mailbox_.on_fetched())
        consumed();
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
    mailbox_.expect_confirm(ref, key, bcast, std::move(op));
    write_silent(std::move(f)); // a failure to send ends the session, and the wait with it
}

void client_core::fetch(std::size_t max, std::uint64_t key, pending<std::vector<message>> op) {
    if (!can_send())
        return op.complete(ex_, not_open(), {});
    if (!options_.pull || !mailbox_.has_mailbox())
        return op.complete(ex_, error::not_permitted, {});
    auto const ref = next_ref_++;
    mailbox_.expect_fetch(ref, key, std::move(op));
    auto const count = static_cast<std::uint32_t>(std::min<std::size_t>(max, 0xFFFF'FFFF));
    write_silent(make_frame(msg::get{count, ref}));
}

} // namespace libnet::detail
