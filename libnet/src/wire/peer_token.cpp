// SPDX-License-Identifier: BSL-1.0
#include "peer_token.hpp"

#include <boost/endian/conversion.hpp>

#include <chrono>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <stdexcept>

namespace libnet::detail {

namespace {

// HMAC over length-prefixed parts, so ("ab","c") and ("a","bc") differ.
class mac_builder {
public:
    void add(std::string_view part) {
        std::uint8_t len[4];
        boost::endian::store_big_u32(len, static_cast<std::uint32_t>(part.size()));
        data_.append(reinterpret_cast<const char*>(len), 4);
        data_.append(part);
    }
    std::string finish(std::string_view key) const {
        unsigned char out[EVP_MAX_MD_SIZE];
        unsigned int n = 0;
        if (!HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
                  reinterpret_cast<const unsigned char*>(data_.data()), data_.size(), out, &n))
            throw std::runtime_error("libnet: HMAC-SHA256 failed");
        return std::string(reinterpret_cast<const char*>(out), n);
    }

private:
    std::string data_;
};

std::string token_mac(std::string_view key, std::string_view dialer, std::string_view acceptor,
                      std::string_view expires_and_nonce, std::string_view dialer_key) {
    mac_builder m;
    m.add("libnet token");
    m.add(dialer);
    m.add(acceptor);
    m.add(expires_and_nonce);
    if (!dialer_key.empty()) // a plain link's token stays as before
        m.add(dialer_key);
    return m.finish(key);
}

} // namespace

std::string random_bytes(std::size_t n) {
    std::string out(n, '\0');
    if (RAND_bytes(reinterpret_cast<unsigned char*>(out.data()), static_cast<int>(n)) != 1)
        throw std::runtime_error("libnet: no random bytes from the system");
    return out;
}

std::uint64_t random_u64() {
    auto const b = random_bytes(8);
    return boost::endian::load_big_u64(reinterpret_cast<const std::uint8_t*>(b.data()));
}

std::uint64_t unix_ms() {
    using namespace std::chrono;
    return static_cast<std::uint64_t>(
        duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count());
}

std::string make_token(std::string_view key, std::string_view dialer, std::string_view acceptor,
                       std::uint64_t expires, std::string_view dialer_key) {
    std::string token(8, '\0');
    boost::endian::store_big_u64(reinterpret_cast<std::uint8_t*>(token.data()), expires);
    token += random_bytes(16);
    token += token_mac(key, dialer, acceptor, token, dialer_key);
    return token;
}

std::string token_proof(std::string_view key, std::string_view token) {
    mac_builder m;
    m.add("libnet proof");
    m.add(token);
    return m.finish(key);
}

token_check check_token(std::string_view key, std::string_view token, std::string_view dialer,
                        std::string_view acceptor, std::uint64_t now, std::string_view dialer_key) {
    if (token.size() != token_size)
        return token_check::malformed;
    auto const expected = token_mac(key, dialer, acceptor, token.substr(0, 24), dialer_key);
    if (!equal_secret(expected, token.substr(24)))
        return token_check::bad_mac;
    if (token_expires(token) <= now)
        return token_check::expired;
    return token_check::ok;
}

std::string_view token_nonce(std::string_view token) {
    return token.substr(8, 16);
}

std::uint64_t token_expires(std::string_view token) {
    return boost::endian::load_big_u64(reinterpret_cast<const std::uint8_t*>(token.data()));
}

bool equal_secret(std::string_view a, std::string_view b) {
    return a.size() == b.size() && CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

} // namespace libnet::detail
