// SPDX-License-Identifier: BSL-1.0
#ifndef LIBNET_SRC_CLIENT_LINK_TLS_HPP
#define LIBNET_SRC_CLIENT_LINK_TLS_HPP

#include "../wire/transport.hpp"

#include <boost/asio/ssl/context.hpp>

#include <string>

namespace libnet::detail {

/// A client's identity on its direct links (docs/protocol.md §15.3): an ECDSA P-256 key
/// and a self-signed certificate made for this client object, and the TLS 1.3 contexts
/// that present it. No CA vouches for it: peers pin its digest, the link key, which the
/// server passes on in INTRODUCTION and binds into tokens.
class link_tls {
public:
    link_tls();

    /// SHA-256 of the certificate (32 bytes).
    const std::string& key() const noexcept { return key_; }
    /// Accepting: asks for the dialer's certificate and refuses a dialer without one.
    boost::asio::ssl::context& acceptor() noexcept { return acceptor_; }
    boost::asio::ssl::context& dialer() noexcept { return dialer_; }

private:
    std::string key_;
    boost::asio::ssl::context acceptor_;
    boost::asio::ssl::context dialer_;
};

/// The link key of the certificate the peer presented on `s`; empty when none.
std::string peer_link_key(transport::tls_stream& s);

} // namespace libnet::detail

#endif
