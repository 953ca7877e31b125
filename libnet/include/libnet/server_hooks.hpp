// SPDX-License-Identifier: BSL-1.0
#ifndef LIBNET_SERVER_HOOKS_HPP
#define LIBNET_SERVER_HOOKS_HPP

#include <libnet/error.hpp>

#include <boost/asio/ip/tcp.hpp>

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace libnet {

namespace detail {
class server_session;
}

/// A hook's verdict: std::nullopt accepts, a string refuses with that reason (sent to the
/// client as the ERROR's text).
using refusal = std::optional<std::string>;

/// A client asking to register, as server_options::on_register sees it.
struct registration {
    std::string_view id;                   ///< The id it will get (assigned ids included).
    std::string_view endpoint;             ///< Advertised direct-link endpoint, empty if none.
    std::string_view credentials;          ///< HELLO credentials, empty if none.
    boost::asio::ip::tcp::endpoint remote; ///< The client's address (a UDP client's too).
};

/// A message about to be routed, as server_options::on_route sees it.
struct routed_message {
    std::string_view from; ///< The sender's registered id.
    std::string_view to;   ///< Empty for a broadcast.
    std::uint16_t type;    ///< SEND, BROADCAST or an application type.
    std::string_view body; ///< The payload.
};

/// An application-type frame for a server-side handler.
struct app_request {
    std::uint16_t type;    ///< The frame's application type (0x8000-0xFFFF).
    std::string_view from; ///< The sender's registered id.
    std::string_view to;   ///< Empty when addressed to the server itself.
    std::string_view body; ///< The payload.
    std::uint64_t ref;     ///< The sender's ref, echoed in replies and errors; 0: none.
};

/// Answers the client that sent an app_request. Cheap to copy; may be kept and used later
/// (after the client left, replies are dropped).
///
/// @par Thread safety
/// Distinct objects: safe. Shared objects: safe; its members may be called from any thread.
class app_responder {
public:
    /// Made by the server for each app_request; applications receive it, they don't make it.
    explicit app_responder(std::shared_ptr<detail::server_session> s, std::uint16_t type,
                           std::uint64_t ref)
        : session_(std::move(s)), type_(type), ref_(ref) {}

    /// Sends `body` back with the request's type and ref (from: empty, i.e. the server).
    void reply(std::string_view body) const { reply(type_, body); }
    /// As reply(), with another application type.
    /// @throws std::invalid_argument when `type` is not an application type (0x8000-0xFFFF).
    void reply(std::uint16_t type, std::string_view body) const;
    /// Answers with ERROR(code, text) about the request; the connection stays open.
    void fail(error code, std::string_view text = {}) const;
    /// The requesting client's id.
    const std::string& client() const;

private:
    std::shared_ptr<detail::server_session> session_;
    std::uint16_t type_;
    std::uint64_t ref_;
};

/// Handles one application type on the server.
using app_handler = std::function<void(const app_request&, const app_responder&)>;

} // namespace libnet

#endif
