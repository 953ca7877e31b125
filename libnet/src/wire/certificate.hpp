// SPDX-License-Identifier: BSL-1.0
#ifndef LIBNET_SRC_WIRE_CERTIFICATE_HPP
#define LIBNET_SRC_WIRE_CERTIFICATE_HPP

#include <chrono>
#include <string>
#include <string_view>
#include <vector>

namespace libnet::detail {

/// A certificate and its private key, PEM-encoded.
struct pem_identity {
    std::string cert;
    std::string key;
};

/// What make_certificate() issues: an ECDSA P-256 key and an X.509 v3 certificate.
struct certificate_request {
    std::string common_name;
    std::vector<std::string> alt_names;     ///< subjectAltName entries: "DNS:host", "IP:1.2.3.4".
    bool ca = false;                        ///< May sign other certificates.
    std::chrono::seconds valid_from{-3600}; ///< Relative to now.
    std::chrono::seconds valid_until{std::chrono::hours(24 * 365)};
};

/// Issues `r`, signed by `issuer` (null: self-signed). Throws std::runtime_error.
pem_identity make_certificate(const certificate_request& r, const pem_identity* issuer = nullptr);

/// SHA-256 of the DER form of the PEM certificate `cert_pem` (32 bytes); empty when it
/// can't be read.
std::string certificate_fingerprint(std::string_view cert_pem);

} // namespace libnet::detail

#endif
