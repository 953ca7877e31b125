// SPDX-License-Identifier: BSL-1.0
#include "../../libnet/src/wire/frame_block.hpp"

#include <catch2/catch.hpp>

#include <cstring>
#include <string>

// The connection's open block: frames appended in place, sealed into one shared frame.

using libnet::detail::frame_block;

namespace {
void fill(frame_block& b, std::size_t n, char c) {
    auto out = b.append(n);
    REQUIRE(out.size() == n);
    std::memset(out.data(), c, n);
}
std::string text(const libnet::detail::shared_frame& f) {
    return {reinterpret_cast<const char*>(f.data.get()), f.size};
}
} // namespace

TEST_CASE("frame_block: appended frames survive growth and seal into one frame") {
    frame_block b;
    CHECK(b.empty());
    std::string expected;
    for (int i = 0; i < 40; ++i) { // past several doublings
        fill(b, 100, static_cast<char>('a' + i % 26));
        expected += std::string(100, static_cast<char>('a' + i % 26));
    }
    CHECK(b.size() == 4000);
    auto const f = b.seal();
    CHECK(f.frames == 40);
    CHECK(text(f) == expected);
    CHECK(b.empty());
    CHECK(b.size() == 0);
    fill(b, 10, 'z'); // the block starts over; the sealed frame is untouched
    CHECK(text(b.seal()) == std::string(10, 'z'));
    CHECK(text(f) == expected);
}

TEST_CASE("frame_block: a frame that would pass max_size asks for a seal first") {
    frame_block b;
    CHECK_FALSE(b.full_for(frame_block::max_size * 2)); // empty: any frame fits, alone
    fill(b, frame_block::max_size - 100, 'x');
    CHECK_FALSE(b.full_for(100));
    CHECK(b.full_for(101));
    auto const f = b.seal();
    CHECK(f.size == frame_block::max_size - 100);
    fill(b, frame_block::max_size * 2, 'y'); // larger than a block: still one frame
    CHECK(b.seal().size == frame_block::max_size * 2);
}

TEST_CASE("frame_block: clear forgets the frames") {
    frame_block b;
    fill(b, 50, 'c');
    b.clear();
    CHECK(b.empty());
    CHECK(b.seal().size == 0);
}
