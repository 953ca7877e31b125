#include <libnet/error.hpp>
#include <libnet/frame.hpp>

#include <catch2/catch.hpp>

#include <string>

TEST_CASE("errors: the libnet category names every code") {
    libnet::error_code ec = libnet::error::no_such_client;
    CHECK(std::string(ec.category().name()) == "libnet");
    CHECK(ec.value() == 64);
    CHECK(ec.message() == "recipient is not online and has no mailbox");
    CHECK(libnet::to_string(libnet::error::store_failed) == "store_failed");
    CHECK(static_cast<int>(libnet::error::store_failed) == 70);
    CHECK(libnet::to_string(libnet::error::id_taken) == "id_taken");
    for (int v = 1; v <= 100; ++v) {
        auto const e = static_cast<libnet::error>(v);
        auto const name = libnet::to_string(e);
        libnet::error_code c = e;
        INFO(v);
        CHECK((name == "unknown") == (c.message() == "unknown libnet error"));
    }
    CHECK(libnet::to_string(libnet::frame_type::send) == "SEND");
    // Interoperates with std::error_code.
    std::error_code std_ec = ec;
    CHECK(std_ec.message() == ec.message());
    CHECK(libnet::to_string(static_cast<libnet::frame_type>(0x8123)) == "APP");
}
