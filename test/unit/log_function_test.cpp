// SPDX-License-Identifier: BSL-1.0
// log_function: made from either kind of callable, empty when made of nothing.

#include <libnet/log.hpp>

#include <catch2/catch.hpp>

#include <string>
#include <vector>

namespace {

libnet::log_record joined_record(const libnet::log_field (&fields)[2]) {
    return {libnet::log_level::info, "client.joined", "joined alice", fields};
}

} // namespace

TEST_CASE("log_function: a record callable gets the record whole") {
    std::string seen;
    libnet::log_function log = [&seen](const libnet::log_record& r) {
        seen = std::string(r.event) + '|' + std::string(r.message);
        for (auto const& f : r.fields)
            seen += '|' + std::string(f.key) + '=' + std::string(f.value);
    };
    REQUIRE(log);
    libnet::log_field const fields[] = {{"id", "alice"}, {"online", "1"}};
    log(joined_record(fields));
    CHECK(seen == "client.joined|joined alice|id=alice|online=1");
    // The two-argument call: a record with no event and no fields.
    log(libnet::log_level::warn, "a sentence");
    CHECK(seen == "|a sentence");
}

TEST_CASE("log_function: a (log_level, string_view) callable gets the level and the message") {
    std::vector<std::pair<libnet::log_level, std::string>> seen;
    libnet::log_function log = [&seen](libnet::log_level l, std::string_view text) {
        seen.emplace_back(l, text);
    };
    REQUIRE(log);
    libnet::log_field const fields[] = {{"id", "alice"}, {"online", "1"}};
    log(joined_record(fields));
    log(libnet::log_level::error, "store: commit failed: disk full");
    REQUIRE(seen.size() == 2);
    CHECK(seen[0] == std::pair{libnet::log_level::info, std::string("joined alice")});
    CHECK(seen[1] ==
          std::pair{libnet::log_level::error, std::string("store: commit failed: disk full")});
}

TEST_CASE("log_function: empty when made of nothing, and then a call does nothing") {
    libnet::log_field const fields[] = {{"id", "alice"}, {"online", "1"}};
    libnet::log_function log;
    CHECK_FALSE(log);
    log(joined_record(fields)); // no bad_function_call
    log = nullptr;
    CHECK_FALSE(log);
    log = std::function<void(libnet::log_level, std::string_view)>();
    CHECK_FALSE(log);
    log = std::function<void(const libnet::log_record&)>();
    CHECK_FALSE(log);
    void (*old_style)(libnet::log_level, std::string_view) = nullptr;
    log = old_style;
    CHECK_FALSE(log);
    void (*new_style)(const libnet::log_record&) = nullptr;
    log = new_style;
    CHECK_FALSE(log);
    int calls = 0;
    log = [&calls](libnet::log_level, std::string_view) {
        ++calls;
    };
    auto copy = log;
    copy(libnet::log_level::info, "x");
    CHECK(calls == 1);
}
