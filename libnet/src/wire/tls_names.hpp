// SPDX-License-Identifier: BSL-1.0
#ifndef LIBNET_SRC_WIRE_TLS_NAMES_HPP
#define LIBNET_SRC_WIRE_TLS_NAMES_HPP

#include <openssl/types.h>
#include <string>
#include <vector>

namespace libnet::detail {

/// The names a certificate is issued to: its DNS subjectAltNames, then its subject's
/// common names (server_tls::map_identity). None for a null certificate.
std::vector<std::string> certificate_names(X509* cert);

} // namespace libnet::detail

#endif
