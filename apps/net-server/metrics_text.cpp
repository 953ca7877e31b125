// SPDX-License-Identifier: BSL-1.0
#include "metrics_text.hpp"

#include <iterator>
#include <span>

namespace app {

namespace {

using libnet::server_stats;

struct field {
    const char* name;
    std::uint64_t server_stats::*member;
    const char* help;
};

// One table drives both pages; the help texts are server_stats's.
const field counters[] = {
    {"connections", &server_stats::connections, "Connections accepted, UDP sessions included."},
    {"registrations", &server_stats::registrations, "Successful registrations (HELLOs)."},
    {"frames_in", &server_stats::frames_in, "Frames received from clients."},
    {"frames_out", &server_stats::frames_out, "Frames sent to clients."},
    {"bytes_in", &server_stats::bytes_in, "Bytes of frames received, headers included."},
    {"bytes_out", &server_stats::bytes_out, "Bytes of frames sent, headers included."},
    {"routed", &server_stats::routed, "SENDs and application messages delivered or stored."},
    {"broadcasts", &server_stats::broadcasts, "BROADCASTs accepted."},
    {"slow_consumers", &server_stats::slow_consumers, "Clients dropped as slow consumers."},
    {"lost", &server_stats::lost, "Clients dropped for missed heartbeats."},
    {"stored", &server_stats::stored, "Messages accepted into mailboxes."},
    {"stored_offline", &server_stats::stored_offline,
     "Messages accepted into mailboxes of offline recipients."},
    {"acked", &server_stats::acked, "Mailbox messages acknowledged by their recipients."},
    {"expired", &server_stats::expired, "Mailbox messages dropped unread at their expiry."},
    {"store_failures", &server_stats::store_failures, "Store commits that failed."},
    {"refused", &server_stats::refused, "Registrations refused by the allow list or a secret."},
};

const field gauges[] = {
    {"online", &server_stats::online, "Clients registered now."},
    {"pending", &server_stats::pending, "Messages in mailboxes now."},
    {"connections_open", &server_stats::connections_open,
     "Connections open now, UDP sessions included."},
    {"udp_sessions", &server_stats::udp_sessions, "UDP sessions open now."},
    {"udp_cookies", &server_stats::udp_cookies, "UDP address proofs remembered now."},
};

struct histogram {
    const char* name;
    libnet::latency_histogram server_stats::*member;
    const char* help;
};

const histogram histograms[] = {
    {"registration_latency", &server_stats::registration_latency,
     "From a HELLO read to its WELCOME queued."},
    {"store_commit_latency", &server_stats::store_commit_latency,
     "From a batch of mailbox changes handed to the store to its commit."},
};

void family(std::string& out, std::string_view name, std::string_view type, std::string_view help) {
    out.append("# HELP ").append(name).append(" ");
    for (char c : help) {
        if (c == '\\')
            out += "\\\\";
        else if (c == '\n')
            out += "\\n";
        else
            out += c;
    }
    out.append("\n# TYPE ").append(name).append(" ").append(type).append("\n");
}

// `labels`: node="..." and any more, already escaped.
void sample(std::string& out, std::string_view name, std::string_view labels,
            std::string_view value) {
    out.append(name).append("{").append(labels).append("} ").append(value).append("\n");
}

void prometheus_histogram(std::string& out, const histogram& h, const server_stats& s,
                          const std::string& node) {
    auto const name = std::string("libnet_server_") + h.name + "_seconds";
    auto const& v = s.*h.member;
    family(out, name, "histogram", h.help);
    std::uint64_t below = 0;
    for (std::size_t i = 0; i < v.counts.size(); ++i) {
        below += v.counts[i];
        auto const le = i < v.bounds_us.size() ? seconds_text(v.bounds_us[i]) : "+Inf";
        sample(out, name + "_bucket", node + ",le=\"" + le + "\"", std::to_string(below));
    }
    sample(out, name + "_sum", node, seconds_text(v.sum_us));
    sample(out, name + "_count", node, std::to_string(v.count));
}

void json_string(std::string& out, std::string_view v) {
    static constexpr char hex[] = "0123456789abcdef";
    out += '"';
    for (unsigned char c : v) {
        if (c == '"' || c == '\\') {
            out += '\\';
            out += static_cast<char>(c);
        } else if (c < 0x20) {
            out.append("\\u00").append(1, hex[c >> 4]).append(1, hex[c & 15]);
        } else {
            out += static_cast<char>(c);
        }
    }
    out += '"';
}

template <class Range>
void json_numbers(std::string& out, const Range& r) {
    out += '[';
    for (auto it = std::begin(r); it != std::end(r); ++it)
        out.append(it == std::begin(r) ? "" : ",").append(std::to_string(*it));
    out += ']';
}

void json_fields(std::string& out, const char* key, std::span<const field> fields,
                 const server_stats& s) {
    out.append(",\"").append(key).append("\":{");
    for (auto const& f : fields)
        out.append(&f == fields.data() ? "\"" : ",\"")
            .append(f.name)
            .append("\":")
            .append(std::to_string(s.*f.member));
    out += '}';
}

void json_histogram(std::string& out, const libnet::latency_histogram& h) {
    out.append("{\"count\":").append(std::to_string(h.count));
    out.append(",\"sum_us\":").append(std::to_string(h.sum_us));
    out.append(",\"bounds_us\":");
    json_numbers(out, h.bounds_us);
    out.append(",\"counts\":");
    json_numbers(out, h.counts);
    out += '}';
}

} // namespace

std::string escape_label(std::string_view v) {
    std::string out;
    for (char c : v) {
        if (c == '\n') {
            out += "\\n";
            continue;
        }
        if (c == '\\' || c == '"')
            out += '\\';
        out += c;
    }
    return out;
}

std::string seconds_text(std::uint64_t us) {
    auto text = std::to_string(us / 1000000);
    if (auto frac = us % 1000000) {
        auto digits = std::to_string(frac);
        digits.insert(0, 6 - digits.size(), '0');
        digits.erase(digits.find_last_not_of('0') + 1);
        text.append(".").append(digits);
    }
    return text;
}

std::string prometheus_text(const server_stats& s, const metrics_labels& l) {
    std::string out;
    out.reserve(8192);
    auto const node = "node=\"" + escape_label(l.node) + "\"";
    for (auto const& f : counters) {
        auto const name = std::string("libnet_server_") + f.name + "_total";
        family(out, name, "counter", f.help);
        sample(out, name, node, std::to_string(s.*f.member));
    }
    family(out, "libnet_server_errors_total", "counter", "ERROR frames sent, by code.");
    for (auto const& [code, n] : s.errors)
        sample(out, "libnet_server_errors_total",
               node + ",code=\"" + escape_label(libnet::to_string(code)) + "\"", std::to_string(n));
    for (auto const& f : gauges) {
        auto const name = std::string("libnet_server_") + f.name;
        family(out, name, "gauge", f.help);
        sample(out, name, node, std::to_string(s.*f.member));
    }
    for (auto const& h : histograms)
        prometheus_histogram(out, h, s, node);
    family(out, "libnet_build_info", "gauge", "The libnet version serving, as a label.");
    sample(out, "libnet_build_info", node + ",version=\"" + escape_label(l.version) + "\"", "1");
    return out;
}

std::string varz_json(const server_stats& s, const metrics_labels& l) {
    std::string out = "{\"node\":";
    json_string(out, l.node);
    out.append(",\"version\":");
    json_string(out, l.version);
    json_fields(out, "counters", counters, s);
    json_fields(out, "gauges", gauges, s);
    out.append(",\"errors\":{");
    for (auto const& [code, n] : s.errors) {
        out.append(code == s.errors.begin()->first ? "" : ",");
        json_string(out, libnet::to_string(code));
        out.append(":").append(std::to_string(n));
    }
    out.append("},\"histograms\":{");
    for (auto const& h : histograms) {
        out.append(&h == histograms ? "" : ",");
        json_string(out, h.name);
        out += ':';
        json_histogram(out, s.*h.member);
    }
    out.append("}}\n");
    return out;
}

} // namespace app
