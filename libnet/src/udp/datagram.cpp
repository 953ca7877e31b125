// SPDX-License-Identifier: BSL-1.0
#include "datagram.hpp"

#include <boost/endian/conversion.hpp>

#include <algorithm>
#include <cstring>

namespace libnet::detail::udp {

namespace {

namespace be = boost::endian;

// Reads fields in order; a read past the end leaves it failed.
class reader {
public:
    explicit reader(std::span<const std::uint8_t> in) : in_(in) {}
    bool ok() const noexcept { return ok_; }
    std::size_t left() const noexcept { return in_.size() - at_; }
    std::uint8_t u8() { return take(1) ? in_[at_ - 1] : 0; }
    std::uint16_t u16() { return take(2) ? be::load_big_u16(&in_[at_ - 2]) : 0; }
    std::uint32_t u32() { return take(4) ? be::load_big_u32(&in_[at_ - 4]) : 0; }
    std::uint64_t u64() { return take(8) ? be::load_big_u64(&in_[at_ - 8]) : 0; }
    template <std::size_t N>
    std::array<std::uint8_t, N> bytes() {
        std::array<std::uint8_t, N> out{};
        if (take(N))
            std::memcpy(out.data(), &in_[at_ - N], N);
        return out;
    }
    std::span<const std::uint8_t> rest() {
        auto r = in_.subspan(at_);
        at_ = in_.size();
        return r;
    }

private:
    bool take(std::size_t n) {
        if (!ok_ || left() < n)
            return ok_ = false;
        at_ += n;
        return true;
    }
    std::span<const std::uint8_t> in_;
    std::size_t at_ = 0;
    bool ok_ = true;
};

class writer {
public:
    explicit writer(std::span<std::uint8_t> out) : out_(out) {}
    void u8(std::uint8_t v) { out_[at_++] = v; }
    void u16(std::uint16_t v) { be::store_big_u16(&out_[advance(2)], v); }
    void u32(std::uint32_t v) { be::store_big_u32(&out_[advance(4)], v); }
    void u64(std::uint64_t v) { be::store_big_u64(&out_[advance(8)], v); }
    void bytes(std::span<const std::uint8_t> b) {
        auto* to = &out_[advance(b.size())];
        if (to != b.data() && !b.empty())
            std::memmove(to, b.data(), b.size());
    }
    std::size_t size() const noexcept { return at_; }

private:
    std::size_t advance(std::size_t n) {
        auto const at = at_;
        at_ += n;
        return at;
    }
    std::span<std::uint8_t> out_;
    std::size_t at_ = 0;
};

decoded fail(decode_error e) {
    return {std::nullopt, e};
}

decoded done(reader& r, datagram d) {
    if (!r.ok())
        return fail(decode_error::truncated);
    if (r.left() != 0)
        return fail(decode_error::trailing_bytes);
    return {std::move(d), decode_error::empty};
}

decoded decode_init(reader& r, std::size_t size) {
    if (r.u8() != version)
        return fail(r.ok() ? decode_error::bad_version : decode_error::truncated);
    init_datagram d;
    d.nonce = r.u64();
    auto const cookie_len = r.u8();
    if (cookie_len == cookie_size)
        d.cookie = r.bytes<cookie_size>();
    else if (cookie_len != 0)
        return fail(decode_error::truncated);
    if (!r.ok())
        return fail(decode_error::truncated);
    if (size < min_init_size)
        return fail(decode_error::too_short);
    r.rest(); // padding
    return done(r, d);
}

bool decode_ack(reader& r, ack_block& a) {
    a.next = r.u32();
    a.window = r.u16();
    a.delay = r.u16();
    a.count = r.u8();
    if (a.count > max_ack_ranges)
        return false;
    for (std::size_t i = 0; i < a.count; ++i) {
        a.ranges[i].gap = r.u16();
        a.ranges[i].length = r.u16();
        // Every range begins past a missing packet and holds at least one.
        if (r.ok() && (a.ranges[i].gap == 0 || a.ranges[i].length == 0))
            return false;
    }
    return true;
}

decoded decode_data(reader& r) {
    data_datagram d;
    d.cid = r.u64();
    d.flags = r.u8();
    if (!r.ok())
        return fail(decode_error::truncated);
    auto const f = d.flags;
    bool const packet = f & flag_packet;
    if ((f & ~data_flags_known) != 0 || (f & (flag_ack | flag_packet | flag_ack_request)) == 0 ||
        (!packet && (f & (flag_fin | flag_continued | flag_continues))) ||
        ((f & flag_fin) && (f & (flag_continued | flag_continues))))
        return fail(decode_error::bad_flags);
    if ((f & flag_ack) && !decode_ack(r, d.ack))
        return fail(r.ok() ? decode_error::bad_ranges : decode_error::truncated);
    if (packet) {
        d.number = r.u32();
        d.payload = r.rest();
        if (r.ok() && ((f & flag_fin) != 0) != d.payload.empty())
            return fail(decode_error::bad_flags); // a FIN has no payload; nothing else is empty
    }
    return done(r, d);
}

} // namespace

const char* to_string(decode_error e) noexcept {
    switch (e) {
    case decode_error::empty:
        return "empty datagram";
    case decode_error::unknown_kind:
        return "unknown datagram kind";
    case decode_error::bad_version:
        return "unsupported version";
    case decode_error::truncated:
        return "truncated datagram";
    case decode_error::bad_flags:
        return "invalid flags";
    case decode_error::bad_ranges:
        return "invalid acknowledgement ranges";
    case decode_error::trailing_bytes:
        return "bytes after the datagram's end";
    case decode_error::too_short:
        return "INIT shorter than 64 bytes";
    }
    return "malformed datagram";
}

decoded decode(std::span<const std::uint8_t> in) {
    if (in.empty())
        return fail(decode_error::empty);
    reader r(in.subspan(1));
    switch (static_cast<kind>(in[0])) {
    case kind::init:
        return decode_init(r, in.size());
    case kind::cookie: {
        if (r.u8() != version)
            return fail(r.ok() ? decode_error::bad_version : decode_error::truncated);
        cookie_datagram d;
        d.nonce = r.u64();
        d.cookie = r.bytes<cookie_size>();
        return done(r, d);
    }
    case kind::accept: {
        if (r.u8() != version)
            return fail(r.ok() ? decode_error::bad_version : decode_error::truncated);
        accept_datagram d;
        d.nonce = r.u64();
        d.cid = r.u64();
        d.max_datagram = r.u16();
        return done(r, d);
    }
    case kind::data:
        return decode_data(r);
    case kind::reset:
        return done(r, reset_datagram{r.u64()});
    case kind::challenge:
    case kind::response: {
        path_datagram d;
        d.response = static_cast<kind>(in[0]) == kind::response;
        d.cid = r.u64();
        d.token = r.u64();
        return done(r, d);
    }
    }
    return fail(decode_error::unknown_kind);
}

std::size_t encode(const init_datagram& d, std::span<std::uint8_t> out) {
    writer w(out);
    w.u8(static_cast<std::uint8_t>(kind::init));
    w.u8(version);
    w.u64(d.nonce);
    w.u8(d.cookie ? cookie_size : 0);
    if (d.cookie)
        w.bytes(*d.cookie);
    auto const n = std::max(w.size(), min_init_size);
    std::fill(out.begin() + static_cast<std::ptrdiff_t>(w.size()),
              out.begin() + static_cast<std::ptrdiff_t>(n), std::uint8_t{0});
    return n;
}

std::size_t encode(const cookie_datagram& d, std::span<std::uint8_t> out) {
    writer w(out);
    w.u8(static_cast<std::uint8_t>(kind::cookie));
    w.u8(version);
    w.u64(d.nonce);
    w.bytes(d.cookie);
    return w.size();
}

std::size_t encode(const accept_datagram& d, std::span<std::uint8_t> out) {
    writer w(out);
    w.u8(static_cast<std::uint8_t>(kind::accept));
    w.u8(version);
    w.u64(d.nonce);
    w.u64(d.cid);
    w.u16(d.max_datagram);
    return w.size();
}

std::size_t encode(const reset_datagram& d, std::span<std::uint8_t> out) {
    writer w(out);
    w.u8(static_cast<std::uint8_t>(kind::reset));
    w.u64(d.cid);
    return w.size();
}

std::size_t encode(const path_datagram& d, std::span<std::uint8_t> out) {
    writer w(out);
    w.u8(static_cast<std::uint8_t>(d.response ? kind::response : kind::challenge));
    w.u64(d.cid);
    w.u64(d.token);
    return w.size();
}

std::size_t data_header_size(const data_datagram& d) noexcept {
    std::size_t n = 1 + 8 + 1;
    if (d.flags & flag_ack)
        n += ack_block_size(d.ack.count);
    if (d.flags & flag_packet)
        n += 4;
    return n;
}

std::size_t encode(const data_datagram& d, std::span<std::uint8_t> out) {
    writer w(out);
    w.u8(static_cast<std::uint8_t>(kind::data));
    w.u64(d.cid);
    w.u8(d.flags);
    if (d.flags & flag_ack) {
        w.u32(d.ack.next);
        w.u16(d.ack.window);
        w.u16(d.ack.delay);
        w.u8(d.ack.count);
        for (std::size_t i = 0; i < d.ack.count; ++i) {
            w.u16(d.ack.ranges[i].gap);
            w.u16(d.ack.ranges[i].length);
        }
    }
    if (d.flags & flag_packet) {
        w.u32(d.number);
        w.bytes(d.payload);
    }
    return w.size();
}

} // namespace libnet::detail::udp
