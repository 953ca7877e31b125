// SPDX-License-Identifier: BSL-1.0
#include "../../libnet/src/udp/cookie.hpp"
#include "../../libnet/src/udp/datagram.hpp"

#include <catch2/catch.hpp>

#include <vector>

// The UDP datagrams of docs/protocol.md §17 and the cookie scheme, without sockets.

using namespace libnet::detail::udp;
using bytes = std::vector<std::uint8_t>;

namespace {

template <class D>
bytes encoded(const D& d) {
    bytes out(max_datagram);
    out.resize(encode(d, out));
    return out;
}

template <class D>
D decoded_as(const bytes& b) {
    auto r = decode(b);
    REQUIRE(r.value);
    REQUIRE(std::holds_alternative<D>(*r.value));
    return std::get<D>(*r.value);
}

decode_error error_of(const bytes& b) {
    auto r = decode(b);
    REQUIRE_FALSE(r.value);
    return r.error;
}

} // namespace

TEST_CASE("udp datagram: the handshake's datagrams match the spec's bytes") {
    init_datagram init{0x0102030405060708, std::nullopt};
    auto const i = encoded(init);
    REQUIRE(i.size() == min_init_size);
    bytes const head{0x01, 0x01, 1, 2, 3, 4, 5, 6, 7, 8, 0x00};
    CHECK(bytes(i.begin(), i.begin() + 11) == head);
    CHECK(decoded_as<init_datagram>(i).nonce == init.nonce);
    CHECK_FALSE(decoded_as<init_datagram>(i).cookie);

    cookie_bytes c{};
    for (std::size_t k = 0; k < c.size(); ++k)
        c[k] = static_cast<std::uint8_t>(0xa0 + k);
    init.cookie = c;
    auto const back = decoded_as<init_datagram>(encoded(init));
    REQUIRE(back.cookie);
    CHECK(*back.cookie == c);

    auto const cd = encoded(cookie_datagram{7, c});
    CHECK(cd.size() == cookie_datagram_size);
    CHECK(cd.size() < min_init_size); // never more than the INIT that asked
    CHECK(decoded_as<cookie_datagram>(cd).cookie == c);

    auto const a = encoded(accept_datagram{7, 0xfeedface00000001, 1200});
    CHECK(a.size() == accept_size);
    auto const ad = decoded_as<accept_datagram>(a);
    CHECK(ad.cid == 0xfeedface00000001);
    CHECK(ad.max_datagram == 1200);

    bytes const reset{0x05, 0, 0, 0, 0, 0, 0, 0, 9};
    CHECK(encoded(reset_datagram{9}) == reset);
    auto const ch = decoded_as<path_datagram>(encoded(path_datagram{false, 9, 42}));
    CHECK_FALSE(ch.response);
    CHECK(ch.token == 42);
    CHECK(decoded_as<path_datagram>(encoded(path_datagram{true, 9, 42})).response);
}

TEST_CASE("udp datagram: DATA carries acknowledgement ranges and a packet") {
    data_datagram d;
    d.cid = 1;
    d.flags = flag_ack | flag_packet | flag_continues;
    d.ack.next = 10;
    d.ack.window = 256;
    d.ack.delay = 125;
    d.ack.count = 2;
    d.ack.ranges[0] = {1, 3}; // 11..13
    d.ack.ranges[1] = {2, 1}; // 16
    d.number = 0xfffffffe;
    bytes const payload{0x80, 0x01, 0, 0, 0, 2, 'h', 'i'};
    d.payload = payload;
    auto const wire = encoded(d);
    CHECK(wire.size() == data_header_size(d) + payload.size());
    bytes const expected{0x04, 0,    0,    0,    0,    0,    0,    0,   1, 0x13, // kind, cid, flags
                         0,    0,    0,    10,   0x01, 0x00, 0x00, 125, 2, // next, window, delay, n
                         0,    1,    0,    3,    0,    2,    0,    1,      // ranges
                         0xff, 0xff, 0xff, 0xfe,                           // packet number
                         0x80, 0x01, 0,    0,    0,    2,    'h',  'i'};   // payload
    CHECK(wire == expected);
    auto const back = decoded_as<data_datagram>(wire);
    CHECK(back.ack.count == 2);
    CHECK(back.ack.ranges[1].gap == 2);
    CHECK(back.number == 0xfffffffe);
    CHECK(bytes(back.payload.begin(), back.payload.end()) == payload);
}

