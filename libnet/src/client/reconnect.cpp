// SPDX-License-Identifier: BSL-1.0
// Reconnecting after a lost connection (client_options::reconnect): the session's sends
// are held and its events go on while the client dials again with backoff, registers
// under the same id, resumes its mailbox and reports what changed in the directory.

#include "core.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <algorithm>
#include <cmath>
#include <limits>
#include <random>
#include <span>

namespace libnet::detail {

namespace asio = boost::asio;

namespace {

// Reasons that say this client may not or should not come back: the server refused it,
// the application ended the session, or the protocol broke.
bool final_reason(error_code ec) {
    for (auto const e : {error::terminated, error::not_allowed, error::auth_failed,
                         error::invalid_client_id, error::unsupported_version, error::hook_failed,
                         error::not_connected, error::frame_too_large, error::malformed_field,
                         error::malformed_message, error::missing_field, error::tls_required})
        if (ec == e)
            return true;
    return ec == asio::error::operation_aborted || ec.category() == asio::error::get_ssl_category();
}

// A frame of the lost connection worth sending again, and the ref of a confirmed one.
bool worth_resending(frame_view f, std::vector<std::uint64_t>& confirmed) {
    auto note = [&](std::uint16_t flags, std::uint64_t ref) {
        if ((flags & msg::flag_confirm) != 0)
            confirmed.push_back(ref);
        return true;
    };
    switch (f.core_type()) {
    case frame_type::send: {
        msg::send m;
        return !msg::decode(f, m) && note(m.flags, m.ref);
    }
    case frame_type::broadcast: {
        msg::broadcast m;
        return !msg::decode(f, m) && note(m.flags, m.ref);
    }
    case frame_type::term:
        return true;
    default:
        break;
    }
    if (!is_app_type(f.type))
        return false; // PING, ACK, LOOKUP, GET, INTRO_REQUEST: answered or redone anew
    msg::app m;
    return !msg::decode(f, m) && note(m.flags, m.ref);
}

} // namespace

bool client_core::may_reconnect(error_code reason) const {
    return options_.reconnect.enabled && state_ == state::registered && !leaving_ && !aborting_ &&
           !final_reason(reason) && reason != error::id_taken;
}

void client_core::connection_lost(error_code reason) {
    reconnecting_ = true;
    reconnect_started_ = false;
    lost_reason_ = reason;
    lost_conn_ = conn_.get();
    ending_error_ = {};
    connected_ = false;
    state_ = state::reconnecting;
    out_.suspend(); // sends wait for the next connection
    close_links(reason);
    end_lookups(reason);
    state_signal_.cancel();
}

void client_core::keep_unwritten(connection& c) {
    std::vector<shared_frame> again;
    std::vector<std::uint64_t> confirmed;
    for (auto const& chunk : c.take_unwritten()) {
        std::span<const std::uint8_t> const all(chunk.data.get(), chunk.size);
        for (std::size_t at = 0; at < all.size();) {
            auto const r = decode_frame(all.subspan(at), std::numeric_limits<std::uint32_t>::max());
            if (r.status != decode_status::ok)
                break;
            if (worth_resending(r.frame, confirmed)) // shares the chunk's buffer
                again.push_back({std::shared_ptr<const std::uint8_t[]>(chunk.data, all.data() + at),
                                 r.consumed, 1});
            at += r.consumed;
        }
    }
    // Held back, not yet queued: the same rules.
    out_.filter_held(
        [&](const shared_frame& f) {
            std::span<const std::uint8_t> const bytes(f.data.get(), f.size);
            auto const r = decode_frame(bytes, std::numeric_limits<std::uint32_t>::max());
            return r.status == decode_status::ok && worth_resending(r.frame, confirmed);
        },
        lost_reason_);
    // A confirmed send that left may have been stored: its sender hears the error and
    // decides. One that never left is sent again and answered on the next connection.
    for (auto& m : mailbox_.lost(lost_reason_, confirmed))
        push_event(std::move(m));
    end_lookups(lost_reason_); // asked since the loss: their LOOKUPs were dropped above
    out_.hold_first(std::move(again));
}

std::chrono::milliseconds client_core::backoff(unsigned attempt) {
    auto const& p = options_.reconnect;
    auto delay = static_cast<double>(p.initial_delay.count()) *
                 std::pow(std::max(p.multiplier, 1.0), static_cast<double>(attempt - 1));
    delay = std::min(delay, static_cast<double>(p.max_delay.count()));
    static thread_local std::minstd_rand rng(std::random_device{}());
    auto const j = std::clamp(p.jitter, 0.0, 1.0);
    std::uniform_real_distribution<double> spread(1.0 - j, 1.0 + j);
    return std::chrono::milliseconds(static_cast<std::int64_t>(delay * spread(rng)));
}

asio::awaitable<void> client_core::reconnect() {
    auto reason = lost_reason_;
    for (unsigned attempt = 1;; ++attempt) {
        if (aborting_)
            co_return give_up(error::not_connected);
        if (attempt > options_.reconnect.max_attempts)
            co_return give_up(reason);
        auto const delay = backoff(attempt);
        push_event(reconnecting{reason, attempt, delay});
        reconnect_timer_.expires_after(delay);
        co_await reconnect_timer_.async_wait(asio::as_tuple(asio::use_awaitable));
        if (aborting_)
            co_return give_up(error::not_connected);
        state_ = state::connecting;
        attempt_ = attempt;
        auto const ec = co_await connect_session(host_, port_, true);
        if (!reconnecting_)
            co_return; // registered (resumed() ran), or given up meanwhile
        reason = ec ? ec : error_code(error::connection_closed);
        end_reason_ = {}; // the attempt's; the session is not over
        ending_error_ = {};
        state_ = state::reconnecting;
        close_links(reason); // the attempt's link acceptor, if it opened one
        if (final_reason(reason) && !aborting_)
            co_return give_up(reason);
    }
}

void client_core::give_up(error_code reason) {
    reconnecting_ = false;
    end_reason_ = reason;
    out_.set_closed_reason(reason);
    close_links(reason);
    end_session();
}

void client_core::resumed() {
    if (!options_.directory) // no snapshot came to say so
        push_event(reconnected{attempt_});
    reconnecting_ = false;
    out_.resume(conn_);
    send_ack();
}

// The snapshot of a new session against the directory as this client last heard it: who
// left meanwhile (or is back at another endpoint) and who joined, as events. Peers online
// before and after at the same endpoint raise no event: they keep their entries, with the
// new session's join numbers (a restarted server numbers everyone anew).
void client_core::catch_up(const msg::directory& d) {
    push_event(reconnected{attempt_});
    // By id: a directory of n clients is compared in O(n), not O(n^2).
    std::unordered_map<std::string_view, const msg::directory_entry*> now;
    now.reserve(d.entries.size());
    for (auto const& e : d.entries)
        now.emplace(e.id, &e);
    if (auto self = now.find(id_); self != now.end())
        join_seq_ = self->second->join_seq; // first: the mesh rule compares with it
    std::vector<std::string> gone;
    std::vector<peer_info> kept;
    for (auto const& [id, was] : links_.live_entries()) {
        auto const it = now.find(id);
        if (it == now.end() || (id != id_ && it->second->endpoint != was.endpoint))
            gone.push_back(id);
        else
            kept.push_back({id, it->second->join_seq, std::string(it->second->endpoint)});
    }
    renumber(kept);
    auto tell = [this](event e) {
        if (options_.on_directory_change)
            options_.on_directory_change(e);
        push_event(std::move(e));
    };
    for (auto const& id : gone) {
        on_left_frame(id);
        tell(peer_left{id, msg::leave_reason::lost});
    }
    for (auto const& e : d.entries) {
        std::string id(e.id);
        if (links_.live(id))
            continue;
        peer_info p{id, e.join_seq, std::string(e.endpoint)};
        on_joined_frame(p);
        tell(peer_joined{std::move(p)});
    }
}

void client_core::renumber(const std::vector<peer_info>& kept) {
    std::unordered_map<std::string_view, const peer_info*> by_id;
    for (auto const& p : kept) {
        by_id.emplace(p.id, &p);
        if (p.id == id_)
            links_.joined(p.id, p.join_seq, p.endpoint);
        else
            on_joined_frame(p); // the link table, and the mesh rule's dial
    }
    std::lock_guard lock(info_mutex_);
    for (auto& p : directory_)
        if (auto it = by_id.find(p.id); it != by_id.end())
            p = *it->second;
    std::stable_sort(
        directory_.begin(), directory_.end(),
        [](const peer_info& a, const peer_info& b) { return a.join_seq < b.join_seq; });
}

} // namespace libnet::detail
