// SPDX-License-Identifier: BSL-1.0
#include <libnet/libnet.hpp>

#include <cstdio>
#include <vector>

int main() {
    std::vector<std::uint8_t> buf;
    libnet::msg::encode(libnet::msg::send{"bob", "hi", 0}, buf);
    auto r = libnet::decode_frame(buf);
    libnet::msg::send out;
    if (r.status != libnet::decode_status::ok || libnet::msg::decode(r.frame, out) ||
        out.body != "hi") {
        std::puts("consumer: round trip failed");
        return 1;
    }
    std::puts("consumer: ok");
    return 0;
}
