// SPDX-License-Identifier: BSL-1.0
#ifndef LIBNET_TEST_TLS_HARNESS_HPP
#define LIBNET_TEST_TLS_HARNESS_HPP

// Certificates for TLS tests, made fresh by each test run: a CA, certificates it issued
// (ECDSA P-256, as docs/guide.md §12 recommends) and a CA nobody trusts, as PEM files in a
// temporary directory.

#include "../../libnet/src/wire/certificate.hpp"

#include <libnet/tls_options.hpp>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

namespace test {

class tls_dir {
public:
    tls_dir() {
        std::string pattern =
            (std::filesystem::temp_directory_path() / "libnet-tls-XXXXXX").string();
        if (!::mkdtemp(pattern.data()))
            throw std::runtime_error("mkdtemp failed");
        dir_ = pattern;
        ca_ = libnet::detail::make_certificate({"libnet test CA", {}, true});
        write("ca", ca_);
        issue("server", "localhost", {"DNS:localhost", "IP:127.0.0.1"});
    }
    ~tls_dir() {
        std::error_code ignored;
        std::filesystem::remove_all(dir_, ignored);
    }
    tls_dir(const tls_dir&) = delete;
    tls_dir& operator=(const tls_dir&) = delete;

    /// Issues `name`.pem / `name`.key for `cn` from the test CA (or a CA of its own).
    void issue(const std::string& name, const std::string& cn, std::vector<std::string> alt = {},
               std::chrono::seconds valid_until = std::chrono::hours(24), bool untrusted = false) {
        libnet::detail::certificate_request r{cn, std::move(alt)};
        r.valid_until = valid_until;
        if (untrusted) {
            auto other = libnet::detail::make_certificate({"someone else's CA", {}, true});
            write(name, libnet::detail::make_certificate(r, &other));
        } else {
            write(name, libnet::detail::make_certificate(r, &ca_));
        }
    }

    std::string path(const std::string& file) const { return (dir_ / file).string(); }
    std::string ca() const { return path("ca.pem"); }
    /// The files of identity `name` (cert and key), trusting the test CA.
    libnet::tls_files files(const std::string& name) const {
        libnet::tls_files f;
        if (!name.empty()) {
            f.cert = path(name + ".pem");
            f.key = path(name + ".key");
        }
        f.ca = ca();
        return f;
    }

private:
    void write(const std::string& name, const libnet::detail::pem_identity& id) {
        std::ofstream(dir_ / (name + ".pem")) << id.cert;
        std::ofstream(dir_ / (name + ".key")) << id.key;
    }

    std::filesystem::path dir_;
    libnet::detail::pem_identity ca_;
};

} // namespace test

#endif
