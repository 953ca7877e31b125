// SPDX-License-Identifier: BSL-1.0
// The sending half of a channel: packing frames into packets, acknowledgements received,
// losses, timeouts and the congestion window. The receiving half is in channel_receive.cpp.
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

void channel::on_timeout(time_point now) {
    rto_at_ = time_point::max();
    if (++timeouts_ > limits_.max_timeouts) {
        fail(error::unreachable);
        return;
    }
    rto_ = std::min<microseconds>(rto_ * 2, limits_.max_rto);
    if (in_flight_ == 0 && lost_.empty()) {
        // Nothing outstanding: the peer's window is shut and its opening may have been lost.
        probe_due_ = true;
        rto_at_ = now + rto_;
        return;
    }
    // Everything not acknowledged goes again, one packet at a time at first (RFC 5681 §3.1).
    ssthresh_ = std::max<std::uint32_t>(in_flight_ / 2, 2);
    cwnd_ = 1;
    cwnd_count_ = 0;
    lost_.clear();
    for (std::uint64_t n = snd_una_; n < snd_next_; ++n) {
        auto& p = packet(n);
        if (p.acked)
            continue;
        p.lost = true;
        lost_.push_back(n);
    }
    in_flight_ = 0;
    recovery_tsn_ = next_tsn_;
    rto_at_ = now + rto_;
}

void channel::mark_acked(sent_packet& p, std::uint64_t& newest_tsn, const sent_packet*& sample) {
    if (p.acked)
        return;
    p.acked = true;
    if (!p.lost)
        --in_flight_;
    p.lost = false;
    if (p.flags & flag_fin)
        fin_acked_ = true;
    if (p.tsn > newest_tsn) {
        newest_tsn = p.tsn;
        sample = p.transmissions == 1 ? &p : nullptr; // Karn: not from a packet sent twice
    }
}

