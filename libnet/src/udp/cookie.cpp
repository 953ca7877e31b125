// SPDX-License-Identifier: BSL-1.0
#include "../wire/peer_token.hpp"
#include "cookie.hpp"

#include <boost/endian/conversion.hpp>

#include <cstring>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdexcept>

namespace libnet::detail::udp {

namespace be = boost::endian;

cookie_jar::cookie_jar(std::chrono::seconds lifetime)
    : key_(random_bytes(32)), epoch_(clock::now()), lifetime_(lifetime) {}

std::uint32_t cookie_jar::seconds(clock::time_point t) const {
    using namespace std::chrono;
    return static_cast<std::uint32_t>(duration_cast<std::chrono::seconds>(t - epoch_).count());
}

cookie_bytes cookie_jar::mac(std::uint32_t time, const boost::asio::ip::udp::endpoint& from,
                             std::uint64_t nonce) const {
    // time (4) | port (2) | nonce (8) | address (4 or 16)
    std::uint8_t in[4 + 2 + 8 + 16];
    be::store_big_u32(in, time);
    be::store_big_u16(in + 4, from.port());
    be::store_big_u64(in + 6, nonce);
    std::size_t n = 14;
    auto const a = from.address();
    if (a.is_v4()) {
        auto const b = a.to_v4().to_bytes();
        std::memcpy(in + n, b.data(), b.size());
        n += b.size();
    } else {
        auto const b = a.to_v6().to_bytes();
        std::memcpy(in + n, b.data(), b.size());
        n += b.size();
    }
    unsigned char out[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    if (!HMAC(EVP_sha256(), key_.data(), static_cast<int>(key_.size()), in, n, out, &len))
        throw std::runtime_error("libnet: HMAC-SHA256 failed");
    cookie_bytes c{};
    be::store_big_u32(c.data(), time);
    std::memcpy(c.data() + 4, out, cookie_size - 4);
    return c;
}

cookie_bytes cookie_jar::make(const boost::asio::ip::udp::endpoint& from, std::uint64_t nonce,
                              clock::time_point now) const {
    return mac(seconds(now), from, nonce);
}

cookie_jar::verdict cookie_jar::check(const cookie_bytes& c,
                                      const boost::asio::ip::udp::endpoint& from,
                                      std::uint64_t nonce, clock::time_point now) const {
    auto const time = be::load_big_u32(c.data());
    auto const expected = mac(time, from, nonce);
    if (CRYPTO_memcmp(expected.data(), c.data(), cookie_size) != 0)
        return verdict::forged;
    auto const age = static_cast<std::int64_t>(seconds(now)) - time;
    if (age < 0 || age > lifetime_.count())
        return verdict::expired;
    return verdict::valid;
}

} // namespace libnet::detail::udp
