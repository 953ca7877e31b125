#include <libnet/client_id.hpp>

#include <catch2/catch.hpp>

#include <string>

using libnet::is_valid_client_id;

TEST_CASE("client ids: valid ones") {
    CHECK(is_valid_client_id("a"));
    CHECK(is_valid_client_id("alice"));
    CHECK(is_valid_client_id("127.0.0.1:5000"));
    CHECK(is_valid_client_id("[::1]:80"));
    CHECK(is_valid_client_id("Zoë"));
    CHECK(is_valid_client_id("東京"));
    CHECK(is_valid_client_id("\xF0\x9F\x98\x80")); // U+1F600, 4-byte UTF-8
    CHECK(is_valid_client_id(std::string(64, 'x')));
}

TEST_CASE("client ids: invalid ones") {
    CHECK_FALSE(is_valid_client_id(""));
    CHECK_FALSE(is_valid_client_id(std::string(65, 'x')));
    CHECK_FALSE(is_valid_client_id("a b"));
    CHECK_FALSE(is_valid_client_id("a\tb"));
    CHECK_FALSE(is_valid_client_id("a\nb"));
    CHECK_FALSE(is_valid_client_id(std::string("a\0b", 3)));
    CHECK_FALSE(is_valid_client_id("a\x7f"));
    CHECK_FALSE(is_valid_client_id("a\xC2\xA0"
                                   "b"));                // NBSP
    CHECK_FALSE(is_valid_client_id("a\xE3\x80\x80"));    // ideographic space
    CHECK_FALSE(is_valid_client_id("\xC0\xAF"));         // overlong
    CHECK_FALSE(is_valid_client_id("\xED\xA0\x80"));     // surrogate
    CHECK_FALSE(is_valid_client_id("\xF4\x90\x80\x80")); // above U+10FFFF
    CHECK_FALSE(is_valid_client_id("\xE6\x9D"));         // truncated
    CHECK_FALSE(is_valid_client_id("\x80"));             // stray continuation
}
