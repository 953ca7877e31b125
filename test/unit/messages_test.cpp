// SPDX-License-Identifier: BSL-1.0
#include <libnet/messages.hpp>

#include <catch2/catch.hpp>

#include <vector>

using namespace libnet;
using bytes = std::vector<std::uint8_t>;

namespace {

template <class M>
bytes encoded(const M& m) {
    bytes out;
    msg::encode(m, out);
    REQUIRE(out.size() == msg::encoded_size(m));
    return out;
}

template <class M>
M round_trip(const M& in, bytes& storage) {
    storage = encoded(in);
    auto r = decode_frame(storage);
    REQUIRE(r.status == decode_status::ok);
    REQUIRE(r.consumed == storage.size());
    REQUIRE(r.frame.type == static_cast<std::uint16_t>(M::type));
    M out;
    auto ec = msg::decode(r.frame, out);
    REQUIRE_FALSE(ec);
    return out;
}

frame_view view_of(const bytes& b) {
    auto r = decode_frame(b);
    REQUIRE(r.status == decode_status::ok);
    return r.frame;
}

bytes field(std::uint16_t tag, const bytes& value) {
    bytes out(field_header_size);
    write_header(out.data(), tag, static_cast<std::uint32_t>(value.size()));
    out.insert(out.end(), value.begin(), value.end());
    return out;
}

bytes make_frame(frame_type t, const bytes& body) {
    bytes out;
    append_frame(out, static_cast<std::uint16_t>(t), body);
    return out;
}

bytes cat(std::initializer_list<bytes> parts) {
    bytes out;
    for (auto const& p : parts)
        out.insert(out.end(), p.begin(), p.end());
    return out;
}

} // namespace

TEST_CASE("messages: every core message round-trips") {
    bytes s;
    SECTION("HELLO") {
        auto m = round_trip(msg::hello{1, "alice", "127.0.0.1:4000", "secret"}, s);
        CHECK(m.version == 1);
        CHECK(m.id == "alice");
        CHECK(m.endpoint == "127.0.0.1:4000");
        CHECK(m.credentials == "secret");
        auto anon = round_trip(msg::hello{}, s);
        CHECK(anon.id.empty());
        CHECK(anon.endpoint.empty());
    }
    SECTION("WELCOME") {
        auto m = round_trip(msg::welcome{1, "alice", 4096, 5000, 3, {}}, s);
        CHECK(m.id == "alice");
        CHECK(m.max_frame == 4096);
        CHECK(m.heartbeat_ms == 5000);
        CHECK(m.heartbeat_misses == 3);
    }
    SECTION("DIRECTORY") {
        msg::directory d;
        d.entries = {{"a", 1, "10.0.0.1:1"}, {"b", 2, ""}, {"c", 7, "[::1]:9"}};
        auto m = round_trip(d, s);
        REQUIRE(m.entries.size() == 3);
        CHECK(m.entries[0].id == "a");
        CHECK(m.entries[0].endpoint == "10.0.0.1:1");
        CHECK(m.entries[1].join_seq == 2);
        CHECK(m.entries[1].endpoint.empty());
        CHECK(m.entries[2].id == "c");
        CHECK(round_trip(msg::directory{}, s).entries.empty());
    }
    SECTION("JOINED and LEFT") {
        auto j = round_trip(msg::joined{{"bob", 42, "1.2.3.4:5"}}, s);
        CHECK(j.entry.id == "bob");
        CHECK(j.entry.join_seq == 42);
        auto l = round_trip(msg::left{"bob", 42, msg::leave_reason::lost}, s);
        CHECK(l.id == "bob");
        CHECK(l.reason == msg::leave_reason::lost);
    }
    SECTION("SEND, DELIVER, BROADCAST with empty and binary bodies") {
        std::string const binary("\0\xff\x01", 3);
        auto m = round_trip(msg::send{"bob", binary, 9}, s);
        CHECK(m.to == "bob");
        CHECK(m.body == binary);
        CHECK(m.ref == 9);
        CHECK(round_trip(msg::send{"bob", "", 0}, s).body.empty());
        auto d = round_trip(msg::deliver{"alice", "hi", 1ull << 40, msg::flag_broadcast}, s);
        CHECK(d.from == "alice");
        CHECK(d.seq == 1ull << 40);
        CHECK(d.flags == msg::flag_broadcast);
        auto b = round_trip(msg::broadcast{"all", 3}, s);
        CHECK(b.body == "all");
        CHECK(b.ref == 3);
    }
    SECTION("ERROR, TERM, BYE, PING, PONG") {
        auto e = round_trip(msg::error{64, "no such client", 5, 6, "bob"}, s);
        CHECK(e.code == 64);
        CHECK(e.text == "no such client");
        CHECK(e.ref == 5);
        CHECK(e.ref_type == 6);
        CHECK(e.id == "bob");
        auto t = round_trip(msg::term{msg::term_reason::requested, "done", "alice"}, s);
        CHECK(t.reason == msg::term_reason::requested);
        CHECK(t.by == "alice");
        round_trip(msg::bye{}, s);
        CHECK(s.size() == frame_header_size);
        CHECK(round_trip(msg::ping{77}, s).nonce == 77);
        CHECK(round_trip(msg::pong{78}, s).nonce == 78);
    }
}

