// SPDX-License-Identifier: BSL-1.0
#include <libnet/access.hpp>

#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <stdexcept>
#include <string>
#include <string_view>
#include <unistd.h>

using namespace libnet;
using Catch::Contains;

namespace {

/// A file with the given bytes, removed at the end of the test.
class temp_file {
public:
    explicit temp_file(std::string_view text) {
        static int n = 0;
        path_ = (std::filesystem::temp_directory_path() /
                 ("libnet-access-test-" + std::to_string(::getpid()) + "-" + std::to_string(n++)))
                    .string();
        std::ofstream out(path_, std::ios::binary);
        out.write(text.data(), static_cast<std::streamsize>(text.size()));
        REQUIRE(out);
    }
    ~temp_file() {
        std::error_code ec;
        std::filesystem::remove(path_, ec);
    }
    temp_file(const temp_file&) = delete;
    temp_file& operator=(const temp_file&) = delete;

    const std::string& path() const { return path_; }
    /// "PATH:LINE: ", how errors name a line.
    std::string at(int line) const { return path_ + ":" + std::to_string(line) + ": "; }

private:
    std::string path_;
};

/// What `f` throws as E (a failed check when it throws nothing).
template <class E = std::runtime_error, class F>
std::string error_of(F f) {
    try {
        f();
    } catch (const E& e) {
        return e.what();
    }
    FAIL_CHECK("no exception");
    return {};
}

using ids = std::set<std::string>;
using secrets = std::map<std::string, std::string>;

} // namespace

TEST_CASE("access: parse_id_list") {
    CHECK(parse_id_list("alice") == ids{"alice"});
    CHECK(parse_id_list("alice,bob,carol") == ids{"alice", "bob", "carol"});
    CHECK(parse_id_list(" alice , bob\t") == ids{"alice", "bob"});
    CHECK(parse_id_list("alice,alice") == ids{"alice"});
    CHECK(parse_id_list("Zoë,東京") == ids{"Zoë", "東京"});
    CHECK(parse_id_list("").empty());
    CHECK_THAT(error_of<std::invalid_argument>([&] { parse_id_list("alice,b c"); }),
               Contains("\"b c\""));
    CHECK_THROWS_AS(parse_id_list("alice,,bob"), std::invalid_argument);
    CHECK_THROWS_AS(parse_id_list(","), std::invalid_argument);
    CHECK_THROWS_AS(parse_id_list("alice,"), std::invalid_argument);
    CHECK_THROWS_AS(parse_id_list(std::string(65, 'x')), std::invalid_argument);
}

TEST_CASE("access: an allow file skips comments and blank lines") {
    temp_file f("# the team\n\nalice\n  bob  \n\t# carol is away\n   \ndave\r\nerin");
    CHECK(load_allow_file(f.path()) == ids{"alice", "bob", "dave", "erin"});
    temp_file empty("# nobody\n\n");
    CHECK(load_allow_file(empty.path()).empty());
}

TEST_CASE("access: a bad allow file names its path and line") {
    temp_file f("alice\n# ok so far\nbad id\nbob\n");
    CHECK_THAT(error_of<std::runtime_error>([&] { load_allow_file(f.path()); }),
               Contains(f.at(3)) && Contains("\"bad id\""));
    temp_file control("alice\nbo\tb\n");
    CHECK_THAT(error_of<std::runtime_error>([&] { load_allow_file(control.path()); }),
               Contains(control.at(2)));
    auto const missing = f.path() + "-missing";
    CHECK_THAT(error_of<std::runtime_error>([&] { load_allow_file(missing); }), Contains(missing));
}

TEST_CASE("access: a secrets file splits each line at its first colon") {
    temp_file f("# id:secret\n\nalice:pa:ss:word\n  bob :  spaced out  \ncarol:x\r\ndave:last");
    CHECK(load_secrets_file(f.path()) == secrets{{"alice", "pa:ss:word"},
                                                 {"bob", "  spaced out  "},
                                                 {"carol", "x"},
                                                 {"dave", "last"}});
    temp_file empty("# nothing yet\n");
    CHECK_THROWS_AS(load_secrets_file(empty.path()), std::runtime_error); // protects nothing
}

TEST_CASE("access: a bad secrets file names its path and line, never the secret") {
    auto const secret = Contains("s3cret"); // every secret below has it
    SECTION("an empty secret") {
        temp_file f("alice:s3cret-1\nbob:\n");
        CHECK_THAT(error_of<std::runtime_error>([&] { load_secrets_file(f.path()); }),
                   Contains(f.at(2)) && Contains("bob") && !secret);
        temp_file crlf("bob:\r\n");
        CHECK_THAT(error_of<std::runtime_error>([&] { load_secrets_file(crlf.path()); }),
                   Contains(crlf.at(1)));
    }
    SECTION("an id given twice") {
        temp_file f("alice:s3cret-1\n# again\nalice:s3cret-2\n");
        CHECK_THAT(error_of<std::runtime_error>([&] { load_secrets_file(f.path()); }),
                   Contains(f.at(3)) && Contains("alice") && !secret);
    }
    SECTION("a line without a colon") {
        temp_file f("alice:s3cret-1\ns3cret-2\n");
        CHECK_THAT(error_of<std::runtime_error>([&] { load_secrets_file(f.path()); }),
                   Contains(f.at(2)) && !secret);
    }
    SECTION("an invalid id") {
        temp_file f("bad id:s3cret-1\n");
        CHECK_THAT(error_of<std::runtime_error>([&] { load_secrets_file(f.path()); }),
                   Contains(f.at(1)) && !secret);
        temp_file no_id(":s3cret-1\n");
        CHECK_THAT(error_of<std::runtime_error>([&] { load_secrets_file(no_id.path()); }),
                   Contains(no_id.at(1)) && !secret);
    }
    SECTION("a missing file") {
        auto const missing = std::filesystem::temp_directory_path() / "libnet-no-such-secrets";
        CHECK_THAT(error_of<std::runtime_error>([&] { load_secrets_file(missing.string()); }),
                   Contains(missing.string()));
    }
}
