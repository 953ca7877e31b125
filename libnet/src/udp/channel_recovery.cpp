// SPDX-License-Identifier: BSL-1.0
// A channel's recovery: acknowledgements received, the round-trip estimate, loss detection
// (packet and time thresholds, the tail-loss probe), the retransmission timeout and the
// congestion window (docs/protocol.md §17.7).
#include "channel.hpp"

#include <algorithm>

namespace libnet::detail::udp {

using std::chrono::duration_cast;
using std::chrono::microseconds;

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

} // namespace libnet::detail::udp
