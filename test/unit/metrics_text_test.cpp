// SPDX-License-Identifier: BSL-1.0
#include "../../apps/net-server/metrics_text.hpp"
#include "../../libnet/src/server/latency.hpp"

#include <catch2/catch.hpp>

#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <vector>

// net-server --metrics: server_stats as Prometheus text and JSON, and the latency buckets.

using namespace std::chrono_literals;

namespace {

libnet::server_stats sample_stats() {
    libnet::server_stats s;
    s.connections = 3;
    s.registrations = 2;
    s.online = 2;
    s.routed = 7;
    s.errors[libnet::error::no_such_client] = 4;
    s.errors[libnet::error::queue_full] = 1;
    libnet::detail::latency_recorder r;
    r.record(5us);
    r.record(30us);
    r.record(30us);
    r.record(3s);
    s.registration_latency = r.snapshot();
    return s;
}

struct exposition {
    std::map<std::string, std::string> types;                 // family -> type
    std::map<std::string, int> helps;                         // family -> HELP lines
    std::vector<std::pair<std::string, std::string>> samples; // name{labels} -> value
    std::vector<std::string> bad;                             // lines that do not parse
};

// The text format's grammar for what prometheus_text writes: comments, then samples with
// labels and a value.
exposition parse(const std::string& text) {
    static const std::regex help(R"(# HELP ([a-zA-Z_:][a-zA-Z0-9_:]*) .*)");
    static const std::regex type(R"(# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (counter|gauge|histogram))");
    static const std::regex sample(
        R"(([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\[\\"n])*")"
        R"((?:,[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\[\\"n])*")*\}) ([0-9.e+-]+|\+Inf))");
    exposition e;
    std::istringstream in(text);
    std::string line;
    std::smatch m;
    while (std::getline(in, line)) {
        if (std::regex_match(line, m, help))
            ++e.helps[m[1]];
        else if (std::regex_match(line, m, type))
            e.types.emplace(m[1], m[2]);
        else if (std::regex_match(line, m, sample))
            e.samples.emplace_back(std::string(m[1]) + std::string(m[2]), m[3]);
        else
            e.bad.push_back(line);
    }
    return e;
}

// The family a sample belongs to: a histogram's _bucket, _sum and _count are its own.
std::string family_of(const std::string& name, const exposition& e) {
    for (auto suffix : {"_bucket", "_sum", "_count"}) {
        auto const n = std::string(suffix).size();
        if (name.size() > n && name.ends_with(suffix) &&
            e.types.count(name.substr(0, name.size() - n)))
            return name.substr(0, name.size() - n);
    }
    return name;
}

std::string value_of(const exposition& e, const std::string& key) {
    for (auto const& [k, v] : e.samples)
        if (k == key)
            return v;
    FAIL("no sample " << key);
    return {};
}

} // namespace

TEST_CASE("metrics: every line parses, every family has HELP and TYPE once, before samples") {
    auto const text = app::prometheus_text(sample_stats(), {"node-1", "0.1.0"});
    auto const e = parse(text);
    CHECK(e.bad.empty());
    REQUIRE(e.samples.size() > 20);
    for (auto const& [family, n] : e.helps)
        CHECK(n == 1);
    CHECK(e.helps.size() == e.types.size());
    for (auto const& [key, value] : e.samples) {
        auto const name = key.substr(0, key.find('{'));
        auto const family = family_of(name, e);
        INFO(key);
        CHECK(e.types.count(family) == 1);
        CHECK(key.find("{node=\"node-1\"") != std::string::npos);
        // TYPE comes before the family's first sample.
        CHECK(text.find("# TYPE " + family + " ") < text.find("\n" + key + " "));
    }
}

TEST_CASE("metrics: counters end in _total, levels are gauges, errors have a code label") {
    auto const e = parse(app::prometheus_text(sample_stats(), {"n", "0.1.0"}));
    CHECK(e.types.at("libnet_server_routed_total") == "counter");
    CHECK(value_of(e, "libnet_server_routed_total{node=\"n\"}") == "7");
    CHECK(e.types.at("libnet_server_online") == "gauge");
    CHECK(value_of(e, "libnet_server_online{node=\"n\"}") == "2");
    CHECK(e.types.at("libnet_server_pending") == "gauge");
    CHECK(e.types.at("libnet_server_connections_open") == "gauge");
    CHECK(e.types.at("libnet_server_errors_total") == "counter");
    CHECK(value_of(e, "libnet_server_errors_total{node=\"n\",code=\"no_such_client\"}") == "4");
    CHECK(value_of(e, "libnet_server_errors_total{node=\"n\",code=\"queue_full\"}") == "1");
    CHECK(value_of(e, "libnet_build_info{node=\"n\",version=\"0.1.0\"}") == "1");
    for (auto const& [family, type] : e.types)
        CHECK((type != "counter" || family.ends_with("_total")));
}

