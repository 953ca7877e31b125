// SPDX-License-Identifier: BSL-1.0
#ifndef LIBNET_MESSAGES_HPP
#define LIBNET_MESSAGES_HPP

#include <libnet/codec.hpp>
#include <libnet/error.hpp>
#include <libnet/frame.hpp>

#include <cstdint>
#include <span>
#include <string_view>
#include <system_error>
#include <vector>

/// Typed core messages. Every string_view and body views either the caller's data (when
/// encoding) or the decoded frame's buffer (when decoding): copy what must outlive it.
namespace libnet::msg {

/// Field tags shared by all core messages (docs/protocol.md, "Fields").
enum class tag : std::uint16_t {
    version = 1,
    client_id = 2,
    endpoint = 3,
    credentials = 4,
    max_frame = 5,
    heartbeat_ms = 6,
    heartbeat_misses = 7,
    entry = 8,
    join_seq = 9,
    reason = 10,
    text = 11,
    to = 12,
    from = 13,
    body = 14,
    seq = 15,
    code = 16,
    ref = 17,
    ref_type = 18,
    nonce = 19,
    by = 20,
    flags = 21,
    token = 22,
    proof = 23,
    expires = 24,
    link = 25,
    link_seq = 26,
    peer_key = 27,
    type = 28,
    count = 29,
    pending = 30,
    ttl_ms = 31,
    link_key = 32,
};

/// Why a client left (LEFT.reason).
enum class leave_reason : std::uint16_t {
    bye = 1,            ///< Sent BYE.
    lost = 2,           ///< Missed heartbeats (over UDP: or acknowledged nothing).
    closed = 3,         ///< Closed the connection without BYE.
    slow_consumer = 4,  ///< Disconnected for not reading fast enough.
    protocol_error = 5, ///< Disconnected for a protocol violation.
    terminated = 6,     ///< The server terminated.
};

/// Why a session is terminated (TERM.reason).
enum class term_reason : std::uint16_t {
    requested = 1,  ///< A client asked for termination (TERM.by names it).
    shutdown = 2,   ///< The server is stopping (operator or application).
    teardown = 3,   ///< The teardown-at policy fired.
    idle = 4,       ///< The idle-timeout policy fired.
    disconnect = 5, ///< The exit-on-disconnect policy fired.
    expected = 6,   ///< All expected clients have come and gone.
};

/// DELIVER.flags bits.
inline constexpr std::uint16_t flag_broadcast = 0x0001;
/// SEND/DELIVER/ACK.flags bit: the link switch marker of docs/protocol.md §15.4.
inline constexpr std::uint16_t flag_link_sync = 0x0002;
/// SEND/BROADCAST/application frame flags bit: answer with STORED once the message is
/// accepted (and, with a durable store, committed).
inline constexpr std::uint16_t flag_confirm = 0x0004;
/// DELIVER/application frame flags bit: the message comes from the recipient's mailbox;
/// acknowledge its seq with ACK (docs/protocol.md §16).
inline constexpr std::uint16_t flag_mailbox = 0x0008;

/// HELLO.flags bit: pull mode; the server keeps messages until GET asks for them.
inline constexpr std::uint16_t hello_pull = 0x0001;
/// HELLO.flags bit: presence opt-out; the client is listed and routable but receives no
/// DIRECTORY, JOINED or LEFT (docs/protocol.md §6.7).
inline constexpr std::uint16_t hello_no_directory = 0x0002;
/// WELCOME.flags bit: this client has a mailbox (its messages are stored until ACKed).
inline constexpr std::uint16_t welcome_mailbox = 0x0001;
/// WELCOME.flags bit: the mailbox is durable (it survives a server restart).
inline constexpr std::uint16_t welcome_durable = 0x0002;
/// WELCOME.flags bit: the server's barrier is closed; DIRECTORY comes when it opens, however
/// long that takes (docs/protocol.md §6.8).
inline constexpr std::uint16_t welcome_barrier = 0x0004;
/// STORED.flags bit: the message was committed to a durable store.
inline constexpr std::uint16_t stored_durable = 0x0001;

/// The reason's name as in docs/protocol.md ("bye", "slow_consumer"), or "unknown".
std::string_view to_string(leave_reason r) noexcept;
/// The reason's name as in docs/protocol.md ("requested", "idle"), or "unknown".
std::string_view to_string(term_reason r) noexcept;

/// HELLO, client to server: the first frame of a connection, asking to register.
struct hello {
    static constexpr frame_type type = frame_type::hello; ///< The frame type it travels in.
    std::uint16_t version = protocol_version; ///< The protocol version the client speaks.
    std::string_view id;          ///< Requested id; empty asks the server to assign one.
    std::string_view endpoint;    ///< "host:port" for direct links; empty if none.
    std::string_view credentials; ///< The id's secret, when the server has one for it; else empty.
    std::uint16_t flags = 0;      ///< hello_pull, hello_no_directory, or 0.
    std::uint64_t seq = 0; ///< Mailbox seq the client has already seen up to (an ACK); 0: none.
    /// SHA-256 of the certificate its direct links present (with an endpoint); empty: its
    /// links are plain TCP (docs/protocol.md §15.3).
    std::string_view link_key{};
};

/// WELCOME, server to client: the registration succeeded.
struct welcome {
    static constexpr frame_type type = frame_type::welcome; ///< The frame type it travels in.
    std::uint16_t version = protocol_version;         ///< The protocol version of the session.
    std::string_view id;                              ///< The id the client is registered under.
    std::uint32_t max_frame = default_max_frame_size; ///< The server's largest frame value, bytes.
    std::uint32_t heartbeat_ms = 0;                   ///< 0: the server sends no PINGs.
    std::uint32_t heartbeat_misses = 0; ///< PINGs missed before a peer counts as lost.
    std::string_view peer_key; ///< Key that verifies peer-link tokens; sent with an endpoint.
    std::uint16_t flags = 0;   ///< welcome_mailbox, welcome_durable, welcome_barrier.
    std::uint64_t seq = 0;     ///< With a mailbox: the highest seq the server holds acknowledged.
    std::uint32_t pending = 0; ///< With a mailbox: messages waiting in it.
};

/// One client in DIRECTORY or JOINED.
struct directory_entry {
    std::string_view id;        ///< The client's id.
    std::uint64_t join_seq = 0; ///< Server-wide, increasing: join order.
    std::string_view endpoint;  ///< Advertised direct-link endpoint, empty if none.
};

/// DIRECTORY, server to client: the snapshot of the directory, once, after WELCOME.
struct directory {
    static constexpr frame_type type = frame_type::directory; ///< The frame type it travels in.
    std::vector<directory_entry> entries;                     ///< In join order.
};

/// JOINED, server to client: a client registered.
struct joined {
    static constexpr frame_type type = frame_type::joined; ///< The frame type it travels in.
    directory_entry entry;                                 ///< The new client's entry.
};

/// LEFT, server to client: a registered client left.
struct left {
    static constexpr frame_type type = frame_type::left; ///< The frame type it travels in.
    std::string_view id;                                 ///< The id of the client that left.
    std::uint64_t join_seq = 0;                          ///< Its join sequence number.
    leave_reason reason = leave_reason::bye;             ///< Why it left.
};

/// SEND, client to server: deliver `body` to one client.
struct send {
    static constexpr frame_type type = frame_type::send; ///< The frame type it travels in.
    std::string_view to;                                 ///< The recipient's id.
    std::string_view body;      ///< The payload, opaque to the server; may be empty.
    std::uint64_t ref = 0;      ///< Client-chosen; echoed by an ERROR about this frame. 0: none.
    std::uint64_t link = 0;     ///< A re-sent peer-link message: the link it was sent on.
    std::uint64_t link_seq = 0; ///< ... and its sequence number there.
    std::uint16_t flags = 0;    ///< flag_link_sync, flag_confirm.
    std::uint32_t ttl_ms = 0;   ///< Drop it if still undelivered after this long; 0: the server's.
};

/// DELIVER: a message, from the server to its recipient or on a direct link.
struct deliver {
    static constexpr frame_type type = frame_type::deliver; ///< The frame type it travels in.
    std::string_view from; ///< Stamped by the server: the sender's registered id.
    std::string_view body; ///< The payload, as the sender gave it.
    /// Increases along the recipient's stream; with flag_mailbox, the recipient's mailbox
    /// seq (the message id to ACK); on a peer link, the link's.
    std::uint64_t seq = 0;
    std::uint16_t flags = 0;    ///< flag_broadcast, flag_link_sync, flag_mailbox.
    std::uint64_t link = 0;     ///< Copied from SEND.
    std::uint64_t link_seq = 0; ///< Copied from SEND.
};

/// An application-defined frame (type 0x8000-0xFFFF). Through the server, `to` names the
/// recipient (empty: the server's handler) and the server stamps `from` and `seq`.
struct app {
    std::uint16_t type = app_type_first; ///< The frame's type, 0x8000-0xFFFF.
    std::string_view to;                 ///< The recipient's id; empty: the server's handler.
    std::string_view from;      ///< The sender's id, stamped by the server; empty in its replies.
    std::string_view body;      ///< The payload, opaque to the protocol.
    std::uint64_t ref = 0;      ///< Client-chosen; echoed by an ERROR, STORED or reply. 0: none.
    std::uint64_t seq = 0;      ///< As DELIVER.seq, when the server routed it.
    std::uint64_t link = 0;     ///< As SEND.link.
    std::uint64_t link_seq = 0; ///< As SEND.link_seq.
    std::uint16_t flags = 0;    ///< flag_confirm (to the server), flag_mailbox (from it).
    std::uint32_t ttl_ms = 0;   ///< As SEND.ttl_ms.
};

/// Acknowledges messages up to and including `seq` (cumulative): peer-link messages on
/// a link, mailbox messages to the server.
struct ack {
    static constexpr frame_type type = frame_type::ack; ///< The frame type it travels in.
    std::uint64_t seq = 0;                              ///< The last message acknowledged.
    std::uint16_t flags = 0; ///< flag_link_sync: the sender's switch marker arrived.
};

/// Asks the server for up to `count` messages from this client's mailbox (pull mode).
struct get {
    static constexpr frame_type type = frame_type::get; ///< The frame type it travels in.
    std::uint32_t count = 0; ///< The most messages to deliver; 0: only the FETCHED.
    std::uint64_t ref = 0;   ///< Client-chosen; echoed in the FETCHED or ERROR. 0: none.
};

/// The end of a GET's answer: `count` DELIVERs went before it, `pending` more wait.
struct fetched {
    static constexpr frame_type type = frame_type::fetched; ///< The frame type it travels in.
    std::uint32_t count = 0;                                ///< Messages delivered for the GET.
    std::uint32_t pending = 0; ///< Messages still waiting in the mailbox after them.
    std::uint64_t ref = 0;     ///< GET.ref.
};

/// The server accepted a SEND, BROADCAST or application frame into mailboxes: sent when
/// the frame asked (flag_confirm) or when a recipient was offline.
struct stored {
    static constexpr frame_type type = frame_type::stored; ///< The frame type it travels in.
    std::uint64_t ref = 0;                                 ///< The frame's ref.
    std::string_view to;     ///< The recipient; empty for a broadcast.
    std::uint32_t count = 0; ///< Recipients that were offline (their copy waits stored).
    std::uint16_t flags = 0; ///< stored_durable.
};

/// Asks the server whether client `id` is online (answered by PRESENCE).
struct lookup {
    static constexpr frame_type type = frame_type::lookup; ///< The frame type it travels in.
    std::string_view id;                                   ///< The id asked about.
    std::uint64_t ref = 0; ///< Client-chosen; echoed in the PRESENCE or ERROR. 0: none.
};

/// The server's answer to LOOKUP: `id`'s directory entry, with join_seq 0 when it is not
/// online.
struct presence {
    static constexpr frame_type type = frame_type::presence; ///< The frame type it travels in.
    std::string_view id;                                     ///< LOOKUP.id.
    std::uint64_t join_seq = 0;                              ///< 0: not online.
    std::string_view endpoint; ///< Its advertised endpoint, when online; empty if none.
    std::uint64_t ref = 0;     ///< LOOKUP.ref.
};

/// Asks the server for an introduction to client `to`, for a direct link.
struct intro_request {
    static constexpr frame_type type = frame_type::intro_request; ///< The frame type it travels in.
    std::string_view to;                                          ///< The client to link to.
    std::uint64_t ref = 0;       ///< Client-chosen; echoed in the INTRODUCTION or ERROR. 0: none.
    std::string_view link_key{}; ///< The dialer's link certificate digest, bound into the token.
};

/// The server's answer to INTRO_REQUEST: what the dialing client needs to link to `id`.
struct introduction {
    static constexpr frame_type type = frame_type::introduction; ///< The frame type it travels in.
    std::string_view id;                                         ///< The peer to dial.
    std::string_view endpoint;                                   ///< Its advertised endpoint.
    std::string_view token;      ///< One-time token to present in PEER_HELLO.
    std::string_view proof;      ///< What the peer's PEER_WELCOME must carry.
    std::uint64_t expires = 0;   ///< Token expiry, ms since the Unix epoch.
    std::uint64_t ref = 0;       ///< INTRO_REQUEST.ref.
    std::string_view link_key{}; ///< The peer's link certificate digest: dial it with TLS, pinned.
};

/// First frame on a direct link, from the dialing client.
struct peer_hello {
    static constexpr frame_type type = frame_type::peer_hello; ///< The frame type it travels in.
    std::uint16_t version = protocol_version; ///< The protocol version the dialer speaks.
    std::string_view id;                      ///< The dialer's registered id.
    std::string_view token;                   ///< INTRODUCTION.token.
    std::uint64_t link = 0;                   ///< Link id chosen by the dialer (non-zero).
};

/// The accepting client's answer: its id and proof of its peer key.
struct peer_welcome {
    static constexpr frame_type type = frame_type::peer_welcome; ///< The frame type it travels in.
    std::uint16_t version = protocol_version; ///< The protocol version of the link.
    std::string_view id;                      ///< The accepting client's registered id.
    /// HMAC-SHA256 of the token under its peer key; must match INTRODUCTION.proof.
    std::string_view proof;
};

/// BROADCAST, client to server: deliver `body` to every other registered client.
struct broadcast {
    static constexpr frame_type type = frame_type::broadcast; ///< The frame type it travels in.
    std::string_view body;                                    ///< The payload; may be empty.
    std::uint64_t ref = 0;    ///< Client-chosen; echoed by an ERROR or STORED. 0: none.
    std::uint16_t flags = 0;  ///< flag_confirm.
    std::uint32_t ttl_ms = 0; ///< As SEND.ttl_ms.
};

/// ERROR, either direction: an error about the connection or one of its frames.
struct error {
    static constexpr frame_type type = frame_type::error; ///< The frame type it travels in.
    std::uint16_t code = 0;                               ///< A libnet::error value.
    std::string_view text;                                ///< Detail for people; not for parsing.
    std::uint64_t ref = 0;      ///< The ref of the offending frame, 0 if none.
    std::uint16_t ref_type = 0; ///< The type of the offending frame, 0 if none.
    std::string_view id;        ///< The client the error is about (e.g. the unknown recipient).
};

/// TERM: from a client, a request to end the session for everyone; from the server,
/// the session is ending.
struct term {
    static constexpr frame_type type = frame_type::term; ///< The frame type it travels in.
    term_reason reason = term_reason::requested;         ///< Why the session ends.
    std::string_view text;                               ///< Detail for people.
    std::string_view by; ///< The client that asked, when reason == requested.
};

/// BYE, client to server: the client leaves once everything it sent is handled.
struct bye {
    static constexpr frame_type type = frame_type::bye; ///< The frame type it travels in.
};

/// PING, either direction: a heartbeat probe, answered with PONG.
struct ping {
    static constexpr frame_type type = frame_type::ping; ///< The frame type it travels in.
    std::uint64_t nonce = 0; ///< Chosen by the sender; the PONG carries it back.
};

/// PONG: the answer to a PING.
struct pong {
    static constexpr frame_type type = frame_type::pong; ///< The frame type it travels in.
    std::uint64_t nonce = 0;                             ///< PING.nonce.
};

/// @name Decoding
/// @{

/// Decodes frame `f` into `out`. The frame's type must match the message (else
/// error::unexpected_frame); unknown fields are skipped; a malformed or missing field is an
/// error (error::malformed_field, malformed_message, missing_field). The views in `out`
/// point into `f`'s buffer.
/// @returns an empty code on success.
error_code decode(frame_view f, hello& out);
error_code decode(frame_view f, welcome& out);
error_code decode(frame_view f, directory& out);
error_code decode(frame_view f, joined& out);
error_code decode(frame_view f, left& out);
error_code decode(frame_view f, send& out);
error_code decode(frame_view f, deliver& out);
error_code decode(frame_view f, broadcast& out);
error_code decode(frame_view f, error& out);
error_code decode(frame_view f, term& out);
error_code decode(frame_view f, bye& out);
error_code decode(frame_view f, ping& out);
error_code decode(frame_view f, pong& out);
error_code decode(frame_view f, ack& out);
error_code decode(frame_view f, get& out);
error_code decode(frame_view f, fetched& out);
error_code decode(frame_view f, stored& out);
error_code decode(frame_view f, lookup& out);
error_code decode(frame_view f, presence& out);
error_code decode(frame_view f, intro_request& out);
error_code decode(frame_view f, introduction& out);
error_code decode(frame_view f, peer_hello& out);
error_code decode(frame_view f, peer_welcome& out);
/// Decodes any application-defined frame (f.type must be in the application range).
error_code decode(frame_view f, app& out);
/// @}

} // namespace libnet::msg

#include <libnet/detail/message_fields.hpp>

namespace libnet::msg {

/// Bytes the whole frame of `m` takes (header included).
template <class Message>
std::size_t encoded_size(const Message& m) noexcept {
    detail::field_sizer s;
    detail::visit_fields(m, s);
    return frame_header_size + s.size;
}

/// Writes the frame of `m` at the start of `out`, which must hold encoded_size(m) bytes.
/// Returns the bytes written.
template <class Message>
std::size_t encode_into(const Message& m, std::span<std::uint8_t> out) noexcept {
    detail::field_writer w{out.data() + frame_header_size};
    detail::visit_fields(m, w);
    auto const body = static_cast<std::size_t>(w.pos - out.data()) - frame_header_size;
    write_header(out.data(), detail::type_of(m), static_cast<std::uint32_t>(body));
    return frame_header_size + body;
}

/// Appends the frame of `m` to `out` (one resize, no intermediate copies).
template <class Message>
void encode(const Message& m, std::vector<std::uint8_t>& out) {
    auto const at = out.size();
    out.resize(at + encoded_size(m));
    encode_into(m, std::span<std::uint8_t>(out).subspan(at));
}

} // namespace libnet::msg

#endif
