// SPDX-License-Identifier: BSL-1.0
#ifndef LIBNET_SRC_UDP_DATAGRAM_HPP
#define LIBNET_SRC_UDP_DATAGRAM_HPP

// The datagrams libnet's UDP transport exchanges (docs/protocol.md §17): a pure codec, no
// I/O. Integers are big-endian; every datagram starts with its kind.

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <variant>

namespace libnet::detail::udp {

enum class kind : std::uint8_t {
    init = 1,      ///< client: open a session (with the cookie, once it has one)
    cookie = 2,    ///< server: prove your address by echoing this
    accept = 3,    ///< server: the session is open under this connection id
    data = 4,      ///< either side: acknowledgements and a numbered packet
    reset = 5,     ///< server: no session has this connection id
    challenge = 6, ///< server: a session's packets came from a new address; echo this from it
    response = 7,  ///< client: the echo
};

inline constexpr std::uint8_t version = 1;
inline constexpr std::size_t cookie_size = 20; // time (u32 s) + 16 bytes of HMAC-SHA256
using cookie_bytes = std::array<std::uint8_t, cookie_size>;

/// An INIT is padded to at least this, and a server ignores a shorter one: whatever it
/// answers an unproven address (COOKIE, 30 bytes) is then smaller than what it received.
inline constexpr std::size_t min_init_size = 64;
inline constexpr std::size_t cookie_datagram_size = 2 + 8 + cookie_size;
inline constexpr std::size_t accept_size = 2 + 8 + 8 + 2;
inline constexpr std::size_t reset_size = 1 + 8;
inline constexpr std::size_t path_size = 1 + 8 + 8;
/// Datagram sizes a session may be configured with.
inline constexpr std::size_t min_datagram = 256, max_datagram = 65'507;

/// DATA flags.
enum : std::uint8_t {
    flag_ack = 0x01,         ///< an acknowledgement block follows the header
    flag_packet = 0x02,      ///< a numbered packet follows (after the acknowledgements)
    flag_fin = 0x04,         ///< the packet ends the sender's stream (no payload)
    flag_continued = 0x08,   ///< the payload continues a frame begun in the packet before
    flag_continues = 0x10,   ///< the payload's last frame goes on in the next packet
    flag_ack_request = 0x20, ///< answer with an acknowledgement at once
    data_flags_known = 0x3f,
};

/// Packets received beyond the cumulative point, as runs: `gap` missing, then `length`
/// received (the first gap counts from the cumulative point).
struct ack_range {
    std::uint16_t gap = 0;
    std::uint16_t length = 0;
};
inline constexpr std::size_t max_ack_ranges = 8;

struct ack_block {
    std::uint32_t next = 0;   ///< every packet number below it was received (low 32 bits)
    std::uint16_t window = 0; ///< packets beyond `next` the receiver takes
    std::uint16_t delay = 0;  ///< how long the acknowledgement was held, in units of 8 µs
    std::uint8_t count = 0;   ///< ranges used
    std::array<ack_range, max_ack_ranges> ranges{};
};
inline constexpr std::size_t ack_block_size(std::size_t ranges) {
    return 4 + 2 + 2 + 1 + 4 * ranges;
}
/// Header bytes of a DATA datagram with a packet and the most acknowledgement ranges: the
/// payload of a packet is at most the datagram size less this.
inline constexpr std::size_t data_overhead = 1 + 8 + 1 + ack_block_size(max_ack_ranges) + 4;

struct init_datagram {
    std::uint64_t nonce = 0;
    std::optional<cookie_bytes> cookie;
};
struct cookie_datagram {
    std::uint64_t nonce = 0;
    cookie_bytes cookie{};
};
struct accept_datagram {
    std::uint64_t nonce = 0;
    std::uint64_t cid = 0;
    std::uint16_t max_datagram = 0; ///< the largest datagram the server sends and takes
};
struct data_datagram {
    std::uint64_t cid = 0;
    std::uint8_t flags = 0;
    ack_block ack;                         ///< with flag_ack
    std::uint32_t number = 0;              ///< with flag_packet: the packet number's low 32 bits
    std::span<const std::uint8_t> payload; ///< with flag_packet
};
struct reset_datagram {
    std::uint64_t cid = 0;
};
struct path_datagram { // CHALLENGE or RESPONSE
    bool response = false;
    std::uint64_t cid = 0;
    std::uint64_t token = 0;
};
using datagram = std::variant<init_datagram, cookie_datagram, accept_datagram, data_datagram,
                              reset_datagram, path_datagram>;

enum class decode_error {
    empty,
    unknown_kind,
    bad_version,
    truncated,
    bad_flags,
    bad_ranges,
    trailing_bytes,
    too_short, ///< an INIT under min_init_size
};
const char* to_string(decode_error e) noexcept;

struct decoded {
    std::optional<datagram> value;
    decode_error error = decode_error::empty;
};
/// Decodes one datagram; `value` is empty when it is malformed, with `error` saying how.
/// The payload of a DATA points into `in`.
decoded decode(std::span<const std::uint8_t> in);

/// Each writes the datagram at the start of `out` (which must hold it) and returns its size.
std::size_t encode(const init_datagram& d, std::span<std::uint8_t> out); // padded
std::size_t encode(const cookie_datagram& d, std::span<std::uint8_t> out);
std::size_t encode(const accept_datagram& d, std::span<std::uint8_t> out);
std::size_t encode(const reset_datagram& d, std::span<std::uint8_t> out);
std::size_t encode(const path_datagram& d, std::span<std::uint8_t> out);
/// DATA: the header and the acknowledgements; the payload (d.payload.size() bytes) is
/// copied after them unless it already sits there (out.data() + the returned header size).
std::size_t encode(const data_datagram& d, std::span<std::uint8_t> out);
/// Bytes of DATA's header before the payload, for `d`'s flags and ranges.
std::size_t data_header_size(const data_datagram& d) noexcept;

} // namespace libnet::detail::udp

#endif
