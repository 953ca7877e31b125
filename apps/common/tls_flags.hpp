// SPDX-License-Identifier: BSL-1.0
#ifndef LIBNET_APPS_TLS_FLAGS_HPP
#define LIBNET_APPS_TLS_FLAGS_HPP

// The TLS flags of net-server and net-client (docs/guide.md §12), turned into contexts.

#include "app_support.hpp"

#include <libnet/tls_options.hpp>

#include <boost/program_options.hpp>

#include <chrono>
#include <stdexcept>
#include <string>

namespace app {

struct tls_flags {
    libnet::tls_files files;
    std::string min_version = "1.2";
    bool verify_clients = false;
    bool map_identity = false;
    unsigned handshake_ms = 5000;
    std::string server_name;
};

inline libnet::tls_version parse_tls_version(const std::string& v) {
    if (v == "1.2")
        return libnet::tls_version::v1_2;
    if (v == "1.3")
        return libnet::tls_version::v1_3;
    throw usage_error("--tls-min-version must be 1.2 or 1.3");
}

inline boost::program_options::options_description server_tls_options(tls_flags& t) {
    namespace po = boost::program_options;
    po::options_description d("TLS (docs/guide.md section 12)");
    // clang-format off
    d.add_options()
        ("tls-cert", po::value(&t.files.cert), "serve TLS with this certificate chain (PEM)")
        ("tls-key", po::value(&t.files.key), "private key of --tls-cert (PEM)")
        ("tls-ca", po::value(&t.files.ca), "CA certificates that verify client certificates (PEM)")
        ("tls-verify-clients", po::bool_switch(&t.verify_clients),
         "require a client certificate issued by --tls-ca")
        ("tls-map-identity", po::bool_switch(&t.map_identity),
         "a client must register under a name of its certificate (CN or DNS subjectAltName)")
        ("tls-min-version", po::value(&t.min_version)->default_value(t.min_version),
         "lowest TLS version accepted: 1.2 or 1.3")
        ("tls-handshake-ms", po::value(&t.handshake_ms)->default_value(t.handshake_ms),
         "time a connection has to complete its TLS handshake");
    // clang-format on
    return d;
}

/// Fills `o` from the flags; a usage_error names what is wrong.
inline void apply_server_tls(tls_flags& t, libnet::server_tls& o) {
    bool const any = !t.files.cert.empty() || !t.files.key.empty() || !t.files.ca.empty() ||
                     t.verify_clients || t.map_identity;
    if (!any)
        return;
    if (t.files.cert.empty() || t.files.key.empty())
        throw usage_error("TLS needs both --tls-cert and --tls-key");
    if (t.verify_clients && t.files.ca.empty())
        throw usage_error("--tls-verify-clients needs --tls-ca");
    if (t.map_identity && !t.verify_clients)
        throw usage_error("--tls-map-identity needs --tls-verify-clients");
    if (t.handshake_ms < 1)
        throw usage_error("--tls-handshake-ms must be at least 1");
    t.files.min_version = parse_tls_version(t.min_version);
    try {
        o.context = libnet::make_server_context(t.files, t.verify_clients);
    } catch (const std::runtime_error& e) {
        throw usage_error(e.what());
    }
    o.map_identity = t.map_identity;
    o.handshake_timeout = std::chrono::milliseconds(t.handshake_ms);
}

inline boost::program_options::options_description client_tls_options(tls_flags& t) {
    namespace po = boost::program_options;
    po::options_description d("TLS (docs/guide.md section 12)");
    // clang-format off
    d.add_options()
        ("tls", "connect with TLS (also implied by the other --tls flags)")
        ("tls-ca", po::value(&t.files.ca),
         "CA certificates that verify the server (PEM); default: the system's")
        ("tls-cert", po::value(&t.files.cert), "client certificate, for servers that ask (PEM)")
        ("tls-key", po::value(&t.files.key), "private key of --tls-cert (PEM)")
        ("tls-server-name", po::value(&t.server_name),
         "name the server's certificate must carry (default: the host of --server)")
        ("tls-min-version", po::value(&t.min_version)->default_value(t.min_version),
         "lowest TLS version accepted: 1.2 or 1.3");
    // clang-format on
    return d;
}

/// Fills `o` when --tls or another TLS flag was given.
inline void apply_client_tls(tls_flags& t, bool asked, libnet::client_tls& o) {
    if (!asked && t.files.ca.empty() && t.files.cert.empty() && t.files.key.empty() &&
        t.server_name.empty())
        return;
    t.files.min_version = parse_tls_version(t.min_version);
    try {
        o.context = libnet::make_client_context(t.files);
    } catch (const std::runtime_error& e) {
        throw usage_error(e.what());
    }
    o.server_name = t.server_name;
}

} // namespace app

#endif
