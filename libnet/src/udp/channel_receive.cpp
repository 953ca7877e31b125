// SPDX-License-Identifier: BSL-1.0
// The receiving half of a channel: packets put in order, acknowledgements owed, the window
// offered, and data that waits too long for what is missing.
#include "channel.hpp"

#include <algorithm>
#include <cstring>

namespace libnet::detail::udp {

void channel::receive(const data_datagram& d, time_point now) {
    if (failure_)
        return;
    ++stats_.received;
    if (d.flags & flag_ack)
        on_ack(d.ack, now);
    if (d.flags & flag_ack_request)
        ack_now_ = true;
    if (d.flags & flag_packet)
        on_packet(d, now);
}

std::uint16_t channel::advertised_window() const noexcept {
    // What arrives in order waits in rbuf_ until read; what arrives early waits in held_.
    // Both together stay within `window` packets.
    auto const limit = std::size_t{limits_.window} * max_payload_;
    auto const used = std::min(readable(), limit);
    return static_cast<std::uint16_t>((limit - used) / max_payload_);
}

void channel::on_packet(const data_datagram& d, time_point now) {
    auto const number = expand_number(d.number, rcv_next_);
    if (number < rcv_next_ || held_.count(number) != 0) {
        ++stats_.duplicates; // our acknowledgement was probably lost: send one now
        ack_now_ = true;
        return;
    }
    if (number - rcv_next_ >= std::max<std::uint16_t>(advertised_window(), 1) ||
        (fin_received_ && number >= rcv_next_)) {
        ack_now_ = true; // beyond what we offered
        return;
    }
    newest_arrival_ = now;
    bool progressed = false;
    if (number == rcv_next_) {
        if (!deliver(d.flags, d.payload))
            return;
        ++rcv_next_;
        progressed = true;
        for (auto it = held_.begin(); it != held_.end() && it->first == rcv_next_;
             it = held_.erase(it)) {
            if (!deliver(it->second.flags, it->second.payload))
                return;
            ++rcv_next_;
        }
        if (!held_.empty())
            ack_now_ = true;
    } else {
        held_.emplace(number, held_packet{d.flags, {d.payload.begin(), d.payload.end()}});
        ack_now_ = true; // a gap: the sender learns of it at once
    }
    if (++unacked_packets_ >= limits_.ack_every || (d.flags & flag_fin))
        ack_now_ = true;
    else if (ack_at_ == time_point::max())
        ack_at_ = now + limits_.ack_delay;
    watch_stall(now, progressed);
}

bool channel::deliver(std::uint8_t flags, std::span<const std::uint8_t> payload) {
    if (((flags & flag_continued) != 0) != mid_frame_) {
        fail(error::malformed_datagram); // a fragment out of its frame
        return false;
    }
    if (flags & flag_fin) {
        fin_received_ = true;
        return true;
    }
    if (rhead_ == rbuf_.size()) {
        rbuf_.clear();
        rhead_ = 0;
    }
    rbuf_.insert(rbuf_.end(), payload.begin(), payload.end());
    mid_frame_ = (flags & flag_continues) != 0;
    return true;
}

std::size_t channel::read(std::span<std::uint8_t> out, time_point now) {
    auto const n = std::min(out.size(), readable());
    if (n == 0)
        return 0;
    std::memcpy(out.data(), rbuf_.data() + rhead_, n);
    rhead_ += n;
    if (rhead_ == rbuf_.size()) {
        rbuf_.clear();
        rhead_ = 0;
    } else if (rhead_ >= 64 * 1024 && rhead_ * 2 >= rbuf_.size()) {
        rbuf_.erase(rbuf_.begin(), rbuf_.begin() + static_cast<std::ptrdiff_t>(rhead_));
        rhead_ = 0;
    }
    // A window that was nearly shut and is open again is news the sender may be waiting for.
    auto const open = advertised_window();
    if (window_sent_ < limits_.window / 4 && open >= limits_.window / 2)
        ack_now_ = true;
    if (readable() == 0)
        watch_stall(now, false);
    return n;
}

// Data is stalled while something arrived ahead of a missing packet, or the last packet in
// order ended inside a frame, and the application has read all there is: only the peer can
// help then, and it gets reassembly_timeout to do so.
void channel::watch_stall(time_point now, bool progressed) {
    bool const stalled = (!held_.empty() || mid_frame_) && readable() == 0;
    if (!stalled)
        stall_since_ = time_point::max();
    else if (progressed || stall_since_ == time_point::max())
        stall_since_ = now;
}

} // namespace libnet::detail::udp
