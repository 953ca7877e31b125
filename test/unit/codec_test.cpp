// SPDX-License-Identifier: BSL-1.0
#include <libnet/codec.hpp>
#include <libnet/detail/frame_reader.hpp>
#include <libnet/messages.hpp>

#include <catch2/catch.hpp>

#include <cstring>
#include <limits>
#include <numeric>
#include <vector>

using namespace libnet;
using bytes = std::vector<std::uint8_t>;

namespace {

bytes frame(std::uint16_t type, std::size_t len, std::uint8_t fill = 0xAB) {
    bytes value(len, fill);
    bytes out;
    append_frame(out, type, value);
    return out;
}

bytes header_only(std::uint16_t type, std::uint32_t len) {
    bytes h(frame_header_size);
    write_header(h.data(), type, len);
    return h;
}

// Decodes every frame in `in`, feeding it in chunks of `chunk` bytes through frame_reader.
std::vector<std::pair<std::uint16_t, bytes>> decode_chunked(const bytes& in, std::size_t chunk) {
    detail::frame_reader reader(default_max_frame_size, 7);
    std::vector<std::pair<std::uint16_t, bytes>> out;
    std::size_t pos = 0;
    while (pos < in.size()) {
        auto buf = reader.prepare();
        auto n = std::min({chunk, buf.size(), in.size() - pos});
        std::memcpy(buf.data(), in.data() + pos, n);
        reader.commit(n);
        pos += n;
        for (;;) {
            auto r = reader.next();
            REQUIRE(r.status != decode_status::error);
            if (r.status == decode_status::need_more)
                break;
            out.emplace_back(r.frame.type, bytes(r.frame.value.begin(), r.frame.value.end()));
        }
    }
    CHECK(reader.buffered() == 0);
    return out;
}

} // namespace

TEST_CASE("decode_frame: header and value layout is big-endian type, length, value") {
    bytes in{0x00, 0x06, 0x00, 0x00, 0x00, 0x03, 'a', 'b', 'c', 0xFF};
    auto r = decode_frame(in);
    REQUIRE(r.status == decode_status::ok);
    CHECK(r.frame.type == 0x0006);
    CHECK(r.consumed == 9);
    CHECK(std::string(r.frame.value.begin(), r.frame.value.end()) == "abc");
}

TEST_CASE("decode_frame: every prefix of a frame needs more and says how much") {
    auto const f = frame(0x8001, 100);
    for (std::size_t n = 0; n < f.size(); ++n) {
        auto r = decode_frame(std::span(f.data(), n));
        INFO("prefix " << n);
        REQUIRE(r.status == decode_status::need_more);
        CHECK(r.needed == (n < frame_header_size ? frame_header_size : f.size()));
    }
    CHECK(decode_frame(f).status == decode_status::ok);
}

TEST_CASE("decode_frame: zero-length value") {
    auto const f = frame(0x000B, 0);
    auto r = decode_frame(f);
    REQUIRE(r.status == decode_status::ok);
    CHECK(r.frame.value.empty());
    CHECK(r.consumed == frame_header_size);
}

TEST_CASE("decode_frame: exactly the maximum is accepted, one more is rejected") {
    constexpr std::uint32_t max = 4096;
    auto const at_max = frame(1, max);
    auto r = decode_frame(at_max, max);
    REQUIRE(r.status == decode_status::ok);
    CHECK(r.frame.value.size() == max);

    auto const over = header_only(1, max + 1);
    auto e = decode_frame(over, max);
    REQUIRE(e.status == decode_status::error);
    CHECK(e.ec == error::frame_too_large);
}

TEST_CASE("decode_frame: oversize is reported from the header alone, before the value") {
    // Only 6 bytes are present; a decoder that waited for the value would say need_more.
    auto const h = header_only(1, default_max_frame_size + 1);
    auto r = decode_frame(h);
    REQUIRE(r.status == decode_status::error);
    CHECK(r.ec == error::frame_too_large);
}

