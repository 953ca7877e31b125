// SPDX-License-Identifier: BSL-1.0
#ifndef LIBNET_APPS_NET_CLIENT_OUTPUT_HPP
#define LIBNET_APPS_NET_CLIENT_OUTPUT_HPP

// How net-client writes what it learns (stdout) and what went wrong (stderr), and reads the
// numbers in its commands.

#include <libnet/client.hpp>

#include <boost/asio/ssl/error.hpp>

#include <cstdio>
#include <iostream>
#include <optional>
#include <string>

namespace app {

inline void say(const std::string& line) {
    std::cout << line << std::endl;
}
inline void complain(const std::string& line) {
    std::cerr << "net-client: " << line << std::endl;
}

/// A whole number from 1 to `max` written with digits only ("5", not "-1", "5x" or "").
inline std::optional<unsigned long> parse_count(const std::string& text, unsigned long max) {
    if (text.empty() || text.size() > 9 ||
        text.find_first_not_of("0123456789") != std::string::npos)
        return std::nullopt;
    auto const n = std::stoul(text);
    if (n < 1 || n > max)
        return std::nullopt;
    return n;
}

inline std::string describe(const libnet::server_error& e) {
    std::string s = "error " + std::string(libnet::to_string(libnet::wire_code(e.code))) + " (" +
                    std::to_string(e.code.value()) + "): " + e.text;
    return e.id.empty() ? s : s + ": " + e.id;
}

// "not_allowed (37): client id is not allowed" for libnet's codes, so scripts can match
// the name; other errors by their message only.
inline std::string describe(libnet::error_code ec) {
    if (ec.category() == boost::asio::error::get_ssl_category() ||
        ec.category() == boost::asio::ssl::error::get_stream_category())
        return "TLS: " + ec.message();
    if (ec.category() != libnet::libnet_category())
        return ec.message();
    return std::string(libnet::to_string(libnet::wire_code(ec))) + " (" +
           std::to_string(ec.value()) + "): " + ec.message();
}

inline std::string describe(const libnet::message& m) {
    std::string s = "[" + m.from + "] ";
    if (m.via == libnet::route::direct)
        s += "(direct) ";
    if (m.type != 0) {
        char type[16];
        std::snprintf(type, sizeof type, "(app 0x%04x) ", m.type);
        s += type;
    }
    return s + m.body;
}

} // namespace app

#endif
