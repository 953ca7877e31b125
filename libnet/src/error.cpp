// SPDX-License-Identifier: BSL-1.0
#include <libnet/error.hpp>

#include <string>

namespace libnet {
namespace {

struct error_info {
    std::string_view name;
    std::string_view message;
};

error_info info(error e) noexcept {
    switch (e) {
    case error::frame_too_large:
        return {"frame_too_large", "frame length exceeds the maximum"};
    case error::malformed_field:
        return {"malformed_field", "field length does not fit its frame"};
    case error::malformed_message:
        return {"malformed_message", "field has an invalid size or value"};
    case error::missing_field:
        return {"missing_field", "required field is missing"};
    case error::unsupported_version:
        return {"unsupported_version", "unsupported protocol version"};
    case error::invalid_client_id:
        return {"invalid_client_id", "client id breaks the id rules"};
    case error::unknown_type:
        return {"unknown_type", "unknown frame type"};
    case error::frame_timeout:
        return {"frame_timeout", "frame not complete within the frame deadline"};
    case error::malformed_datagram:
        return {"malformed_datagram", "UDP datagram breaks the protocol"};
    case error::hello_timeout:
        return {"hello_timeout", "no HELLO within the registration deadline"};
    case error::hello_expected:
        return {"hello_expected", "first frame must be HELLO"};
    case error::already_registered:
        return {"already_registered", "connection is already registered"};
    case error::id_taken:
        return {"id_taken", "client id is already online"};
    case error::server_full:
        return {"server_full", "server has reached its client limit"};
    case error::not_allowed:
        return {"not_allowed", "client id is not allowed"};
    case error::auth_failed:
        return {"auth_failed", "authentication failed"};
    case error::no_such_client:
        return {"no_such_client", "recipient is not online and has no mailbox"};
    case error::slow_consumer:
        return {"slow_consumer", "outbound queue limit exceeded"};
    case error::queue_full:
        return {"queue_full", "queue is full"};
    case error::not_permitted:
        return {"not_permitted", "operation not permitted by server policy"};
    case error::unexpected_frame:
        return {"unexpected_frame", "frame not valid in this state"};
    case error::no_peer_link:
        return {"no_peer_link", "no direct link to the peer"};
    case error::not_ready:
        return {"not_ready", "not every expected client has registered yet"};
    case error::store_failed:
        return {"store_failed", "message store could not commit"};
    case error::heartbeat_timeout:
        return {"heartbeat_timeout", "peer stopped answering heartbeats"};
    case error::terminated:
        return {"terminated", "session terminated"};
    case error::connection_closed:
        return {"connection_closed", "connection closed by peer"};
    case error::not_connected:
        return {"not_connected", "not connected"};
    case error::shutting_down:
        return {"shutting_down", "server is shutting down"};
    case error::cluster_unavailable:
        return {"cluster_unavailable", "the server is cut off from its cluster"};
    case error::rate_limited:
        return {"rate_limited", "too many failed attempts or open connections; try again later"};
    case error::tls_required:
        return {"tls_required", "the server accepts only TLS connections"};
    case error::hook_failed:
        return {"hook_failed", "an application hook threw; the session was ended"};
    case error::unreachable:
        return {"unreachable", "the peer acknowledged none of the retransmissions"};
    case error::session_reset:
        return {"session_reset", "the server does not know this UDP session (restarted?)"};
    }
    return {"unknown", "unknown libnet error"};
}

class category final : public boost::system::error_category {
public:
    const char* name() const noexcept override { return "libnet"; }
    std::string message(int ev) const override {
        return std::string(info(static_cast<error>(ev)).message);
    }
};

} // namespace

const boost::system::error_category& libnet_category() noexcept {
    static const category instance;
    return instance;
}

std::string_view to_string(error e) noexcept {
    return info(e).name;
}

} // namespace libnet
