// SPDX-License-Identifier: BSL-1.0
#include "../../libnet/src/wire/peer_token.hpp"

#include <catch2/catch.hpp>

// The peer-link token scheme of docs/protocol.md §15.2, without sockets.

using namespace libnet::detail;

TEST_CASE("peer token: valid only for its pair, its key and before its expiry") {
    auto const key = random_bytes(peer_key_size);
    auto const other_key = random_bytes(peer_key_size);
    std::uint64_t const now = 1'000'000;
    auto const token = make_token(key, "alice", "bob", now + 500);
    REQUIRE(token.size() == token_size);
    CHECK(token_expires(token) == now + 500);

    CHECK(check_token(key, token, "alice", "bob", now) == token_check::ok);
    CHECK(check_token(key, token, "bob", "alice", now) == token_check::bad_mac);
    CHECK(check_token(key, token, "carol", "bob", now) == token_check::bad_mac);
    CHECK(check_token(other_key, token, "alice", "bob", now) == token_check::bad_mac);
    CHECK(check_token(key, token, "alice", "bob", now + 500) == token_check::expired);
    CHECK(check_token(key, token.substr(1), "alice", "bob", now) == token_check::malformed);
    CHECK(check_token(key, "", "alice", "bob", now) == token_check::malformed);

    // Moving bytes between the ids must not keep the MAC valid (parts are length-prefixed).
    auto const split = make_token(key, "ab", "c", now + 500);
    CHECK(check_token(key, split, "a", "bc", now) == token_check::bad_mac);

    // Any flipped bit breaks it, expiry included.
    for (std::size_t i = 0; i < token.size(); ++i) {
        auto t = token;
        t[i] = static_cast<char>(t[i] ^ 0x01);
        INFO("byte " << i);
        CHECK(check_token(key, t, "alice", "bob", now) != token_check::ok);
    }
}

TEST_CASE("peer token: nonces differ, and the proof depends on key and token") {
    auto const key = random_bytes(peer_key_size);
    auto const a = make_token(key, "alice", "bob", 10);
    auto const b = make_token(key, "alice", "bob", 10);
    CHECK(token_nonce(a) != token_nonce(b));
    CHECK(token_proof(key, a) != token_proof(key, b));
    CHECK(token_proof(key, a) == token_proof(key, a));
    CHECK(token_proof(random_bytes(peer_key_size), a) != token_proof(key, a));
    CHECK(equal_secret(token_proof(key, a), token_proof(key, a)));
    CHECK_FALSE(equal_secret("abc", "abd"));
    CHECK_FALSE(equal_secret("abc", "ab"));
}

TEST_CASE("peer token: one bound to a dialer's link key is refused with any other key") {
    auto const key = random_bytes(peer_key_size);
    auto const alice_key = random_bytes(link_key_size), mallory_key = random_bytes(link_key_size);
    std::uint64_t const now = 1'000'000;
    auto const token = make_token(key, "alice", "bob", now + 500, alice_key);
    CHECK(check_token(key, token, "alice", "bob", now, alice_key) == token_check::ok);
    CHECK(check_token(key, token, "alice", "bob", now, mallory_key) == token_check::bad_mac);
    CHECK(check_token(key, token, "alice", "bob", now) == token_check::bad_mac); // no certificate
    // And an unbound token (a plain link's) is not good on a TLS link either.
    auto const bearer = make_token(key, "alice", "bob", now + 500);
    CHECK(check_token(key, bearer, "alice", "bob", now, alice_key) == token_check::bad_mac);
}
