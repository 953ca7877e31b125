// SPDX-License-Identifier: BSL-1.0
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
    for (int v = 1; v <= 127; ++v) {
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

TEST_CASE("errors: wire codes go through one checked conversion") {
    using libnet::error;
    CHECK(libnet::wire_code(libnet::make_error_code(error::id_taken)) == error::id_taken);
    // A network error has no wire code: the fallback goes out instead of its number.
    CHECK(libnet::wire_code(boost::system::errc::make_error_code(
              boost::system::errc::connection_reset)) == error::malformed_message);
    CHECK(libnet::wire_code(boost::system::errc::make_error_code(boost::system::errc::io_error),
                            error::connection_closed) == error::connection_closed);
    CHECK(libnet::from_wire(66) == error::queue_full);
    libnet::error_code const unknown = libnet::from_wire(9999);
    CHECK(unknown.value() == 9999);
    CHECK(unknown.message() == "unknown libnet error");
    CHECK(libnet::make_error_code(error::hook_failed).message() ==
          "an application hook threw; the session was ended");
}
