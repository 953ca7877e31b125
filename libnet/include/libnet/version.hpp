// SPDX-License-Identifier: BSL-1.0
#ifndef LIBNET_VERSION_HPP
#define LIBNET_VERSION_HPP

/// @file
/// libnet's version, for compile-time checks (`#if LIBNET_VERSION >= 100`) and for printing.
/// CMake reads the three numbers below as the project's version: this file is the only place
/// it is written.

/// The major version number.
#define LIBNET_VERSION_MAJOR 0
/// The minor version number; find_package(libnet MAJOR.MINOR) accepts any patch of it.
#define LIBNET_VERSION_MINOR 1
/// The patch version number.
#define LIBNET_VERSION_PATCH 0

/// One number that orders versions: MAJOR * 10000 + MINOR * 100 + PATCH.
#define LIBNET_VERSION                                                                             \
    (LIBNET_VERSION_MAJOR * 10000 + LIBNET_VERSION_MINOR * 100 + LIBNET_VERSION_PATCH)

/// The tokens of `x` as a string literal (a helper of LIBNET_VERSION_STRINGIZE).
#define LIBNET_VERSION_STRINGIZE_(x) #x
/// The value of macro `x` as a string literal (a helper of LIBNET_VERSION_STRING).
#define LIBNET_VERSION_STRINGIZE(x) LIBNET_VERSION_STRINGIZE_(x)

/// "MAJOR.MINOR.PATCH".
#define LIBNET_VERSION_STRING                                                                      \
    LIBNET_VERSION_STRINGIZE(LIBNET_VERSION_MAJOR)                                                 \
    "." LIBNET_VERSION_STRINGIZE(LIBNET_VERSION_MINOR) "." LIBNET_VERSION_STRINGIZE(               \
        LIBNET_VERSION_PATCH)

namespace libnet {

/// The version of the headers this code was compiled against, "MAJOR.MINOR.PATCH".
inline constexpr const char* version_string = LIBNET_VERSION_STRING;

/// The version of the compiled library linked in, "MAJOR.MINOR.PATCH". It differs from
/// `version_string` only when headers and archive come from different installations.
const char* library_version() noexcept;

} // namespace libnet

#endif
