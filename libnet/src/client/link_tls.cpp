// SPDX-License-Identifier: BSL-1.0
#include "../wire/certificate.hpp"
#include "link_tls.hpp"

#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

namespace libnet::detail {

namespace ssl = boost::asio::ssl;

namespace {

// Certificates are self-signed: chain checks would fail them all, so every certificate
// passes here and the caller compares its digest with the pinned one instead.
void present(ssl::context& ctx, const pem_identity& id, ssl::verify_mode mode) {
    SSL_CTX_set_min_proto_version(ctx.native_handle(), TLS1_3_VERSION);
    ctx.use_certificate_chain(boost::asio::buffer(id.cert));
    ctx.use_private_key(boost::asio::buffer(id.key), ssl::context::pem);
    ctx.set_verify_mode(mode);
    ctx.set_verify_callback([](bool, ssl::verify_context&) { return true; });
}

} // namespace

link_tls::link_tls() : acceptor_(ssl::context::tls_server), dialer_(ssl::context::tls_client) {
    certificate_request r;
    r.common_name = "libnet link";
    auto const id = make_certificate(r);
    key_ = certificate_fingerprint(id.cert);
    present(acceptor_, id, ssl::verify_peer | ssl::verify_fail_if_no_peer_cert);
    present(dialer_, id, ssl::verify_peer);
    // One link per introduction: nothing to resume.
    SSL_CTX_set_num_tickets(acceptor_.native_handle(), 0);
}

std::string peer_link_key(transport::tls_stream& s) {
    auto* cert = SSL_get0_peer_certificate(s.native_handle());
    if (!cert)
        return {};
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    if (X509_digest(cert, EVP_sha256(), md, &n) != 1)
        return {};
    return std::string(reinterpret_cast<const char*>(md), n);
}

} // namespace libnet::detail