TEST_CASE("decode_frame: lengths near 2^32 do not overflow") {
    auto const max = std::numeric_limits<std::uint32_t>::max();
    for (std::uint32_t len : {max, max - 1, max - 5, max - 6}) {
        auto h = header_only(1, len);
        h.resize(64, 0);
        INFO("len " << len);
        // With the limit disabled the frame is simply incomplete, never "complete".
        auto r = decode_frame(h, max);
        CHECK(r.status == decode_status::need_more);
        CHECK(r.needed == frame_header_size + std::size_t{len});
        // With the default limit it is an error.
        CHECK(decode_frame(h).status == decode_status::error);
    }
}

TEST_CASE("frame_reader: many frames in one buffer, split at every position") {
    bytes stream;
    std::vector<std::pair<std::uint16_t, std::size_t>> shape{
        {1, 0}, {2, 1}, {3, 5}, {0x8000, 64}, {0xFFFF, 300}, {7, 0}, {9, 17}};
    for (auto [t, n] : shape) {
        auto f = frame(t, n, static_cast<std::uint8_t>(n));
        stream.insert(stream.end(), f.begin(), f.end());
    }

    SECTION("1 byte at a time and in every chunk size") {
        for (std::size_t chunk : {std::size_t{1}, std::size_t{2}, std::size_t{5}, std::size_t{6},
                                  std::size_t{7}, std::size_t{64}, stream.size()}) {
            INFO("chunk " << chunk);
            auto got = decode_chunked(stream, chunk);
            REQUIRE(got.size() == shape.size());
            for (std::size_t i = 0; i < shape.size(); ++i) {
                CHECK(got[i].first == shape[i].first);
                CHECK(got[i].second ==
                      bytes(shape[i].second, static_cast<std::uint8_t>(shape[i].second)));
            }
        }
    }
    SECTION("two reads split at every position") {
        for (std::size_t split = 0; split <= stream.size(); ++split) {
            detail::frame_reader reader(default_max_frame_size);
            std::size_t frames = 0;
            for (auto [from, to] :
                 {std::pair{std::size_t{0}, split}, std::pair{split, stream.size()}}) {
                auto buf = reader.prepare();
                REQUIRE(buf.size() >= to - from);
                std::memcpy(buf.data(), stream.data() + from, to - from);
                reader.commit(to - from);
                for (auto r = reader.next(); r.status == decode_status::ok; r = reader.next()) {
                    REQUIRE(frames < shape.size());
                    CHECK(r.frame.type == shape[frames].first);
                    CHECK(r.frame.value.size() == shape[frames].second);
                    ++frames;
                }
            }
            INFO("split " << split);
            CHECK(frames == shape.size());
        }
    }
}

TEST_CASE("frame_reader: a hostile length never grows the buffer") {
    detail::frame_reader reader(1024, 64);
    auto h = header_only(1, 0x7FFFFFFF);
    auto buf = reader.prepare();
    std::memcpy(buf.data(), h.data(), h.size());
    reader.commit(h.size());
    auto r = reader.next();
    REQUIRE(r.status == decode_status::error);
    CHECK(r.ec == error::frame_too_large);
    CHECK(reader.prepare().size() <= 64);
}

namespace {

// Feeds `bytes` through `reader` as socket reads would, returning the frames' sizes.
std::vector<std::size_t> feed(detail::frame_reader& reader, const bytes& in) {
    std::vector<std::size_t> sizes;
    for (std::size_t at = 0; at < in.size();) {
        auto const buf = reader.prepare();
        auto const n = std::min(buf.size(), in.size() - at);
        std::memcpy(buf.data(), in.data() + at, n);
        reader.commit(n);
        at += n;
        for (auto r = reader.next(); r.status == decode_status::ok; r = reader.next())
            sizes.push_back(r.frame.value.size());
    }
    return sizes;
}

} // namespace

TEST_CASE("frame_reader: nothing held before the first read, little for small frames") {
    detail::frame_reader reader(default_max_frame_size, 16 * 1024, 1024);
    CHECK(reader.capacity() == 0);
    bytes hello(frame_header_size + 20, 0);
    write_header(hello.data(), 1, 20);
    CHECK(feed(reader, hello) == std::vector<std::size_t>{20});
    CHECK(reader.capacity() <= 1024);
}

