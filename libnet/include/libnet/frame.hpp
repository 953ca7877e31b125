// SPDX-License-Identifier: BSL-1.0
#ifndef LIBNET_FRAME_HPP
#define LIBNET_FRAME_HPP

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

namespace libnet {

/// Protocol version spoken by this library (HELLO.version, WELCOME.version).
inline constexpr std::uint16_t protocol_version = 1;

/// Bytes in a frame header: type (u16, big-endian) then length (u32, big-endian).
inline constexpr std::size_t frame_header_size = 6;

/// Bytes in a field header inside a message body: tag (u16) then length (u32), big-endian.
inline constexpr std::size_t field_header_size = 6;

/// Default maximum length of a frame's value (1 MiB).
inline constexpr std::uint32_t default_max_frame_size = 1u << 20;
/// The smallest `max_frame` a server may announce (docs/protocol.md §2): room for any
/// WELCOME (at most 178 bytes of value), ERROR and a small directory.
inline constexpr std::uint32_t min_max_frame_size = 1024;

/// Frame types. 0x0001-0x00FF are core types, 0x0100-0x7FFF are reserved for future core
/// use, 0x8000-0xFFFF are application-defined. 0 is never valid. Each value is the frame
/// of the same name in docs/protocol.md (`send` is SEND).
enum class frame_type : std::uint16_t {
    hello = 0x0001,
    welcome = 0x0002,
    directory = 0x0003,
    joined = 0x0004,
    left = 0x0005,
    send = 0x0006,
    deliver = 0x0007,
    broadcast = 0x0008,
    error = 0x0009,
    term = 0x000A,
    bye = 0x000B,
    ping = 0x000C,
    pong = 0x000D,
    // Acknowledgements and mailboxes (docs/protocol.md §16); ACK also on peer links (§15).
    ack = 0x0010,
    get = 0x0011,
    stored = 0x0012,
    fetched = 0x0013,
    // Presence (docs/protocol.md §6.7).
    lookup = 0x0014,
    presence = 0x0015,
    intro_request = 0x0020,
    introduction = 0x0021,
    peer_hello = 0x0022,
    peer_welcome = 0x0023,
};

/// The first application-defined frame type; every type from here to 0xFFFF is one.
inline constexpr std::uint16_t app_type_first = 0x8000;
/// True when `t` is an application-defined frame type (0x8000-0xFFFF).
inline constexpr bool is_app_type(std::uint16_t t) noexcept {
    return t >= app_type_first;
}

/// The name of a core type ("SEND"), "APP" for application types, "UNKNOWN" otherwise.
std::string_view to_string(frame_type t) noexcept;

/// A decoded frame: its type and a view of its value inside the caller's buffer.
struct frame_view {
    std::uint16_t type = 0;              ///< The frame's type: a frame_type or an application type.
    std::span<const std::uint8_t> value; ///< The frame's value, without the header.

    /// `type` as a frame_type (meaningful for core types only; see is_app_type).
    frame_type core_type() const noexcept { return static_cast<frame_type>(type); }
};

} // namespace libnet

#endif
