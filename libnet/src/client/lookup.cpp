// SPDX-License-Identifier: BSL-1.0
// Presence lookups (docs/protocol.md §6.7): LOOKUP and its PRESENCE answer, matched by ref.

#include "core.hpp"

#include <algorithm>

namespace libnet::detail {

namespace asio = boost::asio;

void client_core::lookup(std::string id, pending<std::optional<peer_info>> op) {
    if (!can_send())
        return op.complete(ex_, not_open(), std::nullopt);
    auto const ref = next_ref_++;
    op.keep_work(ex_);
    lookups_.push_back({ref, std::move(op)});
    write_silent(make_frame(msg::lookup{id, ref}));
}

void client_core::on_presence(frame_view f) {
    msg::presence p;
    if (msg::decode(f, p))
        return;
    auto it = std::find_if(lookups_.begin(), lookups_.end(),
                           [&p](const lookup_waiter& w) { return w.ref == p.ref; });
    if (it == lookups_.end())
        return;
    std::optional<peer_info> found;
    if (p.join_seq != 0)
        found = peer_info{std::string(p.id), p.join_seq, std::string(p.endpoint)};
    it->op.complete(ex_, {}, std::move(found));
    lookups_.erase(it);
}

// A server that does not know LOOKUP answers it with ERROR(unknown_type), without the ref:
// LOOKUPs are answered in order, so that is the oldest one's answer.
bool client_core::on_lookup_error(const msg::error& e) {
    if (e.ref_type != static_cast<std::uint16_t>(frame_type::lookup))
        return false;
    auto it = e.ref == 0 ? lookups_.begin()
                         : std::find_if(lookups_.begin(), lookups_.end(),
                                        [&e](const lookup_waiter& w) { return w.ref == e.ref; });
    if (it == lookups_.end())
        return true;
    it->op.complete(ex_, from_wire(e.code), std::nullopt);
    lookups_.erase(it);
    return true;
}

void client_core::end_lookups(error_code ec) {
    for (auto& w : lookups_)
        w.op.complete(ex_, ec, std::nullopt);
    lookups_.clear();
}

} // namespace libnet::detail
