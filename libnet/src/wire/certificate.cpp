// SPDX-License-Identifier: BSL-1.0
#include "certificate.hpp"

#include <atomic>
#include <memory>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <stdexcept>

namespace libnet::detail {

namespace {

template <auto Free>
struct freer {
    template <class T>
    void operator()(T* p) const noexcept {
        Free(p);
    }
};
using pkey_ptr = std::unique_ptr<EVP_PKEY, freer<EVP_PKEY_free>>;
using x509_ptr = std::unique_ptr<X509, freer<X509_free>>;
using bio_ptr = std::unique_ptr<BIO, freer<BIO_free>>;

void check(bool ok, const char* what) {
    if (!ok)
        throw std::runtime_error(std::string("certificate: ") + what + " failed");
}

bio_ptr read_bio(std::string_view pem) {
    return bio_ptr(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
}

std::string bio_text(BIO* b) {
    char* data = nullptr;
    auto const n = BIO_get_mem_data(b, &data);
    return std::string(data, static_cast<std::size_t>(n));
}

void add_extension(X509* cert, X509* issuer, int nid, const std::string& value) {
    X509V3_CTX ctx;
    X509V3_set_ctx_nodb(&ctx);
    X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
    auto* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value.c_str());
    check(ext != nullptr, "extension");
    X509_add_ext(cert, ext, -1);
    X509_EXTENSION_free(ext);
}

} // namespace

pem_identity make_certificate(const certificate_request& r, const pem_identity* issuer) {
    pkey_ptr key(EVP_EC_gen("P-256"));
    check(key != nullptr, "key generation");
    x509_ptr cert(X509_new());
    X509_set_version(cert.get(), 2);
    static std::atomic<long> serial{1};
    ASN1_INTEGER_set(X509_get_serialNumber(cert.get()), serial++);
    X509_gmtime_adj(X509_getm_notBefore(cert.get()), static_cast<long>(r.valid_from.count()));
    X509_gmtime_adj(X509_getm_notAfter(cert.get()), static_cast<long>(r.valid_until.count()));
    X509_set_pubkey(cert.get(), key.get());
    auto* name = X509_get_subject_name(cert.get());
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
                               reinterpret_cast<const unsigned char*>(r.common_name.c_str()), -1,
                               -1, 0);

    x509_ptr issuer_cert;
    pkey_ptr issuer_key;
    if (issuer) {
        issuer_cert.reset(
            PEM_read_bio_X509(read_bio(issuer->cert).get(), nullptr, nullptr, nullptr));
        issuer_key.reset(
            PEM_read_bio_PrivateKey(read_bio(issuer->key).get(), nullptr, nullptr, nullptr));
        check(issuer_cert && issuer_key, "reading the issuer");
    }
    X509* signer = issuer ? issuer_cert.get() : cert.get();
    X509_set_issuer_name(cert.get(), X509_get_subject_name(signer));
    add_extension(cert.get(), signer, NID_basic_constraints,
                  r.ca ? "critical,CA:TRUE" : "critical,CA:FALSE");
    if (r.ca)
        add_extension(cert.get(), signer, NID_key_usage, "critical,keyCertSign,cRLSign");
    std::string alt;
    for (auto const& a : r.alt_names)
        alt += (alt.empty() ? "" : ",") + a;
    if (!alt.empty())
        add_extension(cert.get(), signer, NID_subject_alt_name, alt);
    check(X509_sign(cert.get(), issuer ? issuer_key.get() : key.get(), EVP_sha256()) != 0,
          "signing");

    pem_identity out;
    bio_ptr c(BIO_new(BIO_s_mem())), k(BIO_new(BIO_s_mem()));
    check(PEM_write_bio_X509(c.get(), cert.get()) == 1, "writing the certificate");
    check(PEM_write_bio_PrivateKey(k.get(), key.get(), nullptr, nullptr, 0, nullptr, nullptr) == 1,
          "writing the key");
    out.cert = bio_text(c.get());
    out.key = bio_text(k.get());
    return out;
}

std::string certificate_fingerprint(std::string_view cert_pem) {
    x509_ptr cert(PEM_read_bio_X509(read_bio(cert_pem).get(), nullptr, nullptr, nullptr));
    if (!cert)
        return {};
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    if (X509_digest(cert.get(), EVP_sha256(), md, &n) != 1)
        return {};
    return std::string(reinterpret_cast<const char*>(md), n);
}

} // namespace libnet::detail
