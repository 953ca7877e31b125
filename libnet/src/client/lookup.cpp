// Presence lookups (docs/protocol.md §6.7): LOOKUP and its PRESENCE answer, matched by ref.

#include "core.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <algorithm>

namespace libnet::detail {

namespace asio = boost::asio;

asio::awaitable<std::pair<error_code, std::optional<peer_info>>>
client_core::lookup(std::string id) {
    std::optional<peer_info> none;
    if (state_ != state::registered || leaving_)
        co_return std::pair{not_open(), none};
    lookup_waiter w;
    w.ref = next_ref_++;
    asio::steady_timer timer(ex_, std::chrono::steady_clock::time_point::max());
    w.timer = &timer;
    lookups_.push_back(&w);
    auto ec = co_await write(make_frame(msg::lookup{id, w.ref}));
    if (ec && !w.done) {
        std::erase(lookups_, &w);
        co_return std::pair{ec, none};
    }
    while (!w.done)
        co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
    co_return std::pair{w.ec, std::move(w.found)};
}

void client_core::on_presence(frame_view f) {
    msg::presence p;
    if (msg::decode(f, p))
        return;
    auto it = std::find_if(lookups_.begin(), lookups_.end(),
                           [&p](const lookup_waiter* w) { return w->ref == p.ref; });
    if (it == lookups_.end())
        return;
    auto& w = **it;
    lookups_.erase(it);
    if (p.join_seq != 0)
        w.found = peer_info{std::string(p.id), p.join_seq, std::string(p.endpoint)};
    w.done = true;
    w.timer->cancel();
}

// A server that does not know LOOKUP answers it with ERROR(unknown_type), without the ref:
// LOOKUPs are answered in order, so that is the oldest one's answer.
bool client_core::on_lookup_error(const msg::error& e) {
    if (e.ref_type != static_cast<std::uint16_t>(frame_type::lookup))
        return false;
    auto it = e.ref == 0 ? lookups_.begin()
                         : std::find_if(lookups_.begin(), lookups_.end(),
                                        [&e](const lookup_waiter* w) { return w->ref == e.ref; });
    if (it == lookups_.end())
        return true;
    auto& w = **it;
    lookups_.erase(it);
    w.ec = static_cast<error>(e.code);
    w.done = true;
    w.timer->cancel();
    return true;
}

void client_core::end_lookups(error_code ec) {
    for (auto* w : lookups_) {
        w->ec = ec;
        w->done = true;
        w->timer->cancel();
    }
    lookups_.clear();
}

} // namespace libnet::detail