TEST_CASE("messages: SEND encodes byte for byte as docs/protocol.md shows") {
    bytes const expected{0x00, 0x06, 0x00, 0x00, 0x00, 0x11,                // SEND, 17 bytes
                         0x00, 0x0C, 0x00, 0x00, 0x00, 0x03, 'b', 'o', 'b', // to = "bob"
                         0x00, 0x0E, 0x00, 0x00, 0x00, 0x02, 'h', 'i'};     // body = "hi"
    CHECK(encoded(msg::send{"bob", "hi", 0}) == expected);
}

TEST_CASE("messages: unknown fields are skipped") {
    auto b = make_frame(frame_type::send, cat({field(0x7777, {1, 2, 3}), field(12, {'x'}),
                                               field(14, {'y'}), field(0x0999, {})}));
    msg::send m;
    REQUIRE_FALSE(msg::decode(view_of(b), m));
    CHECK(m.to == "x");
    CHECK(m.body == "y");
}

TEST_CASE("messages: malformed input is an error code, never a crash") {
    msg::send s;
    SECTION("missing required field") {
        auto b = make_frame(frame_type::send, field(12, {'x'}));
        CHECK(msg::decode(view_of(b), s) == error::missing_field);
    }
    SECTION("integer field of the wrong size") {
        auto b = make_frame(frame_type::send,
                            cat({field(12, {'x'}), field(14, {}), field(17, {1, 2, 3})}));
        CHECK(msg::decode(view_of(b), s) == error::malformed_message);
    }
    SECTION("field length past the end of the frame") {
        auto body = field(12, {'x', 'y'});
        body.pop_back();
        auto b = make_frame(frame_type::send, body);
        CHECK(msg::decode(view_of(b), s) == error::malformed_field);
    }
    SECTION("wrong frame type") {
        auto b = make_frame(frame_type::deliver, field(12, {'x'}));
        CHECK(msg::decode(view_of(b), s) == error::unexpected_frame);
    }
    SECTION("directory entry with a bad nested length") {
        auto bad_entry = field(2, {'a', 'b'});
        bad_entry[5] = 50; // claims 50 bytes, has 2
        auto b = make_frame(frame_type::directory, field(8, bad_entry));
        msg::directory d;
        CHECK(msg::decode(view_of(b), d) == error::malformed_field);
        CHECK(d.entries.empty());
    }
    SECTION("a bad directory entry followed by a good one is still an error") {
        auto bad_entry = field(2, {'a', 'b'});
        bad_entry[5] = 50;
        auto good_entry = cat({field(2, {'c'}), field(9, bytes(8, 1))});
        auto b =
            make_frame(frame_type::directory, cat({field(8, bad_entry), field(8, good_entry)}));
        msg::directory d;
        CHECK(msg::decode(view_of(b), d) == error::malformed_field);
        CHECK(d.entries.empty());
    }
    SECTION("a reused message object keeps nothing from the previous frame") {
        msg::deliver m;
        bytes first, second;
        msg::encode(msg::deliver{"a", "b", 1, msg::flag_broadcast}, first);
        msg::encode(msg::deliver{"c", "d", 2, 0}, second);
        REQUIRE_FALSE(msg::decode(view_of(first), m));
        REQUIRE_FALSE(msg::decode(view_of(second), m));
        CHECK(m.flags == 0);
    }
    SECTION("directory entry without its join sequence") {
        auto b = make_frame(frame_type::directory, field(8, field(2, {'a'})));
        msg::directory d;
        CHECK(msg::decode(view_of(b), d) == error::missing_field);
    }
    SECTION("HELLO without a version") {
        auto b = make_frame(frame_type::hello, field(2, {'a'}));
        msg::hello h;
        CHECK(msg::decode(view_of(b), h) == error::missing_field);
    }
}

TEST_CASE("messages: several typed frames in one buffer decode in order") {
    bytes b;
    msg::encode(msg::ping{1}, b);
    msg::encode(msg::send{"x", "y", 0}, b);
    msg::encode(msg::bye{}, b);
    std::vector<std::uint16_t> types;
    std::span<const std::uint8_t> rest(b);
    for (auto r = decode_frame(rest); r.status == decode_status::ok; r = decode_frame(rest)) {
        types.push_back(r.frame.type);
        rest = rest.subspan(r.consumed);
    }
    CHECK(types == std::vector<std::uint16_t>{0x0C, 0x06, 0x0B});
    CHECK(rest.empty());
}

