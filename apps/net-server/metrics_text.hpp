// SPDX-License-Identifier: BSL-1.0
#ifndef LIBNET_APPS_NET_SERVER_METRICS_TEXT_HPP
#define LIBNET_APPS_NET_SERVER_METRICS_TEXT_HPP

// net-server's metrics pages: server_stats as Prometheus text and as JSON. No I/O.

#include <libnet/server_stats.hpp>

#include <cstdint>
#include <string>
#include <string_view>

namespace app {

/// What the pages say besides the stats.
struct metrics_labels {
    std::string node;    // the label node="..." on every sample
    std::string version; // libnet_build_info's version="..."
};

/// Prometheus text exposition format 0.0.4: every counter of `s` as
/// libnet_server_NAME_total, the levels as gauges, ERRORs by code, the latency histograms
/// in seconds and libnet_build_info.
std::string prometheus_text(const libnet::server_stats& s, const metrics_labels& l);

/// The same as one JSON object: node, version, counters, gauges, errors, histograms.
std::string varz_json(const libnet::server_stats& s, const metrics_labels& l);

/// `v` as a label value between double quotes: \, " and newline escaped.
std::string escape_label(std::string_view v);

/// `us` microseconds as seconds in decimal, exactly: 2500 -> "0.0025", 2000000 -> "2".
std::string seconds_text(std::uint64_t us);

} // namespace app

#endif
