// SPDX-License-Identifier: BSL-1.0
// GET, STORED, FETCHED and the mailbox fields of the older messages.
#include <libnet/messages.hpp>

#include <catch2/catch.hpp>

#include <vector>

using namespace libnet;
using bytes = std::vector<std::uint8_t>;

namespace {

template <class M>
M round_trip(const M& in, bytes& storage) {
    storage.clear();
    msg::encode(in, storage);
    REQUIRE(storage.size() == msg::encoded_size(in));
    auto r = decode_frame(storage);
    REQUIRE(r.status == decode_status::ok);
    REQUIRE(r.consumed == storage.size());
    REQUIRE(r.frame.type == msg::detail::type_of(in));
    M out;
    REQUIRE_FALSE(msg::decode(r.frame, out));
    return out;
}

} // namespace

TEST_CASE("mailbox messages: GET, FETCHED and STORED round-trip") {
    bytes s;
    auto g = round_trip(msg::get{100, 12}, s);
    CHECK(g.count == 100);
    CHECK(g.ref == 12);
    auto f = round_trip(msg::fetched{2, 5, 12}, s);
    CHECK(f.count == 2);
    CHECK(f.pending == 5);
    CHECK(f.ref == 12);
    auto none = round_trip(msg::fetched{}, s); // count and pending are always written
    CHECK(none.count == 0);
    CHECK(none.pending == 0);
    auto st = round_trip(msg::stored{10, "bob", 1, msg::stored_durable}, s);
    CHECK(st.ref == 10);
    CHECK(st.to == "bob");
    CHECK(st.count == 1);
    CHECK(st.flags == msg::stored_durable);
    auto all = round_trip(msg::stored{11, "", 3, 0}, s); // a broadcast: no recipient
    CHECK(all.to.empty());
    CHECK(all.count == 3);
    CHECK(all.flags == 0);
}

TEST_CASE("mailbox messages: the new fields of HELLO, WELCOME, SEND, BROADCAST, DELIVER and "
          "application frames round-trip") {
    bytes s;
    auto h = round_trip(msg::hello{1, "bob", "", "pw", msg::hello_pull, 1ull << 40}, s);
    CHECK(h.id == "bob");
    CHECK(h.credentials == "pw");
    CHECK(h.flags == msg::hello_pull);
    CHECK(h.seq == 1ull << 40);
    auto w = round_trip(
        msg::welcome{
            1, "bob", 4096, 5000, 3, {}, msg::welcome_mailbox | msg::welcome_durable, 41, 7},
        s);
    CHECK(w.flags == (msg::welcome_mailbox | msg::welcome_durable));
    CHECK(w.seq == 41);
    CHECK(w.pending == 7);
    CHECK(w.max_frame == 4096);
    auto se = round_trip(
        msg::send{.to = "bob", .body = "hi", .ref = 9, .flags = msg::flag_confirm, .ttl_ms = 60000},
        s);
    CHECK(se.flags == msg::flag_confirm);
    CHECK(se.ttl_ms == 60000);
    CHECK(se.ref == 9);
    auto b = round_trip(msg::broadcast{"all", 3, msg::flag_confirm, 0xFFFFFFFF}, s);
    CHECK(b.flags == msg::flag_confirm);
    CHECK(b.ttl_ms == 0xFFFFFFFF);
    auto d = round_trip(msg::deliver{"alice", "x", 42, msg::flag_mailbox | msg::flag_broadcast}, s);
    CHECK(d.seq == 42);
    CHECK(d.flags == (msg::flag_mailbox | msg::flag_broadcast));
    auto a = round_trip(msg::app{.type = 0x8002,
                                 .to = "bob",
                                 .from = {},
                                 .body = "p",
                                 .ref = 13,
                                 .flags = msg::flag_confirm | msg::flag_mailbox,
                                 .ttl_ms = 1000},
                        s);
    CHECK(a.type == 0x8002);
    CHECK(a.flags == (msg::flag_confirm | msg::flag_mailbox));
    CHECK(a.ttl_ms == 1000);
    CHECK(round_trip(msg::ack{43}, s).seq == 43);
}

TEST_CASE("mailbox messages: encode byte for byte with tags 29-31") {
    bytes out;
    msg::encode(msg::get{5, 0}, out);
    CHECK(out == bytes{0x00, 0x11, 0, 0, 0, 10, 0x00, 29, 0, 0, 0, 4, 0, 0, 0, 5});
    out.clear();
    msg::encode(msg::fetched{1, 2, 0}, out);
    CHECK(out == bytes{0x00, 0x13, 0, 0,    0,  20, 0x00, 29, 0, 0, 0, 4, 0,
                       0,    0,    1, 0x00, 30, 0,  0,    0,  4, 0, 0, 0, 2});
    out.clear();
    msg::encode(msg::send{.to = "b", .body = "", .ttl_ms = 7}, out);
    CHECK(out == bytes{0x00, 0x06, 0, 0, 0,    23, 0x00, 12, 0, 0, 0, 1, 'b', 0x00, 14,
                       0,    0,    0, 0, 0x00, 31, 0,    0,  0, 4, 0, 0, 0,   7});
}

TEST_CASE("mailbox messages: zero flags, seq and ttl are not written") {
    // Clients that don't use mailboxes send exactly what they sent before.
    CHECK(msg::encoded_size(msg::hello{1, "alice", "", "", 0, 0}) ==
          frame_header_size + (6 + 2) + (6 + 5));
    CHECK(msg::encoded_size(msg::send{.to = "b", .body = "x"}) ==
          frame_header_size + (6 + 1) + (6 + 1));
    CHECK(msg::encoded_size(msg::broadcast{"x"}) == frame_header_size + 6 + 1);
    CHECK(msg::encoded_size(msg::stored{}) == frame_header_size + 6 + 4); // count only
}

TEST_CASE("mailbox messages: malformed GET, FETCHED and STORED are errors") {
    auto frame = [](frame_type t, std::initializer_list<std::uint8_t> body) {
        bytes out;
        append_frame(out, static_cast<std::uint16_t>(t), bytes(body));
        return out;
    };
    auto decode = [](const bytes& b, auto& m) {
        auto r = decode_frame(b);
        REQUIRE(r.status == decode_status::ok);
        return msg::decode(r.frame, m);
    };
    msg::get g;
    CHECK(decode(frame(frame_type::get, {}), g) == error::missing_field); // count is required
    CHECK(decode(frame(frame_type::get, {0, 29, 0, 0, 0, 2, 0, 1}), g) == error::malformed_message);
    msg::fetched f;
    CHECK(decode(frame(frame_type::fetched, {0, 30, 0, 0, 0, 8, 0, 0, 0, 0, 0, 0, 0, 1}), f) ==
          error::malformed_message); // pending is a u32
    CHECK(decode(frame(frame_type::fetched, {}), f) == error_code{});
    msg::stored st;
    CHECK(decode(frame(frame_type::stored, {0, 21, 0, 0, 0, 1, 1}), st) ==
          error::malformed_message); // flags is a u16
    CHECK(decode(frame(frame_type::stored, {0, 12, 0, 0, 0, 9, 'b'}), st) ==
          error::malformed_field); // longer than the frame
    CHECK(decode(frame(frame_type::get, {0, 29, 0, 0, 0, 4, 0, 0, 0, 1}), st) ==
          error::unexpected_frame);
}