TEST_CASE("metrics: a label value escapes backslash, double quote and newline") {
    CHECK(app::escape_label("plain-1:7000") == "plain-1:7000");
    CHECK(app::escape_label("a\"b\\c\nd") == "a\\\"b\\\\c\\nd");
    auto const text = app::prometheus_text({}, {"x\"y\nz", "1"});
    auto const e = parse(text);
    CHECK(e.bad.empty());
    CHECK(value_of(e, "libnet_server_online{node=\"x\\\"y\\nz\"}") == "0");
}

TEST_CASE("metrics: histogram buckets in seconds, cumulative, ending in +Inf at the count") {
    auto const e = parse(app::prometheus_text(sample_stats(), {"n", "0.1.0"}));
    auto const name = std::string("libnet_server_registration_latency_seconds");
    CHECK(e.types.at(name) == "histogram");
    std::vector<std::pair<std::string, std::uint64_t>> buckets;
    for (auto const& [key, value] : e.samples)
        if (key.starts_with(name + "_bucket{node=\"n\",le=\""))
            buckets.emplace_back(key.substr(key.find("le=\"") + 4), std::stoull(value));
    REQUIRE(buckets.size() == libnet::latency_histogram::bounds_us.size() + 1);
    CHECK(buckets.front() == std::pair<std::string, std::uint64_t>{"0.00001\"}", 1});
    CHECK(buckets[2] == std::pair<std::string, std::uint64_t>{"0.00005\"}", 3});
    CHECK(buckets.back() == std::pair<std::string, std::uint64_t>{"+Inf\"}", 4});
    for (std::size_t i = 1; i < buckets.size(); ++i)
        CHECK(buckets[i].second >= buckets[i - 1].second);
    CHECK(value_of(e, name + "_count{node=\"n\"}") == "4");
    CHECK(value_of(e, name + "_sum{node=\"n\"}") == "3.000065");
    CHECK(value_of(e, "libnet_server_store_commit_latency_seconds_count{node=\"n\"}") == "0");
}

TEST_CASE("metrics: seconds from microseconds, exactly") {
    CHECK(app::seconds_text(0) == "0");
    CHECK(app::seconds_text(10) == "0.00001");
    CHECK(app::seconds_text(2500) == "0.0025");
    CHECK(app::seconds_text(1000000) == "1");
    CHECK(app::seconds_text(2500000) == "2.5");
    CHECK(app::seconds_text(3000065) == "3.000065");
}

TEST_CASE("metrics: a duration lands in the first bucket whose bound is at least it") {
    libnet::detail::latency_recorder r;
    r.record(10us); // at the bound: in it
    r.record(11us); // above: the next
    r.record(-5us); // a clock that went back counts as 0
    r.record(2500ms);
    r.record(2501ms); // above every bound
    auto const h = r.snapshot();
    CHECK(h.counts[0] == 2);
    CHECK(h.counts[1] == 1);
    CHECK(h.counts[h.bounds_us.size() - 1] == 1);
    CHECK(h.counts.back() == 1);
    CHECK(h.count == 5);
    CHECK(h.sum_us == 10 + 11 + 0 + 2500000 + 2501000);
}

TEST_CASE("metrics: /varz is one JSON object with counters, gauges, errors and histograms") {
    auto const json = app::varz_json(sample_stats(), {"a\"b\\c\n", "0.1.0"});
    CHECK(json.starts_with("{\"node\":\"a\\\"b\\\\c\\u000a\",\"version\":\"0.1.0\","));
    CHECK(json.find("\"counters\":{\"connections\":3,") != std::string::npos);
    CHECK(json.find("\"routed\":7") != std::string::npos);
    CHECK(json.find("\"gauges\":{\"online\":2,") != std::string::npos);
    CHECK(json.find("\"errors\":{\"no_such_client\":4,\"queue_full\":1}") != std::string::npos);
    CHECK(json.find(
              "\"registration_latency\":{\"count\":4,\"sum_us\":3000065,\"bounds_us\":[10,25,") !=
          std::string::npos);
    CHECK(json.find("\"counts\":[1,0,2,0,") != std::string::npos);
    CHECK(json.ends_with("}}\n"));
    int depth = 0;
    bool in_string = false;
    for (std::size_t i = 0; i < json.size(); ++i) {
        if (in_string && json[i] == '\\')
            ++i;
        else if (json[i] == '"')
            in_string = !in_string;
        else if (!in_string)
            depth += json[i] == '{' || json[i] == '['   ? 1
                     : json[i] == '}' || json[i] == ']' ? -1
                                                        : 0;
        REQUIRE(depth >= 0);
    }
    CHECK(depth == 0);
    CHECK_FALSE(in_string);
}
