// SPDX-License-Identifier: BSL-1.0
#ifndef LIBNET_APPS_LOG_LINES_HPP
#define LIBNET_APPS_LOG_LINES_HPP

// Log lines on stderr: "2026-12-02T21:40:00.123Z info net-server: TEXT", or with
// --log-format json one object per line: {"time":...,"level":...,"program":...,"msg":...,
// "event":...}, then the record's fields as keys of their own.

#include "app_support.hpp"

#include <chrono>
#include <cstdio>
#include <ctime>
#include <string>
#include <string_view>

namespace app {

/// Now in RFC 3339, UTC, with milliseconds: "2026-12-02T21:40:00.123Z".
inline std::string rfc3339_now() {
    auto const now = std::chrono::system_clock::now();
    auto const secs = std::chrono::system_clock::to_time_t(now);
    auto const ms =
        std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() %
        1000;
    std::tm utc{};
    gmtime_r(&secs, &utc);
    char text[48]; // room for any int the fields could hold
    std::snprintf(text, sizeof text, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", utc.tm_year + 1900,
                  utc.tm_mon + 1, utc.tm_mday, utc.tm_hour, utc.tm_min, utc.tm_sec,
                  static_cast<int>(ms));
    return text;
}

inline std::string_view level_name(libnet::log_level l) {
    switch (l) {
    case libnet::log_level::debug:
        return "debug";
    case libnet::log_level::info:
        return "info";
    case libnet::log_level::warn:
        return "warn";
    case libnet::log_level::error:
        break;
    }
    return "error";
}

/// `text` as a JSON string, quotes included.
inline std::string json_string(std::string_view text) {
    std::string out = "\"";
    for (char c : text) {
        auto const u = static_cast<unsigned char>(c);
        if (c == '"' || c == '\\') {
            out += '\\';
            out += c;
        } else if (c == '\n') {
            out += "\\n";
        } else if (u < 0x20) {
            char esc[8];
            std::snprintf(esc, sizeof esc, "\\u%04x", u);
            out += esc;
        } else {
            out += c;
        }
    }
    return out + '"';
}

/// One log line in `format` ("text" or "json"). Text shows the message only; JSON adds the
/// event (when there is one) and each field as a key of its own.
inline std::string log_line(std::string_view format, std::string_view program,
                            const libnet::log_record& r) {
    auto const level = std::string(level_name(r.level));
    if (format != "json")
        return rfc3339_now() + ' ' + level + ' ' + std::string(program) + ": " +
               std::string(r.message);
    auto line = "{\"time\":\"" + rfc3339_now() + "\",\"level\":\"" + level +
                "\",\"program\":" + json_string(program) + ",\"msg\":" + json_string(r.message);
    if (!r.event.empty())
        line += ",\"event\":" + json_string(r.event);
    for (auto const& f : r.fields)
        line += ',' + json_string(f.key) + ':' + json_string(f.value);
    return line + '}';
}

/// A line with no event or fields.
inline std::string log_line(std::string_view format, std::string_view program, libnet::log_level l,
                            std::string_view text) {
    return log_line(format, program, libnet::log_record{l, {}, text, {}});
}

/// A thread-safe logger to stderr that drops lines below `level` ("off" drops all).
inline libnet::log_function stderr_log(const std::string& level, const std::string& format,
                                       std::string_view program) {
    if (format != "text" && format != "json")
        throw usage_error("--log-format must be text or json");
    if (level == "off")
        return {};
    auto const min = parse_level(level);
    if (!min)
        throw usage_error("--log-level must be debug, info, warn, error or off");
    static std::mutex mutex;
    return [min = *min, format, program = std::string(program)](const libnet::log_record& r) {
        if (r.level < min)
            return;
        auto const line = log_line(format, program, r);
        std::lock_guard lock(mutex);
        std::cerr << line << '\n' << std::flush;
    };
}

} // namespace app

#endif