TEST_CASE("udp datagram: malformed input is refused with the reason") {
    CHECK(error_of({}) == decode_error::empty);
    CHECK(error_of({0x09}) == decode_error::unknown_kind);
    CHECK(error_of({0x05, 0, 0}) == decode_error::truncated);
    CHECK(error_of({0x05, 0, 0, 0, 0, 0, 0, 0, 1, 0}) == decode_error::trailing_bytes);
    auto init = encoded(init_datagram{1, std::nullopt});
    init[1] = 2;
    CHECK(error_of(init) == decode_error::bad_version);
    auto short_init = encoded(init_datagram{1, std::nullopt});
    short_init.resize(40);
    CHECK(error_of(short_init) == decode_error::too_short);

    bytes data{0x04, 0, 0, 0, 0, 0, 0, 0, 1};
    auto with = [&](std::initializer_list<std::uint8_t> rest) {
        bytes b = data;
        b.insert(b.end(), rest);
        return b;
    };
    CHECK(error_of(with({0x00})) == decode_error::bad_flags);    // nothing in it
    CHECK(error_of(with({0x40, 0})) == decode_error::bad_flags); // unknown bit
    CHECK(error_of(with({0x05, 0, 0, 0, 0, 0, 0, 0, 0, 0})) ==
          decode_error::bad_flags);                                            // FIN, no packet
    CHECK(error_of(with({0x06, 0, 0, 0, 1, 'x'})) == decode_error::bad_flags); // FIN with payload
    CHECK(error_of(with({0x02, 0, 0, 0, 1})) == decode_error::bad_flags);      // empty packet
    CHECK(error_of(with({0x01, 0, 0, 0, 1, 0, 1, 0, 0, 9})) == decode_error::bad_ranges); // 9 > 8
    CHECK(error_of(with({0x01, 0, 0, 0, 1, 0, 1, 0, 0, 1, 0, 0, 0, 1})) ==
          decode_error::bad_ranges); // a range with no gap before it
    CHECK(error_of(with({0x01, 0, 0, 0, 1, 0, 1, 0, 0, 1, 0, 1})) == decode_error::truncated);
}

TEST_CASE("udp cookie: valid for its address, port and nonce while fresh") {
    using clock = cookie_jar::clock;
    cookie_jar jar(std::chrono::seconds(10));
    auto const now = clock::now();
    boost::asio::ip::udp::endpoint const from(boost::asio::ip::make_address("192.0.2.1"), 4000);
    auto const c = jar.make(from, 77, now);
    using v = cookie_jar::verdict;
    CHECK(jar.check(c, from, 77, now) == v::valid);
    CHECK(jar.check(c, from, 77, now + std::chrono::seconds(9)) == v::valid);
    CHECK(jar.check(c, from, 77, now + std::chrono::seconds(12)) == v::expired);
    CHECK(jar.check(c, from, 78, now) == v::forged);
    boost::asio::ip::udp::endpoint other_port(from.address(), 4001);
    CHECK(jar.check(c, other_port, 77, now) == v::forged);
    boost::asio::ip::udp::endpoint other_host(boost::asio::ip::make_address("192.0.2.2"), 4000);
    CHECK(jar.check(c, other_host, 77, now) == v::forged);
    auto forged = c;
    forged[10] ^= 1;
    CHECK(jar.check(forged, from, 77, now) == v::forged);
    auto later = c; // a time moved forward by hand breaks the MAC
    later[3] += 5;
    CHECK(jar.check(later, from, 77, now) == v::forged);
    cookie_jar other(std::chrono::seconds(10)); // another process, another key
    CHECK(other.check(c, from, 77, now) == v::forged);
    boost::asio::ip::udp::endpoint v6(boost::asio::ip::make_address("2001:db8::1"), 4000);
    CHECK(jar.check(jar.make(v6, 1, now), v6, 1, now) == v::valid);
}
