// SPDX-License-Identifier: BSL-1.0
#ifndef LIBNET_TLS_OPTIONS_HPP
#define LIBNET_TLS_OPTIONS_HPP

#include <chrono>
#include <memory>
#include <string>

namespace boost::asio::ssl {
class context;
}

namespace libnet {

/// TLS on a server's port (server_options::tls; docs/guide.md §12). With a context every
/// connection must start with a TLS handshake; a plain-text client gets ERROR(tls_required)
/// in clear and is closed.
struct server_tls {
    /// Certificate, key, verification and versions (make_server_context() builds one from
    /// files); null: plain TCP. Shared by every session; do not change it once the server
    /// runs.
    std::shared_ptr<boost::asio::ssl::context> context;
    /// A client must register under a name of its certificate (subject CN or a DNS
    /// subjectAltName); any other id, or none, gets ERROR(not_permitted). Needs verified client
    /// certificates (make_server_context's verify_clients).
    bool map_identity = false;
    /// Time a connection has to complete its handshake; then it is closed.
    std::chrono::milliseconds handshake_timeout{5000};
};

/// TLS to the server (client_options::tls).
struct client_tls {
    /// CAs to trust, client certificate and versions (make_client_context() builds one
    /// from files); null: plain TCP.
    std::shared_ptr<boost::asio::ssl::context> context;
    /// Name the server's certificate must carry (and sent as SNI); empty: the host given
    /// to async_connect.
    std::string server_name;
};

/// Lowest TLS version to accept: `v1_2` (TLS 1.2 and 1.3) or `v1_3` (TLS 1.3 only).
enum class tls_version { v1_2, v1_3 };

/// Files a TLS context is made from (PEM). Paths that are empty are not used.
struct tls_files {
    std::string cert; ///< Certificate chain: the server's, or the client's own.
    std::string key;  ///< Private key of `cert`.
    /// CAs that verify the peer: a server's clients' (with verify_clients), a client's
    /// server; for a client, empty: the system's trusted CAs.
    std::string ca;
    tls_version min_version = tls_version::v1_2; ///< Lowest TLS version to accept.
};

/// A server context from `files` (cert and key required). With `verify_clients`, clients
/// must present a certificate that `files.ca` verifies. Throws std::runtime_error naming
/// the file and OpenSSL's reason when one can't be used.
std::shared_ptr<boost::asio::ssl::context> make_server_context(const tls_files& files,
                                                               bool verify_clients);
/// A client context from `files`: the server's certificate is always verified (against
/// `files.ca`, or the system's CAs); cert and key, when given, answer a server that asks
/// for a client certificate. Throws as make_server_context.
std::shared_ptr<boost::asio::ssl::context> make_client_context(const tls_files& files);

} // namespace libnet

#endif
