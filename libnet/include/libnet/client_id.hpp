// SPDX-License-Identifier: BSL-1.0
#ifndef LIBNET_CLIENT_ID_HPP
#define LIBNET_CLIENT_ID_HPP

#include <cstddef>
#include <string_view>

namespace libnet {

/// Longest client id, in bytes (see is_valid_client_id).
inline constexpr std::size_t max_client_id_size = 64;

/// Longest advertised endpoint ("host:port") a server accepts in HELLO.
inline constexpr std::size_t max_endpoint_size = 255;

/// True when `id` is a valid client id: 1-64 bytes of well-formed UTF-8 (no overlong forms,
/// no surrogates) with no control characters, no whitespace (ASCII or Unicode) and no
/// invisible or text-direction characters (Unicode's default-ignorable code points).
bool is_valid_client_id(std::string_view id) noexcept;

} // namespace libnet

#endif
