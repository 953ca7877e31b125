// SPDX-License-Identifier: BSL-1.0
#include <libnet/version.hpp>

namespace libnet {

const char* library_version() noexcept {
    return LIBNET_VERSION_STRING;
}

} // namespace libnet