TEST_CASE("messages: peer-link and introduction messages round-trip") {
    bytes s;
    auto in = round_trip(msg::introduction{"bob", "127.0.0.1:4000", "tok", "prf", 123, 9}, s);
    CHECK(in.id == "bob");
    CHECK(in.endpoint == "127.0.0.1:4000");
    CHECK(in.token == "tok");
    CHECK(in.proof == "prf");
    CHECK(in.expires == 123);
    CHECK(in.ref == 9);
    auto ir = round_trip(msg::intro_request{"bob", 4}, s);
    CHECK((ir.to == "bob" && ir.ref == 4));
    auto ph = round_trip(msg::peer_hello{protocol_version, "alice", "tok", 77}, s);
    CHECK((ph.id == "alice" && ph.token == "tok" && ph.link == 77));
    auto pw = round_trip(msg::peer_welcome{protocol_version, "bob", "prf"}, s);
    CHECK((pw.id == "bob" && pw.proof == "prf"));
    auto a = round_trip(msg::ack{41, msg::flag_link_sync}, s);
    CHECK((a.seq == 41 && a.flags == msg::flag_link_sync));
    auto sd = round_trip(msg::send{"bob", "x", 1, 5, 6, msg::flag_link_sync}, s);
    CHECK((sd.link == 5 && sd.link_seq == 6 && sd.flags == msg::flag_link_sync));
    auto d = round_trip(msg::deliver{"alice", "x", 3, 0, 5, 6}, s);
    CHECK((d.link == 5 && d.link_seq == 6));
    // A SEND without the link fields is the same as before them.
    CHECK(encoded(msg::send{"bob", "x", 1}).size() == msg::encoded_size(msg::send{"bob", "x", 1}));
}

TEST_CASE("messages: application frames keep their type and decode only in their range") {
    msg::app m{0x8123, "bob", {}, "payload", 7, 0, 0, 0};
    auto const b = encoded(m);
    auto const f = view_of(b);
    CHECK(f.type == 0x8123);
    msg::app out;
    REQUIRE_FALSE(msg::decode(f, out));
    CHECK(out.type == 0x8123);
    CHECK(out.to == "bob");
    CHECK(out.body == "payload");
    CHECK(out.ref == 7);
    CHECK(out.from.empty());

    auto const core = encoded(msg::ping{1});
    CHECK(msg::decode(view_of(core), out) == error::unexpected_frame);
}

TEST_CASE("messages: LOOKUP and PRESENCE round-trip and encode as docs/protocol.md shows") {
    bytes storage;
    auto l = round_trip(msg::lookup{"bob", 7}, storage);
    CHECK(l.id == "bob");
    CHECK(l.ref == 7);
    CHECK(encoded(msg::lookup{"bob", 7}) == bytes{0x00, 0x14, 0x00, 0x00, 0x00, 0x17, 0x00, 0x02,
                                                  0x00, 0x00, 0x00, 0x03, 0x62, 0x6f, 0x62, 0x00,
                                                  0x11, 0x00, 0x00, 0x00, 0x08, 0x00, 0x00, 0x00,
                                                  0x00, 0x00, 0x00, 0x00, 0x07});

    auto p = round_trip(msg::presence{"bob", 2, "10.0.0.2:7001", 7}, storage);
    CHECK(p.id == "bob");
    CHECK(p.join_seq == 2);
    CHECK(p.endpoint == "10.0.0.2:7001");
    CHECK(p.ref == 7);
    // Not online: join_seq 0 is still written; the endpoint is not.
    auto const offline = encoded(msg::presence{"bob", 0, {}, 7});
    CHECK(offline == bytes{0x00, 0x15, 0x00, 0x00, 0x00, 0x25, 0x00, 0x02, 0x00, 0x00, 0x00,
                           0x03, 0x62, 0x6f, 0x62, 0x00, 0x09, 0x00, 0x00, 0x00, 0x08, 0x00,
                           0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x11, 0x00, 0x00,
                           0x00, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x07});
    msg::presence none;
    REQUIRE_FALSE(msg::decode(view_of(offline), none));
    CHECK(none.join_seq == 0);
    CHECK(none.endpoint.empty());
    // A LOOKUP without the id it asks about is refused.
    msg::lookup missing;
    CHECK(msg::decode(view_of(bytes{0x00, 0x14, 0x00, 0x00, 0x00, 0x00}), missing) ==
          error::missing_field);
}

TEST_CASE("messages: the largest WELCOME fits in the smallest max_frame a server may announce") {
    std::string const id(64, 'x'); // the longest id
    std::string const key(32, 'k');
    libnet::msg::welcome w{libnet::protocol_version,
                           id,
                           libnet::default_max_frame_size,
                           5000,
                           3,
                           key,
                           0xffff,
                           ~std::uint64_t{0},
                           ~std::uint32_t{0}};
    auto const value = libnet::msg::encoded_size(w) - libnet::frame_header_size;
    CHECK(value == 178); // docs/protocol.md §2 gives this bound
    CHECK(value <= libnet::min_max_frame_size);
}
