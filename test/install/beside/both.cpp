// SPDX-License-Identifier: BSL-1.0
// Links libnet (-lnet-asio) and Debian's packet library (-lnet) into one program: each name
// must find its own archive, and the two must not clash.
#include <libnet/libnet.hpp>

#include <cstdio>
#include <cstring>
#include <libnet.h>
#include <vector>

int main() {
    char const* packet = libnet_version();
    if (std::strstr(packet, "libnet") == nullptr || std::strstr(packet, "1.1") == nullptr) {
        std::printf("both: -lnet gave '%s', not the packet library 1.1\n", packet);
        return 1;
    }
    if (std::strcmp(libnet::library_version(), LIBNET_VERSION_STRING) != 0) {
        std::printf("both: headers %s, archive %s\n", LIBNET_VERSION_STRING,
                    libnet::library_version());
        return 1;
    }
    std::vector<std::uint8_t> buf;
    libnet::msg::encode(libnet::msg::ping{}, buf);
    if (libnet::decode_frame(buf).status != libnet::decode_status::ok) {
        std::puts("both: libnet round trip failed");
        return 1;
    }
    std::printf("both: %s and libnet %s\n", packet, libnet::library_version());
    return 0;
}
