// SPDX-License-Identifier: BSL-1.0
// server_options::log: the records' events and fields, and callbacks of the older form that
// take the level and the sentence.

#include "harness.hpp"

#include <libnet/log.hpp>

#include <map>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

using namespace test;

namespace {

/// A log_record that owns its strings.
struct kept_record {
    libnet::log_level level;
    std::string event;
    std::string message;
    std::vector<std::pair<std::string, std::string>> fields;

    std::vector<std::string> keys() const {
        std::vector<std::string> out;
        for (auto const& f : fields)
            out.push_back(f.first);
        return out;
    }
    std::string field(std::string_view key) const {
        for (auto const& f : fields)
            if (f.first == key)
                return f.second;
        return "(no " + std::string(key) + ")";
    }
};

std::ostream& operator<<(std::ostream& os, const kept_record& r) {
    os << libnet::to_string(r.level) << ' ' << r.event << " \"" << r.message << '"';
    for (auto const& [k, v] : r.fields)
        os << ' ' << k << '=' << v;
    return os;
}

/// Keeps what `log` gets; the library may call it from several threads.
class record_log {
public:
    libnet::log_function function() {
        return [this](const libnet::log_record& r) {
            kept_record k{r.level, std::string(r.event), std::string(r.message), {}};
            for (auto const& f : r.fields)
                k.fields.emplace_back(f.key, f.value);
            std::lock_guard lock(mutex_);
            records_.push_back(std::move(k));
        };
    }
    std::vector<kept_record> all() const {
        std::lock_guard lock(mutex_);
        return records_;
    }
    /// The records of `event`, in order.
    std::vector<kept_record> of(std::string_view event) const {
        std::vector<kept_record> out;
        for (auto const& r : all())
            if (r.event == event)
                out.push_back(r);
        return out;
    }

private:
    mutable std::mutex mutex_;
    std::vector<kept_record> records_;
};

bool starts_with(std::string_view s, std::string_view prefix) {
    return s.substr(0, prefix.size()) == prefix;
}

using keys = std::vector<std::string>;

} // namespace

TEST_CASE("log: a join, a refusal and a leave come with their event and fields") {
    record_log log;
    run([&log](asio::io_context& ioc) { return join_refuse_leave(ioc, log.function()); });
    auto const all = log.all();
    REQUIRE_FALSE(all.empty());
    for (auto const& r : all) {
        INFO(r);
        CHECK_FALSE(r.event.empty());
    }
    CHECK(all.front().event == "server.listening");
    CHECK(all.back().event == "server.stopped");

    auto const joined = log.of("client.joined");
    REQUIRE(joined.size() == 1);
    auto const& j = joined[0];
    INFO(j);
    CHECK(j.level == libnet::log_level::info);
    CHECK(j.keys() == keys{"id", "address", "online"});
    CHECK(j.field("id") == "alice");
    CHECK(starts_with(j.field("address"), "127.0.0.1:"));
    CHECK(j.field("online") == "1");
    CHECK(j.message == "joined alice from " + j.field("address") + " (1 online)");

    auto const refused = log.of("client.refused");
    REQUIRE(refused.size() == 1);
    auto const& f = refused[0];
    INFO(f);
    CHECK(f.level == libnet::log_level::info);
    CHECK(f.keys() == keys{"id", "address", "reason", "code"});
    CHECK(f.field("id") == "bob");
    CHECK(starts_with(f.field("address"), "127.0.0.1:"));
    CHECK(f.field("reason") == "not on the allow list");
    CHECK(f.field("code") == "not_allowed");
    CHECK(f.message == "refused bob: not on the allow list");

    auto const left = log.of("client.left");
    REQUIRE(left.size() == 1);
    auto const& l = left[0];
    INFO(l);
    CHECK(l.keys() == keys{"id", "reason", "online"});
    CHECK(l.field("id") == "alice");
    CHECK(l.field("reason") == "bye");
    CHECK(l.field("online") == "0");
    CHECK(l.message == "left alice (bye, 0 online)");
}

TEST_CASE("log: a callback taking the level and a string_view still gets every sentence") {
    std::vector<std::pair<libnet::log_level, std::string>> lines;
    run([&lines](asio::io_context& ioc) {
        return join_refuse_leave(ioc, [&lines](libnet::log_level level, std::string_view line) {
            lines.emplace_back(level, line);
        });
    });
    auto has = [&lines](libnet::log_level level, std::string_view prefix) {
        for (auto const& [l, text] : lines)
            if (l == level && starts_with(text, prefix))
                return true;
        return false;
    };
    for (auto const& [l, text] : lines)
        UNSCOPED_INFO(libnet::to_string(l) << ": " << text);
    CHECK(has(libnet::log_level::info, "joined alice from 127.0.0.1:"));
    CHECK(has(libnet::log_level::info, "refused bob: not on the allow list"));
    CHECK(has(libnet::log_level::info, "left alice (bye, 0 online)"));
    CHECK(has(libnet::log_level::info, "stopped"));
}

TEST_CASE("log: no record carries a secret, in its message or a field") {
    record_log log;
    run([&log](asio::io_context& ioc) -> asio::awaitable<void> {
        auto o = allow("bob");
        o.secrets["alice"] = "hunter2-secret";
        o.auth_failure_delay = 1ms;
        o.log = log.function();
        server s(ioc, o);
        auto good = with_id("alice");
        good.credentials = "hunter2-secret";
        auto a = co_await try_connect(ioc, s, good);
        REQUIRE_FALSE(a.second);
        auto bad = with_id("alice");
        bad.credentials = "hunter3-secret";
        auto r = co_await try_connect(ioc, s, bad);
        CHECK(r.second == libnet::error::auth_failed);
        // A changed secret closes alice: the change is logged, the secrets are not.
        CHECK(s->update_access(libnet::parse_id_list("bob"), secret_of("alice", "hunter4")) == 1);
        auto const end = co_await end_of(*a.first);
        CHECK(end == libnet::error::auth_failed);
        co_await s.stop();
    });
    auto const refused = log.of("client.refused");
    REQUIRE(refused.size() == 1);
    CHECK(refused[0].field("reason") == "wrong secret");
    CHECK(refused[0].field("code") == "auth_failed");
    auto const updated = log.of("access.updated");
    REQUIRE(updated.size() == 1);
    CHECK(updated[0].keys() == keys{"allowed", "with_secrets", "closed"});
    CHECK(updated[0].field("closed") == "1");
    auto const revoked = log.of("access.revoked");
    REQUIRE(revoked.size() == 1);
    CHECK(revoked[0].field("id") == "alice");
    CHECK(revoked[0].field("code") == "auth_failed");
    for (auto const& r : log.all()) {
        INFO(r);
        CHECK(r.message.find("hunter") == std::string::npos);
        for (auto const& [k, v] : r.fields)
            CHECK(v.find("hunter") == std::string::npos);
    }
}
