// SPDX-License-Identifier: BSL-1.0
// The sending half of a channel: packing frames into packets, acknowledgements and
// retransmissions. Acknowledgements received, losses, timeouts and the congestion window
// are in channel_recovery.cpp; the receiving half is in channel_receive.cpp.
#include "channel.hpp"

#include <libnet/frame.hpp>

#include <boost/endian/conversion.hpp>

#include <algorithm>
#include <cstring>

namespace libnet::detail::udp {

using std::chrono::duration_cast;
using std::chrono::microseconds;

std::uint64_t expand_number(std::uint32_t truncated, std::uint64_t expected) noexcept {
    constexpr std::uint64_t span = 1ull << 32, half = span / 2;
    std::uint64_t candidate = (expected & ~(span - 1)) | truncated;
    if (candidate + half <= expected)
        candidate += span;
    else if (candidate > expected + half && candidate >= span)
        candidate -= span;
    return candidate;
}

channel::channel(std::uint64_t cid, const channel_limits& limits)
    : cid_(cid), limits_(limits), max_payload_(limits.max_datagram - data_overhead),
      peer_window_(limits.window), cwnd_(std::max<std::uint32_t>(limits.initial_cwnd, 1)),
      rto_(limits.initial_rto) {}

void channel::fail(error_code why) {
    if (failure_)
        return;
    failure_ = why;
    sbuf_start_ = acked_ = sent_off_ = written_;
    // Nothing more goes in or out: give the memory back now.
    std::vector<std::uint8_t>().swap(sbuf_);
    std::vector<std::uint8_t>().swap(rbuf_);
    rhead_ = 0;
    sent_.clear();
    lost_.clear();
    held_.clear();
}

std::size_t channel::write(std::span<const std::uint8_t> bytes) {
    if (failure_ || fin_wanted_)
        return 0;
    // Twice the window: enough to keep packets flowing while acknowledgements come back.
    auto const limit = 2 * std::size_t{limits_.window} * max_payload_;
    auto const held = static_cast<std::size_t>(written_ - acked_);
    auto const n = std::min(bytes.size(), held >= limit ? 0 : limit - held);
    sbuf_.insert(sbuf_.end(), bytes.begin(), bytes.begin() + static_cast<std::ptrdiff_t>(n));
    written_ += n;
    return n;
}

bool channel::window_open() const noexcept {
    return in_flight_ < cwnd_ && snd_next_ < peer_next_ + peer_window_;
}

// The next packet's bytes: whole frames while they fit, else one fragment of a frame too
// large for a packet, else the end of the stream.
bool channel::build_packet(std::uint64_t& offset, std::uint32_t& length, std::uint8_t& flags) {
    offset = sent_off_;
    flags = 0;
    auto const avail = written_ - sent_off_;
    auto const* at = sbuf_.data() + (sent_off_ - sbuf_start_);
    if (frame_left_ > 0) {
        auto const n = std::min<std::uint64_t>({frame_left_, max_payload_, avail});
        if (n == 0)
            return false;
        frame_left_ -= n;
        length = static_cast<std::uint32_t>(n);
        flags = flag_continued | (frame_left_ > 0 ? flag_continues : 0);
        sent_off_ += n;
        return true;
    }
    std::uint64_t n = 0;
    while (avail - n >= frame_header_size) {
        auto const size = frame_header_size + boost::endian::load_big_u32(at + n + 2);
        if (size <= max_payload_ - n) {
            if (size > avail - n)
                break; // the rest of it is still being written
            n += size;
            continue;
        }
        if (n == 0) { // larger than a packet: its first fragment
            n = std::min<std::uint64_t>(max_payload_, avail);
            frame_left_ = size - n;
            flags = frame_left_ > 0 ? flag_continues : 0;
        }
        break;
    }
    if (n == 0) {
        if (avail != 0 || !fin_wanted_ || fin_sent_)
            return false;
        fin_sent_ = true;
        length = 0;
        flags = flag_fin;
        return true;
    }
    length = static_cast<std::uint32_t>(n);
    sent_off_ += n;
    return true;
}

std::size_t channel::next_datagram(std::span<std::uint8_t> out, time_point now) {
    if (failure_)
        return 0;
    if (now >= rto_at_)
        on_timeout(now);
    if (stall_since_ != time_point::max() && now - stall_since_ >= limits_.reassembly_timeout)
        fail(error::frame_timeout);
    if (failure_)
        return 0;
    if (now >= tlp_at_)
        if (auto n = probe_tail(out, now))
            return n;
    while (!lost_.empty() && in_flight_ < cwnd_) {
        auto const number = lost_.front();
        lost_.pop_front();
        if (number >= snd_una_ && packet(number).lost) {
            ++stats_.retransmitted;
            return send_packet(out, number, now);
        }
    }
    if (lost_.empty() && window_open()) {
        std::uint64_t offset;
        std::uint32_t length;
        std::uint8_t flags;
        if (build_packet(offset, length, flags)) {
            sent_.push_back({offset, length, flags});
            return send_packet(out, snd_next_++, now);
        }
    }
    if (probe_due_) {
        probe_due_ = false;
        return send_ack_only(out, flag_ack | flag_ack_request, now);
    }
    if (ack_now_ || now >= ack_at_ ||
        (limits_.keepalive.count() > 0 && now - last_sent_ >= limits_.keepalive))
        return send_ack_only(out, flag_ack, now);
    return 0;
}

std::size_t channel::send_packet(std::span<std::uint8_t> out, std::uint64_t number,
                                 time_point now) {
    auto& p = packet(number);
    data_datagram d;
    d.cid = cid_;
    d.flags = static_cast<std::uint8_t>(flag_packet | p.flags);
    d.number = static_cast<std::uint32_t>(number);
    fill_ack(d, now);
    d.payload = {sbuf_.data() + (p.offset - sbuf_start_), p.length};
    p.lost = false;
    p.tsn = next_tsn_++;
    p.sent_at = now;
    ++p.transmissions;
    ++in_flight_;
    ++stats_.sent;
    if (rto_at_ == time_point::max())
        rto_at_ = now + rto_;
    arm_tail_probe(now);
    last_sent_ = now;
    return encode(d, out);
}

std::size_t channel::send_ack_only(std::span<std::uint8_t> out, std::uint8_t flags,
                                   time_point now) {
    data_datagram d;
    d.cid = cid_;
    d.flags = flags;
    fill_ack(d, now);
    last_sent_ = now;
    return encode(d, out);
}

void channel::fill_ack(data_datagram& d, time_point now) {
    d.flags |= flag_ack;
    auto& a = d.ack;
    a.next = static_cast<std::uint32_t>(rcv_next_);
    a.window = window_sent_ = advertised_window();
    auto const held = duration_cast<microseconds>(now - newest_arrival_).count() / 8;
    a.delay = static_cast<std::uint16_t>(std::clamp<std::int64_t>(held, 0, 0xffff));
    a.count = 0;
    std::uint64_t end = rcv_next_; // just past the last range
    for (auto it = held_.begin(); it != held_.end() && a.count < max_ack_ranges;) {
        auto const first = it->first;
        auto last = first;
        while (++it != held_.end() && it->first == last + 1 && last + 1 - first < 0xffff)
            ++last;
        a.ranges[a.count++] = {
            static_cast<std::uint16_t>(std::min<std::uint64_t>(first - end, 0xffff)),
            static_cast<std::uint16_t>(last + 1 - first)};
        end = last + 1;
    }
    unacked_packets_ = 0;
    ack_now_ = false;
    ack_at_ = time_point::max();
    ++stats_.acks;
}

channel::time_point channel::deadline() const noexcept {
    if (failure_)
        return time_point::max();
    auto at = std::min({rto_at_, ack_at_, tlp_at_});
    if (ack_now_ || probe_due_)
        at = time_point::min();
    if (limits_.keepalive.count() > 0)
        at = std::min(at, last_sent_ + limits_.keepalive);
    if (stall_since_ != time_point::max())
        at = std::min(at, stall_since_ + limits_.reassembly_timeout);
    return at;
}

channel::statistics channel::stats() const noexcept {
    auto s = stats_;
    s.cwnd = cwnd_;
    s.srtt = srtt_;
    return s;
}

} // namespace libnet::detail::udp
