// SPDX-License-Identifier: BSL-1.0
// libFuzzer target for the frame codec, frame_reader and the typed message decoders.
//
// Input: a 4-byte prefix, then the byte stream.
//   [0..1] max value size (u16, big-endian): small, so frame_too_large is reachable
//   [2]    largest chunk handed to frame_reader, minus 1 (0: one byte at a time)
//   [3]    frame_reader read size, minus 1
// All four prefix bytes also seed the chunk sizes, so the split positions are fuzzed.
#include <libnet/codec.hpp>
#include <libnet/detail/frame_reader.hpp>
#include <libnet/messages.hpp>

#include <boost/endian/conversion.hpp>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <tuple>
#include <type_traits>
#include <vector>

using namespace libnet;
using bytes_view = std::span<const std::uint8_t>;

#define FUZZ_CHECK(cond) ((cond) ? void() : fail(#cond, __LINE__))

namespace {

[[noreturn]] void fail(const char* what, int line) {
    std::fprintf(stderr, "fuzz_decoder.cpp:%d: check failed: %s\n", line, what);
    std::abort();
}

constexpr std::size_t prefix_size = 4;
constexpr auto no_limit = std::numeric_limits<std::uint32_t>::max();

struct params {
    std::uint32_t max_value;
    std::size_t max_chunk;
    std::size_t read_size;
    std::uint32_t seed;
};

void check_result(const decode_result& r, bytes_view in) {
    switch (r.status) {
    case decode_status::ok:
        FUZZ_CHECK(r.consumed == frame_header_size + r.frame.value.size());
        FUZZ_CHECK(r.consumed <= in.size());
        FUZZ_CHECK(r.frame.value.data() == in.data() + frame_header_size);
        FUZZ_CHECK(r.frame.type == boost::endian::load_big_u16(in.data()));
        break;
    case decode_status::need_more:
        FUZZ_CHECK(r.consumed == 0 && r.needed > in.size());
        break;
    case decode_status::error:
        FUZZ_CHECK(r.ec == error::frame_too_large && in.size() >= frame_header_size);
        break;
    }
}

// What repeated decode_frame calls on the whole buffer see.
struct reference {
    std::vector<frame_view> frames;
    decode_result last; // the first result that is not ok
    std::size_t rest = 0;
};

reference decode_all(bytes_view in, std::uint32_t max_value) {
    reference ref;
    for (;;) {
        auto const r = decode_frame(in, max_value);
        check_result(r, in);
        if (r.status != decode_status::ok) {
            ref.last = r;
            ref.rest = in.size();
            return ref;
        }
        ref.frames.push_back(r.frame);
        in = in.subspan(r.consumed);
    }
}

bool same_frame(const frame_view& a, const frame_view& b) {
    return a.type == b.type && std::ranges::equal(a.value, b.value);
}

std::size_t next_chunk(params& p) {
    p.seed = p.seed * 1103515245u + 12345u;
    return 1 + (p.seed >> 16) % p.max_chunk;
}

// frame_reader fed in chunks must yield exactly the reference's frames, then its outcome.
void check_reader(bytes_view in, params p, const reference& ref) {
    detail::frame_reader reader(p.max_value, p.read_size);
    std::size_t seen = 0;
    auto last = reader.next();
    while (!in.empty()) {
        auto const buf = reader.prepare();
        auto const n = std::min({next_chunk(p), in.size(), buf.size()});
        FUZZ_CHECK(n > 0);
        std::memcpy(buf.data(), in.data(), n);
        reader.commit(n);
        in = in.subspan(n);
        for (last = reader.next(); last.status == decode_status::ok; last = reader.next())
            FUZZ_CHECK(seen < ref.frames.size() && same_frame(last.frame, ref.frames[seen++]));
        if (last.status == decode_status::error)
            break;
    }
    FUZZ_CHECK(seen == ref.frames.size());
    FUZZ_CHECK(last.status == ref.last.status && last.ec == ref.last.ec);
    if (last.status == decode_status::need_more)
        FUZZ_CHECK(reader.buffered() == ref.rest && last.needed == ref.last.needed);
}

auto fields(const msg::directory_entry& e) {
    return std::tie(e.id, e.join_seq, e.endpoint);
}
auto fields(const msg::hello& m) {
    return std::tie(m.version, m.id, m.endpoint, m.credentials, m.flags, m.seq);
}
auto fields(const msg::welcome& m) {
    return std::tie(m.version, m.id, m.max_frame, m.heartbeat_ms, m.heartbeat_misses, m.peer_key,
                    m.flags, m.seq, m.pending);
}
auto fields(const msg::joined& m) {
    return fields(m.entry);
}
auto fields(const msg::left& m) {
    return std::tie(m.id, m.join_seq, m.reason);
}
auto fields(const msg::send& m) {
    return std::tie(m.to, m.body, m.ref, m.link, m.link_seq, m.flags, m.ttl_ms);
}
auto fields(const msg::deliver& m) {
    return std::tie(m.from, m.body, m.seq, m.flags, m.link, m.link_seq);
}
auto fields(const msg::app& m) {
    return std::tie(m.type, m.to, m.from, m.body, m.ref, m.seq, m.link, m.link_seq, m.flags,
                    m.ttl_ms);
}
auto fields(const msg::ack& m) {
    return std::tie(m.seq, m.flags);
}
auto fields(const msg::get& m) {
    return std::tie(m.count, m.ref);
}
auto fields(const msg::fetched& m) {
    return std::tie(m.count, m.pending, m.ref);
}
auto fields(const msg::stored& m) {
    return std::tie(m.ref, m.to, m.count, m.flags);
}
auto fields(const msg::lookup& m) {
    return std::tie(m.id, m.ref);
}
auto fields(const msg::presence& m) {
    return std::tie(m.id, m.join_seq, m.endpoint, m.ref);
}
auto fields(const msg::intro_request& m) {
    return std::tie(m.to, m.ref);
}
auto fields(const msg::introduction& m) {
    return std::tie(m.id, m.endpoint, m.token, m.proof, m.expires, m.ref);
}
auto fields(const msg::peer_hello& m) {
    return std::tie(m.version, m.id, m.token, m.link);
}
auto fields(const msg::peer_welcome& m) {
    return std::tie(m.version, m.id, m.proof);
}
auto fields(const msg::broadcast& m) {
    return std::tie(m.body, m.ref, m.flags, m.ttl_ms);
}
auto fields(const msg::error& m) {
    return std::tie(m.code, m.text, m.ref, m.ref_type, m.id);
}
auto fields(const msg::term& m) {
    return std::tie(m.reason, m.text, m.by);
}
auto fields(const msg::bye&) {
    return std::tie();
}
auto fields(const msg::ping& m) {
    return std::tie(m.nonce);
}
auto fields(const msg::pong& m) {
    return std::tie(m.nonce);
}

template <class M>
bool equal(const M& a, const M& b) {
    return fields(a) == fields(b);
}

bool equal(const msg::directory& a, const msg::directory& b) {
    auto const proj = [](const msg::directory_entry& e) {
        return fields(e);
    };
    return std::ranges::equal(a.entries, b.entries, {}, proj, proj);
}

std::size_t count_fields(bytes_view body, msg::tag t) {
    field_reader r(body);
    field_view f;
    std::size_t n = 0;
    while (r.next(f))
        n += f.tag == static_cast<std::uint16_t>(t);
    return n;
}

// Decodes `f` as M; a success must survive encode -> decode unchanged, and re-encoding is
// idempotent. Bytes are not compared with `f` itself: encoders drop empty optional fields.
template <class M>
void check_message(frame_view f) {
    M m;
    auto const ec = msg::decode(f, m);
    bool is_m = false;
    if constexpr (std::is_same_v<M, msg::app>)
        is_m = is_app_type(f.type);
    else
        is_m = f.type == static_cast<std::uint16_t>(M::type);
    if (!is_m) {
        FUZZ_CHECK(ec == error::unexpected_frame);
        return;
    }
    if (ec)
        return;
    if constexpr (std::is_same_v<M, msg::directory>)
        FUZZ_CHECK(m.entries.size() == count_fields(f.value, msg::tag::entry));

    std::vector<std::uint8_t> once;
    msg::encode(m, once);
    FUZZ_CHECK(once.size() == msg::encoded_size(m));
    auto const r = decode_frame(once, no_limit);
    FUZZ_CHECK(r.status == decode_status::ok && r.consumed == once.size() &&
               r.frame.type == f.type);
    M again;
    FUZZ_CHECK(!msg::decode(r.frame, again));
    FUZZ_CHECK(equal(m, again));

    std::vector<std::uint8_t> twice;
    msg::encode(again, twice);
    FUZZ_CHECK(once == twice);
}

template <class... M>
void check_messages(frame_view f) {
    (check_message<M>(f), ...);
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size < prefix_size)
        return 0;
    params const p{boost::endian::load_big_u16(data), std::size_t{data[2]} + 1,
                   std::size_t{data[3]} + 1, boost::endian::load_big_u32(data)};
    bytes_view const in(data + prefix_size, size - prefix_size);

    check_result(decode_frame(in, no_limit), in); // lengths up to 2^32 - 1 must not wrap
    auto const ref = decode_all(in, p.max_value);
    check_reader(in, p, ref);
    for (auto const& f : ref.frames)
        check_messages<msg::hello, msg::welcome, msg::directory, msg::joined, msg::left, msg::send,
                       msg::deliver, msg::broadcast, msg::error, msg::term, msg::bye, msg::ping,
                       msg::pong, msg::app, msg::ack, msg::get, msg::fetched, msg::stored,
                       msg::lookup, msg::presence, msg::intro_request, msg::introduction,
                       msg::peer_hello, msg::peer_welcome>(f);
    return 0;
}