TEST_CASE("frame_reader: a buffer grown for one large frame is given back once drained") {
    detail::frame_reader reader(default_max_frame_size, 16 * 1024, 1024);
    bytes big(frame_header_size + 300'000, 'x');
    write_header(big.data(), 6, 300'000);
    CHECK(feed(reader, big) == std::vector<std::size_t>{300'000});
    CHECK(reader.capacity() >= 300'000);
    bytes small(frame_header_size + 10, 0);
    write_header(small.data(), 6, 10);
    CHECK(feed(reader, small) == std::vector<std::size_t>{10});
    CHECK(reader.capacity() <= 2 * 16 * 1024);
}

TEST_CASE("frame_reader: reads grow while they fill the space and shrink when they don't") {
    detail::frame_reader reader(default_max_frame_size, 16 * 1024, 1024);
    bytes stream;
    for (int i = 0; i < 2000; ++i) { // 140 kB of small frames, read in one go
        bytes f(frame_header_size + 64, 'y');
        write_header(f.data(), 6, 64);
        stream.insert(stream.end(), f.begin(), f.end());
    }
    CHECK(feed(reader, stream).size() == 2000);
    CHECK(reader.prepare().size() >= 16 * 1024); // reads reached the most asked
    bytes one(frame_header_size + 4, 0);
    write_header(one.data(), 6, 4);
    for (int i = 0; i < 200; ++i) // a trickle of tiny reads: the buffer is given back
        CHECK(feed(reader, one).size() == 1);
    CHECK(reader.capacity() <= 4 * 1024);
}

TEST_CASE("frame_reader: the limit can be raised, e.g. once a connection has registered") {
    detail::frame_reader reader(1024, 64);
    bytes f(frame_header_size + 2048, 'z');
    write_header(f.data(), 6, 2048);
    auto buf = reader.prepare();
    std::memcpy(buf.data(), f.data(), frame_header_size);
    reader.commit(frame_header_size);
    CHECK(reader.next().ec == error::frame_too_large);
    detail::frame_reader raised(1024, 64);
    raised.set_max_value(4096);
    CHECK(feed(raised, f) == std::vector<std::size_t>{2048});
}

TEST_CASE("field_reader: malformed nested lengths are errors, not reads past the end") {
    bytes body;
    bytes field_header(field_header_size);
    SECTION("truncated field header") {
        body = {0x00, 0x01, 0x00};
    }
    SECTION("length past the end") {
        write_header(field_header.data(), 2, 10);
        body = field_header;
        body.push_back('x');
    }
    SECTION("length near 2^32") {
        write_header(field_header.data(), 2, 0xFFFFFFFF);
        body = field_header;
        body.resize(32, 0);
    }
    field_reader r(body);
    field_view f;
    while (r.next(f)) {
    }
    CHECK(r.error() == error::malformed_field);
}

TEST_CASE("field_reader: well-formed fields, including empty ones") {
    bytes body;
    msg::detail::field_writer w{nullptr};
    bytes buf(64);
    w.pos = buf.data();
    w.str(msg::tag::body, "");
    w.u16(msg::tag::code, 0xBEEF);
    w.str(msg::tag::text, "hi");
    buf.resize(static_cast<std::size_t>(w.pos - buf.data()));
    field_reader r(buf);
    field_view f;
    REQUIRE(r.next(f));
    CHECK(f.tag == 14);
    CHECK(f.value.empty());
    REQUIRE(r.next(f));
    std::uint16_t v = 0;
    CHECK(read_uint(f, v));
    CHECK(v == 0xBEEF);
    std::uint32_t wrong = 0;
    CHECK_FALSE(read_uint(f, wrong));
    REQUIRE(r.next(f));
    CHECK(f.str() == "hi");
    CHECK_FALSE(r.next(f));
    CHECK_FALSE(r.error());
}
