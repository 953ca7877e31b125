// SPDX-License-Identifier: BSL-1.0
#ifndef LIBNET_APPS_APP_SUPPORT_HPP
#define LIBNET_APPS_APP_SUPPORT_HPP

// Small pieces shared by net-server and net-client.

#include <libnet/log.hpp>
#include <libnet/version.hpp>

#include <boost/version.hpp>

#include <iostream>
#include <mutex>
#include <openssl/crypto.h>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>

namespace app {

/// A command-line mistake: reported with the program's name, exit code 2.
struct usage_error : std::runtime_error {
    using std::runtime_error::runtime_error;
};

/// `--version`: the program's, the linked library's and its dependencies' versions.
inline void print_version(std::string_view program) {
    std::cout << program << ' ' << LIBNET_VERSION_STRING << " (libnet " << libnet::library_version()
              << ", Boost " << BOOST_VERSION / 100000 << '.' << BOOST_VERSION / 100 % 1000 << '.'
              << BOOST_VERSION % 100 << ", " << OpenSSL_version(OPENSSL_VERSION) << ")\n"
              << "Distributed under the Boost Software License, Version 1.0.\n";
}

inline std::optional<libnet::log_level> parse_level(std::string_view s) {
    if (s == "debug")
        return libnet::log_level::debug;
    if (s == "info")
        return libnet::log_level::info;
    if (s == "warn")
        return libnet::log_level::warn;
    if (s == "error")
        return libnet::log_level::error;
    return std::nullopt;
}

struct host_port {
    std::string host;
    std::string port;
};

/// Splits "host:port" or "[v6]:port"; the port must be 1-65535 (0 too if `allow_zero`).
inline host_port parse_host_port(const std::string& s, bool allow_zero = false) {
    auto const colon = s.rfind(':');
    if (colon == std::string::npos || colon == 0 || colon + 1 == s.size())
        throw usage_error("expected HOST:PORT, got '" + s + "'");
    std::string host = s.substr(0, colon);
    if (host.front() == '[' && host.back() == ']')
        host = host.substr(1, host.size() - 2);
    auto const port = s.substr(colon + 1);
    if (port.find_first_not_of("0123456789") != std::string::npos || port.size() > 5 ||
        std::stoul(port) > 65535 || (!allow_zero && std::stoul(port) == 0))
        throw usage_error("bad port '" + port + "' in '" + s + "'");
    return {host, port};
}

/// "ip:port" or "[v6]:port", as the programs print their bound addresses.
template <class Endpoint>
std::string endpoint_text(const Endpoint& ep) {
    std::ostringstream os;
    os << ep;
    return os.str();
}

} // namespace app

#endif
