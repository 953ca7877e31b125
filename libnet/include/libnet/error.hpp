// SPDX-License-Identifier: BSL-1.0
#ifndef LIBNET_ERROR_HPP
#define LIBNET_ERROR_HPP

#include <boost/system/error_code.hpp>

#include <cstdint>
#include <string_view>
#include <system_error>

namespace libnet {

/// Error codes of libnet. The numeric values travel on the wire in ERROR frames
/// (docs/protocol.md, "Error codes") and never change meaning once published.
enum class error : std::uint16_t {
    // Framing and message decoding (1-31).
    frame_too_large = 1,     ///< A frame's length is over the receiver's maximum.
    malformed_field = 2,     ///< A field header or nested length does not fit its container.
    malformed_message = 3,   ///< A field has the wrong size or value for its tag.
    missing_field = 4,       ///< A field the message requires is absent.
    unsupported_version = 5, ///< The peer speaks a protocol version this side does not.
    invalid_client_id = 6,   ///< A client id breaks the id rules.
    unknown_type = 7,        ///< A frame type this side does not handle.
    frame_timeout = 8,       ///< A frame started but did not arrive whole within the deadline.
    malformed_datagram = 9,  ///< A UDP datagram breaks the rules of docs/protocol.md §17.

    // Registration (32-63).
    hello_timeout = 32,       ///< No HELLO arrived within the registration deadline.
    hello_expected = 33,      ///< The first frame of a connection was not HELLO.
    already_registered = 34,  ///< A second HELLO on a registered connection.
    id_taken = 35,            ///< Another online client holds the requested id.
    server_full = 36,         ///< The server's client limit is reached.
    not_allowed = 37,         ///< The id is not on the server's allow list.
    auth_failed = 38,         ///< A secret or peer-link token missing or wrong.
    cluster_unavailable = 39, ///< The server is cut off from its cluster and can't register.
    rate_limited = 40, ///< Too many failed secret checks, or unregistered connections: later.
    tls_required = 41, ///< The server accepts only TLS; sent in clear to a plain-text client.

    // Routing and flow control (64-95).
    no_such_client = 64,   ///< The recipient is not online and has no mailbox.
    slow_consumer = 65,    ///< The receiver's outbound queue passed its bound.
    queue_full = 66,       ///< A queue is full: the sender's, or the recipient's mailbox quota.
    not_permitted = 67,    ///< The server's policy forbids the request (e.g. client TERM).
    unexpected_frame = 68, ///< A frame that is not valid in the connection's state.
    no_peer_link = 69,     ///< No direct link to that peer is up, or it can't be set up.
    store_failed = 70,     ///< The server's message store could not commit the message.
    not_ready = 71,        ///< The server's barrier is shut: too few clients are online yet.

    // Connection life (96-127).
    heartbeat_timeout = 96, ///< The peer missed too many PINGs and is considered lost.
    terminated = 97,        ///< The session ended because of a TERM.
    connection_closed = 98, ///< The peer closed the connection.
    not_connected = 99,     ///< The operation needs a registered connection.
    shutting_down = 100,    ///< The server is stopping.
    hook_failed = 101,      ///< A hook of the application threw: the client ended the session.
    unreachable = 102,   ///< UDP: the peer acknowledged nothing through repeated retransmissions.
    session_reset = 103, ///< UDP: the server does not know the session (it restarted, or ended it).
};

/// libnet reports errors as Boost.System codes, like Asio itself: they hold Asio's
/// network errors and libnet's own, and convert to error_code.
using error_code = boost::system::error_code;

/// The "libnet" error category.
const boost::system::error_category& libnet_category() noexcept;

/// `e` as an error_code in libnet_category(); found by argument-dependent lookup, so an
/// error converts to error_code wherever one is expected.
inline error_code make_error_code(error e) noexcept {
    return {static_cast<int>(e), libnet_category()};
}

/// The symbolic name of a code (e.g. "no_such_client"), or "unknown".
std::string_view to_string(error e) noexcept;

/// The code to send for `ec` in an ERROR frame: its libnet value, or `otherwise` when `ec`
/// is not a libnet code (a network error has no wire code).
inline error wire_code(const error_code& ec, error otherwise = error::malformed_message) noexcept {
    return ec.category() == libnet_category() ? static_cast<error>(ec.value()) : otherwise;
}

/// A code received in an ERROR frame. Unknown values keep their number: the category
/// describes them as "unknown libnet error".
constexpr error from_wire(std::uint16_t code) noexcept {
    return static_cast<error>(code);
}

} // namespace libnet

// Lets libnet::error convert to boost::system::error_code (through make_error_code). Left
// out of the API reference: doxygen can't place a specialisation in a namespace whose
// headers it does not read.
/// @cond
template <>
struct boost::system::is_error_code_enum<libnet::error> : std::true_type {};
/// @endcond

#endif
