// SPDX-License-Identifier: BSL-1.0
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

TEST_CASE("client ids: invisible and text-direction characters are refused") {
    CHECK_FALSE(is_valid_client_id("admin\xE2\x80\x8B"));         // U+200B zero width space
    CHECK_FALSE(is_valid_client_id("ad\xE2\x80\x8Dmin"));         // U+200D zero width joiner
    CHECK_FALSE(is_valid_client_id("\xE2\x80\xAEnimda"));         // U+202E right-to-left override
    CHECK_FALSE(is_valid_client_id("\xE2\x81\xA6x\xE2\x81\xA9")); // U+2066 ... U+2069 isolates
    CHECK_FALSE(is_valid_client_id("\xD8\x9C"
                                   "a"));                  // U+061C Arabic letter mark
    CHECK_FALSE(is_valid_client_id("soft\xC2\xADhyphen")); // U+00AD
    CHECK_FALSE(is_valid_client_id("a\xEF\xB8\x8F"));      // U+FE0F variation selector
    CHECK_FALSE(is_valid_client_id("a\xF3\xA0\x80\x81"));  // U+E0001 language tag
    CHECK_FALSE(is_valid_client_id("\xE3\x85\xA4"));       // U+3164 Hangul filler
    // Visible neighbours of those ranges stay valid.
    CHECK(is_valid_client_id("a\xE2\x80\x90"
                             "b"));            // U+2010 hyphen
    CHECK(is_valid_client_id("\xE2\x80\xB0")); // U+2030 per mille
    CHECK(is_valid_client_id("\xD8\xA7"));     // U+0627 Arabic alef
}
