// SPDX-License-Identifier: BSL-1.0
#ifndef LIBNET_SRC_UDP_CHANNEL_HPP
#define LIBNET_SRC_UDP_CHANNEL_HPP

#include "datagram.hpp"

#include <libnet/error.hpp>

#include <chrono>
#include <cstdint>
#include <deque>
#include <map>
#include <span>
#include <vector>

namespace libnet::detail::udp {

struct channel_limits {
    std::size_t max_datagram = 1200;
    /// Packets beyond the cumulative point this side takes (its receive window).
    std::uint16_t window = 256;
    std::uint32_t initial_cwnd = 10;             ///< packets (RFC 6928)
    std::chrono::milliseconds initial_rto{1000}; ///< RFC 6298 §2.1
    std::chrono::milliseconds min_rto{200};
    std::chrono::milliseconds max_rto{10'000};
    /// Timeouts in a row, without an acknowledgement, after which the peer is unreachable.
    std::uint32_t max_timeouts = 8;
    std::chrono::microseconds ack_delay{1000}; ///< longest an acknowledgement is held
    std::uint32_t ack_every = 4;               ///< packets that get one at once
    /// Silence after which an acknowledgement goes out anyway (for NATs); 0: never.
    std::chrono::milliseconds keepalive{0};
    /// Time received data may wait for a missing packet or a frame's next fragment without
    /// anything arriving in order; then the channel fails with frame_timeout.
    std::chrono::milliseconds reassembly_timeout{60'000};
};

/// One reliable, ordered byte stream over datagrams, I/O-free (docs/protocol.md §17.5-17.7): the
/// application writes whole frames and reads what arrived in order; the network side feeds
/// received DATA datagrams in and asks for the next datagram to send. Packets carry one or
/// more whole frames, or one fragment of a frame larger than a packet. Numbered per
/// direction; cumulative and selective acknowledgements; retransmission on a timeout
/// (RFC 6298), when later packets were acknowledged (three, fewer for a small window) or a
/// later one was and a round trip passed (RACK), and a probe of the tail; a NewReno
/// congestion window bounded by the peer's receive window.
class channel {
public:
    using clock = std::chrono::steady_clock;
    using time_point = clock::time_point;

    channel(std::uint64_t cid, const channel_limits& limits);

    // The application's side.
    /// Takes up to `bytes.size()` bytes for sending; returns how many (0: the send buffer
    /// is full until acknowledgements free it).
    std::size_t write(std::span<const std::uint8_t> bytes);
    /// Copies out what arrived in order; 0 when nothing is waiting.
    std::size_t read(std::span<std::uint8_t> out, time_point now);
    std::size_t readable() const noexcept { return rbuf_.size() - rhead_; }
    /// The peer ended its stream and everything before the end was read.
    bool at_end() const noexcept { return fin_received_ && readable() == 0; }
    /// Ends this side's stream after what was written.
    void finish() noexcept { fin_wanted_ = true; }
    /// Why the channel failed (unreachable, frame_timeout, malformed); empty while it works.
    error_code failure() const noexcept { return failure_; }
    void fail(error_code why);
    /// Bytes written that the peer has not acknowledged.
    std::uint64_t unacknowledged() const noexcept { return written_ - acked_; }
    /// Both ends finished and acknowledged.
    bool closed() const noexcept { return fin_acked_ && fin_received_; }

    // The network's side.
    void receive(const data_datagram& d, time_point now);
    /// Writes the next datagram due at `now` into `out` (max_datagram bytes); 0: none.
    std::size_t next_datagram(std::span<std::uint8_t> out, time_point now);
    /// When next_datagram() has something to do without anything arriving; max(): never.
    time_point deadline() const noexcept;
    /// An acknowledgement is owed at once (after a read opened the window, say).
    bool ack_wanted() const noexcept { return ack_now_; }

    std::uint64_t cid() const noexcept { return cid_; }
    struct statistics {
        std::uint64_t sent = 0, retransmitted = 0, received = 0, duplicates = 0, acks = 0;
        std::uint32_t cwnd = 0;
        std::chrono::microseconds srtt{0};
    };
    statistics stats() const noexcept;

private:
    struct sent_packet {
        std::uint64_t offset; // in the stream
        std::uint32_t length;
        std::uint8_t flags; // flag_fin, flag_continued, flag_continues
        bool acked = false;
        bool lost = false; // waiting to go again
        std::uint8_t transmissions = 0;
        std::uint64_t tsn = 0; // transmission order of the latest copy
        time_point sent_at{};
    };
    struct held_packet { // arrived ahead of a missing one
        std::uint8_t flags;
        std::vector<std::uint8_t> payload;
    };

    // Sending.
    bool build_packet(std::uint64_t& offset, std::uint32_t& length, std::uint8_t& flags);
    std::size_t send_packet(std::span<std::uint8_t> out, std::uint64_t number, time_point now);
    std::size_t send_ack_only(std::span<std::uint8_t> out, std::uint8_t flags, time_point now);
    void fill_ack(data_datagram& d, time_point now);
    void on_timeout(time_point now);
    void on_ack(const ack_block& a, time_point now);
    void mark_acked(sent_packet& p, std::uint64_t& newest_tsn, const sent_packet*& sample);
    void detect_losses(time_point now);
    void arm_tail_probe(time_point now);
    std::size_t probe_tail(std::span<std::uint8_t> out, time_point now);
    void rtt_sample(std::chrono::microseconds rtt);
    void arm_timer(time_point now);
    bool window_open() const noexcept;
    void release_acked();
    sent_packet& packet(std::uint64_t number) { return sent_[number - snd_una_]; }

    // Receiving.
    void on_packet(const data_datagram& d, time_point now);
    bool deliver(std::uint8_t flags, std::span<const std::uint8_t> payload);
    std::uint16_t advertised_window() const noexcept;
    void watch_stall(time_point now, bool progressed);

    std::uint64_t cid_;
    channel_limits limits_;
    std::size_t max_payload_;
    error_code failure_;

    // Send side: stream bytes [sbuf_start_, written_) are in sbuf_; [acked_, sent_off_)
    // went out in packets sent_ (numbers snd_una_ ..), [sent_off_, written_) did not yet.
    std::vector<std::uint8_t> sbuf_;
    std::uint64_t sbuf_start_ = 0, acked_ = 0, sent_off_ = 0, written_ = 0;
    std::uint64_t frame_left_ = 0; // of a frame being sent in fragments
    std::deque<sent_packet> sent_;
    std::uint64_t snd_una_ = 0, snd_next_ = 0;
    std::deque<std::uint64_t> lost_; // numbers to send again, oldest first
    std::uint32_t in_flight_ = 0;    // sent, neither acknowledged nor taken for lost
    std::uint64_t next_tsn_ = 1, largest_acked_tsn_ = 0, recovery_tsn_ = 0;
    std::uint64_t peer_next_ = 0;
    std::uint32_t peer_window_;
    std::uint32_t cwnd_, ssthresh_ = UINT32_MAX, cwnd_count_ = 0;
    std::chrono::microseconds srtt_{0}, rttvar_{0}, rto_;
    std::uint32_t timeouts_ = 0;
    time_point rto_at_ = time_point::max();
    time_point tlp_at_ = time_point::max();
    time_point last_sent_{};
    bool fin_wanted_ = false, fin_sent_ = false, fin_acked_ = false, probe_due_ = false;

    // Receive side.
    std::vector<std::uint8_t> rbuf_;
    std::size_t rhead_ = 0;
    std::map<std::uint64_t, held_packet> held_;
    std::uint64_t rcv_next_ = 0;
    bool mid_frame_ = false, fin_received_ = false;
    std::uint32_t unacked_packets_ = 0;
    bool ack_now_ = false;
    std::uint16_t window_sent_ = 0;
    time_point ack_at_ = time_point::max();
    time_point newest_arrival_{};
    time_point stall_since_ = time_point::max();

    statistics stats_;
};

/// The 64-bit number nearest `expected` whose low 32 bits are `truncated`.
std::uint64_t expand_number(std::uint32_t truncated, std::uint64_t expected) noexcept;

} // namespace libnet::detail::udp

#endif
