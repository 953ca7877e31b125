// SPDX-License-Identifier: BSL-1.0
#ifndef LIBNET_SRC_WIRE_PEER_TOKEN_HPP
#define LIBNET_SRC_WIRE_PEER_TOKEN_HPP

#include <libnet/error.hpp>

#include <cstdint>
#include <string>
#include <string_view>

// Peer-link tokens (docs/protocol.md §15.2). The server gives each client that listens for
// peers a random key in WELCOME. A token for "dialer may link to acceptor" is
//
//   expires (u64, ms since the Unix epoch) | nonce (16 random bytes) | mac (32 bytes)
//   mac = HMAC-SHA256(acceptor key, "libnet token" | dialer id | acceptor id | expires | nonce
//                     [| dialer link key])
//
// The dialer's link key (the SHA-256 of the certificate its TLS links present) is bound in
// when the acceptor's links are TLS: the acceptor checks it against the certificate the
// dialer presented, so a token is worth nothing without the dialer's private key.
//
// so the acceptor checks it with its own key, without having heard from the server about
// this dial: no race between the introduction and the dial. The acceptor proves its key in
// turn with proof = HMAC-SHA256(acceptor key, "libnet proof" | token), which the server
// also hands to the dialer.
namespace libnet::detail {

inline constexpr std::size_t peer_key_size = 32;
inline constexpr std::size_t token_size = 8 + 16 + 32;
/// A link key: the SHA-256 of a client's link certificate (HELLO/INTRODUCTION.link_key).
inline constexpr std::size_t link_key_size = 32;

/// `n` bytes from the system's CSPRNG.
std::string random_bytes(std::size_t n);
std::uint64_t random_u64();

/// Milliseconds since the Unix epoch, now.
std::uint64_t unix_ms();

std::string make_token(std::string_view key, std::string_view dialer, std::string_view acceptor,
                       std::uint64_t expires, std::string_view dialer_key = {});

std::string token_proof(std::string_view key, std::string_view token);

/// Why a token was refused; ok when it is valid for dialer -> acceptor at `now`.
enum class token_check { ok, malformed, bad_mac, expired };

/// Checks the MAC (constant time) and the expiry; the caller checks reuse of the nonce.
token_check check_token(std::string_view key, std::string_view token, std::string_view dialer,
                        std::string_view acceptor, std::uint64_t now,
                        std::string_view dialer_key = {});

/// The token's nonce (its one-time identity) and expiry; the token must be well formed.
std::string_view token_nonce(std::string_view token);
std::uint64_t token_expires(std::string_view token);

/// Constant-time comparison.
bool equal_secret(std::string_view a, std::string_view b);

} // namespace libnet::detail

#endif
