// SPDX-License-Identifier: BSL-1.0
// libFuzzer target for the UDP transport's datagram decoder and the channel that takes
// what it decodes (docs/protocol.md §17).
//
// Input: datagrams, each a u16 big-endian length and that many bytes. Every one is
// decoded; a valid one must encode back to the same bytes (an INIT to the same start),
// and a DATA is handed to a channel, which answers as it would on the wire. Whatever the
// input, the channel keeps within its window.
#include "../../libnet/src/udp/channel.hpp"
#include "../../libnet/src/udp/datagram.hpp"

#include <boost/endian/conversion.hpp>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

using namespace libnet::detail::udp;

#define FUZZ_CHECK(cond) ((cond) ? void() : fail(#cond, __LINE__))

namespace {

[[noreturn]] void fail(const char* what, int line) {
    std::fprintf(stderr, "fuzz_datagram.cpp:%d: check failed: %s\n", line, what);
    std::abort();
}

void round_trip(std::span<const std::uint8_t> in, const datagram& d) {
    std::vector<std::uint8_t> out(max_datagram + 64);
    auto const n = std::visit([&](const auto& v) { return encode(v, out); }, d);
    if (std::holds_alternative<init_datagram>(d)) {
        auto const head = std::get<init_datagram>(d).cookie ? 11 + cookie_size : 11;
        FUZZ_CHECK(n >= head && in.size() >= head);
        FUZZ_CHECK(std::memcmp(out.data(), in.data(), head) == 0);
        return;
    }
    FUZZ_CHECK(n == in.size());
    FUZZ_CHECK(std::memcmp(out.data(), in.data(), n) == 0);
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    channel_limits limits;
    limits.window = 16;
    channel ch(1, limits);
    auto now = channel::time_point() + std::chrono::hours(1);
    std::vector<std::uint8_t> out(limits.max_datagram);
    std::uint8_t sink[4096];
    std::vector<std::uint8_t> frame(40, 0);
    boost::endian::store_big_u32(frame.data() + 2, 34);
    (void)ch.write(frame);
    while (size >= 2) {
        std::size_t n = boost::endian::load_big_u16(data);
        data += 2;
        size -= 2;
        n = std::min(n, size);
        std::span<const std::uint8_t> in(data, n);
        data += n;
        size -= n;
        auto const r = decode(in);
        if (!r.value)
            continue;
        round_trip(in, *r.value);
        if (auto* d = std::get_if<data_datagram>(&*r.value)) {
            ch.receive(*d, now);
            FUZZ_CHECK(ch.readable() <= std::size_t{limits.window} * limits.max_datagram);
            for (std::size_t m; (m = ch.next_datagram(out, now)) != 0;)
                FUZZ_CHECK(decode({out.data(), m}).value); // what it sends is well formed
            (void)ch.read(sink, now);
        }
        now += std::chrono::milliseconds(50);
        if (ch.deadline() <= now)
            (void)ch.next_datagram(out, now);
    }
    return 0;
}
