// SPDX-License-Identifier: BSL-1.0
#include "wire/tls_names.hpp"

#include <libnet/tls_options.hpp>

#include <boost/asio/ssl/context.hpp>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <stdexcept>

namespace libnet {

namespace ssl = boost::asio::ssl;

namespace {

[[noreturn]] void fail(const std::string& what, const boost::system::error_code& ec) {
    throw std::runtime_error(what + ": " + ec.message());
}

void set_versions(ssl::context& ctx, tls_version min) {
    ctx.set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                    ssl::context::no_sslv3 | ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1);
    if (min == tls_version::v1_3)
        SSL_CTX_set_min_proto_version(ctx.native_handle(), TLS1_3_VERSION);
    else
        SSL_CTX_set_min_proto_version(ctx.native_handle(), TLS1_2_VERSION);
}

void use_identity(ssl::context& ctx, const tls_files& files) {
    boost::system::error_code ec;
    if (files.cert.empty() != files.key.empty())
        throw std::runtime_error("TLS: a certificate needs its key, and a key its certificate");
    if (files.cert.empty())
        return;
    if (ctx.use_certificate_chain_file(files.cert, ec); ec)
        fail("TLS certificate " + files.cert, ec);
    if (ctx.use_private_key_file(files.key, ssl::context::pem, ec); ec) {
        if (ERR_GET_REASON(static_cast<unsigned long>(ec.value())) == X509_R_KEY_VALUES_MISMATCH)
            throw std::runtime_error("TLS key " + files.key + " does not match certificate " +
                                     files.cert);
        fail("TLS key " + files.key, ec);
    }
    if (SSL_CTX_check_private_key(ctx.native_handle()) != 1)
        throw std::runtime_error("TLS key " + files.key + " does not match certificate " +
                                 files.cert);
}

void trust(ssl::context& ctx, const std::string& ca) {
    boost::system::error_code ec;
    if (ctx.load_verify_file(ca, ec); ec)
        fail("TLS CA file " + ca, ec);
}

} // namespace

std::shared_ptr<ssl::context> make_server_context(const tls_files& files, bool verify_clients) {
    auto ctx = std::make_shared<ssl::context>(ssl::context::tls_server);
    set_versions(*ctx, files.min_version);
    if (files.cert.empty())
        throw std::runtime_error("TLS: the server needs a certificate and its key");
    use_identity(*ctx, files);
    if (verify_clients) {
        if (files.ca.empty())
            throw std::runtime_error("TLS: verifying clients needs a CA file");
        trust(*ctx, files.ca);
        // The CAs' names tell clients which certificate to send.
        if (auto* names = SSL_load_client_CA_file(files.ca.c_str()))
            SSL_CTX_set_client_CA_list(ctx->native_handle(), names);
        ctx->set_verify_mode(ssl::verify_peer | ssl::verify_fail_if_no_peer_cert);
    }
    // Sessions resume by ticket: a reconnecting client skips the key exchange.
    SSL_CTX_set_session_cache_mode(ctx->native_handle(), SSL_SESS_CACHE_SERVER);
    return ctx;
}

std::shared_ptr<ssl::context> make_client_context(const tls_files& files) {
    auto ctx = std::make_shared<ssl::context>(ssl::context::tls_client);
    set_versions(*ctx, files.min_version);
    use_identity(*ctx, files);
    if (files.ca.empty()) {
        boost::system::error_code ec;
        if (ctx->set_default_verify_paths(ec); ec)
            fail("TLS: the system's CAs", ec);
    } else {
        trust(*ctx, files.ca);
    }
    ctx->set_verify_mode(ssl::verify_peer);
    return ctx;
}

namespace detail {

std::vector<std::string> certificate_names(X509* cert) {
    std::vector<std::string> names;
    if (!cert)
        return names;
    if (auto* sans = static_cast<GENERAL_NAMES*>(
            X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr, nullptr))) {
        for (int i = 0; i < sk_GENERAL_NAME_num(sans); ++i) {
            auto const* n = sk_GENERAL_NAME_value(sans, i);
            if (n->type != GEN_DNS)
                continue;
            auto const* s = n->d.dNSName;
            names.emplace_back(reinterpret_cast<const char*>(ASN1_STRING_get0_data(s)),
                               static_cast<std::size_t>(ASN1_STRING_length(s)));
        }
        GENERAL_NAMES_free(sans);
    }
    auto* subject = X509_get_subject_name(cert);
    for (int i = -1; (i = X509_NAME_get_index_by_NID(subject, NID_commonName, i)) >= 0;) {
        auto const* s = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(subject, i));
        names.emplace_back(reinterpret_cast<const char*>(ASN1_STRING_get0_data(s)),
                           static_cast<std::size_t>(ASN1_STRING_length(s)));
    }
    return names;
}

} // namespace detail

} // namespace libnet