void channel::on_ack(const ack_block& a, time_point now) {
    auto const next = expand_number(a.next, snd_una_);
    if (next > snd_next_ || next < snd_una_)
        return; // stale, or for packets never sent
    peer_next_ = next;
    peer_window_ = a.window;
    std::uint64_t newest_tsn = 0, newly = 0;
    const sent_packet* sample = nullptr;
    time_point sample_sent{};
    auto note = [&](sent_packet& p) {
        if (p.acked)
            return;
        ++newly;
        mark_acked(p, newest_tsn, sample);
        if (sample == &p)
            sample_sent = p.sent_at;
    };
    for (std::uint64_t n = snd_una_; n < next; ++n)
        note(packet(n));
    std::uint64_t at = next;
    for (std::size_t i = 0; i < a.count; ++i) {
        at += a.ranges[i].gap;
        for (std::uint16_t k = 0; k < a.ranges[i].length && at < snd_next_; ++k, ++at)
            note(packet(at));
    }
    release_acked();
    if (newly == 0) {
        if (in_flight_ != 0 || !lost_.empty())
            return;
        timeouts_ = 0; // the peer answers: its window is what holds the data back
        if (window_open())
            rto_at_ = time_point::max();
        else if (written_ > sent_off_ && rto_at_ == time_point::max())
            rto_at_ = now + rto_; // shut window: probe later, in case its opening is lost
        return;
    }
    timeouts_ = 0;
    if (sample) {
        auto rtt = duration_cast<microseconds>(now - sample_sent);
        auto const delay = microseconds(std::int64_t{a.delay} * 8);
        if (rtt > delay)
            rtt -= delay;
        rtt_sample(rtt);
    }
    largest_acked_tsn_ = std::max(largest_acked_tsn_, newest_tsn);
    detect_losses(now);
    if (newest_tsn >= recovery_tsn_) { // not while recovering from a loss
        if (cwnd_ < ssthresh_) {
            cwnd_ += static_cast<std::uint32_t>(newly);
        } else if ((cwnd_count_ += static_cast<std::uint32_t>(newly)) >= cwnd_) {
            cwnd_count_ -= cwnd_;
            ++cwnd_;
        }
        cwnd_ = std::min<std::uint32_t>(cwnd_, 65'535);
    }
    rto_at_ = in_flight_ > 0 || !lost_.empty() ? now + rto_ : time_point::max();
    tlp_at_ = time_point::max();
    if (in_flight_ > 0)
        arm_tail_probe(now);
}

// The last packets of a burst have no later ones to reveal their loss: two round trips
// after the last transmission, plus the time the peer may hold its acknowledgement (SRTT
// leaves that out), the newest unacknowledged packet goes again (a tail loss probe), and
// the acknowledgement it draws shows what is missing.
void channel::arm_tail_probe(time_point now) {
    if (srtt_.count() > 0)
        tlp_at_ = now + std::max<microseconds>(2 * srtt_ + limits_.ack_delay, microseconds(2000));
}

std::size_t channel::probe_tail(std::span<std::uint8_t> out, time_point now) {
    tlp_at_ = time_point::max();
    if (in_flight_ == 0 || !lost_.empty())
        return 0;
    for (auto i = sent_.size(); i-- > 0;) {
        auto& p = sent_[i];
        if (p.acked || p.lost)
            continue;
        --in_flight_; // send_packet counts it again
        ++stats_.retransmitted;
        auto const n = send_packet(out, snd_una_ + i, now);
        tlp_at_ = time_point::max(); // one probe until something is acknowledged
        return n;
    }
    return 0;
}

// A packet is lost once three packets sent after it were acknowledged (RFC 6675's
// DupThresh, counted in transmissions so that a packet sent again is judged by its copy);
// fewer when fewer are outstanding (early retransmit, RFC 5827); or once a packet sent
// after it was acknowledged and it has been out for a round trip and a quarter (RACK,
// RFC 8985), so that a small window does not wait for the retransmission timeout.
void channel::detect_losses(time_point now) {
    bool lost_any = false;
    std::uint64_t first_lost_tsn = 0;
    auto const outstanding = snd_next_ - snd_una_;
    std::uint64_t const threshold =
        outstanding >= 4 ? 3 : std::max<std::uint64_t>(outstanding - 1, 1);
    auto const patience = srtt_ + std::max<microseconds>(srtt_ / 4, microseconds(1000));
    for (std::size_t i = 0; i < sent_.size(); ++i) {
        auto& p = sent_[i];
        if (p.acked || p.lost || p.tsn >= largest_acked_tsn_)
            continue;
        bool const by_count = p.tsn + threshold <= largest_acked_tsn_;
        bool const by_time = srtt_.count() > 0 && now - p.sent_at > patience;
        if (!by_count && !by_time)
            continue;
        p.lost = true;
        --in_flight_;
        if (!lost_any)
            first_lost_tsn = p.tsn;
        lost_any = true;
        lost_.push_back(snd_una_ + i);
    }
    if (lost_any && first_lost_tsn >= recovery_tsn_) { // once per window of data (NewReno)
        ssthresh_ = std::max<std::uint32_t>(cwnd_ / 2, 2);
        cwnd_ = ssthresh_;
        cwnd_count_ = 0;
        recovery_tsn_ = next_tsn_;
    }
    if (lost_any)
        std::sort(lost_.begin(), lost_.end());
}

void channel::rtt_sample(microseconds rtt) { // RFC 6298 §2
    if (srtt_.count() == 0) {
        srtt_ = rtt;
        rttvar_ = rtt / 2;
    } else {
        auto const diff = srtt_ > rtt ? srtt_ - rtt : rtt - srtt_;
        rttvar_ = (3 * rttvar_ + diff) / 4;
        srtt_ = (7 * srtt_ + rtt) / 8;
    }
    auto const granularity = microseconds(1000);
    rto_ = std::clamp<microseconds>(srtt_ + std::max(granularity, 4 * rttvar_), limits_.min_rto,
                                    limits_.max_rto);
}

void channel::release_acked() {
    while (!sent_.empty() && sent_.front().acked) {
        acked_ = sent_.front().offset + sent_.front().length;
        sent_.pop_front();
        ++snd_una_;
    }
    auto const dead = acked_ - sbuf_start_;
    if (dead > 0 && (dead == sbuf_.size() || (dead >= 64 * 1024 && dead * 2 >= sbuf_.size()))) {
        sbuf_.erase(sbuf_.begin(), sbuf_.begin() + static_cast<std::ptrdiff_t>(dead));
        sbuf_start_ = acked_;
    }
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
