// SPDX-License-Identifier: BSL-1.0
#include <libnet/messages.hpp>

namespace libnet::msg {
namespace {

using detail::field_presence;

constexpr std::uint64_t bit(tag t) noexcept {
    auto const n = static_cast<unsigned>(t);
    return n < 64 ? std::uint64_t{1} << n : 0;
}

error_code decode_fields(std::span<const std::uint8_t> body, auto& out);

// Gives one wire field to the member with its tag (the last of duplicates wins).
struct field_matcher {
    const field_view& f;
    std::uint64_t& seen;
    error_code ec;

    template <class T>
    void field(tag t, T& value, field_presence) {
        if (f.tag != static_cast<std::uint16_t>(t))
            return;
        seen |= bit(t);
        if constexpr (std::is_same_v<T, std::string_view>) {
            value = f.str();
        } else if constexpr (std::is_enum_v<T>) {
            std::underlying_type_t<T> raw{};
            if (!read_uint(f, raw))
                ec = libnet::error::malformed_message;
            value = static_cast<T>(raw);
        } else if (!read_uint(f, value)) {
            ec = libnet::error::malformed_message;
        }
    }
    template <class Entry>
    void entries(tag t, std::vector<Entry>& es) {
        if (f.tag != static_cast<std::uint16_t>(t))
            return;
        if (!(ec = decode_fields(f.value, es.emplace_back())))
            return;
        es.clear(); // a bad entry fails the whole message
    }
};

struct required_fields {
    std::uint64_t seen;
    bool complete = true;

    template <class T>
    void field(tag t, const T&, field_presence p) {
        if (p == field_presence::required && !(seen & bit(t)))
            complete = false;
    }
    template <class Entry>
    void entries(tag, const std::vector<Entry>&) {}
};

// Decodes a message body (or a nested entry): unknown tags are skipped, a field of the
// wrong size or a missing required one is an error.
error_code decode_fields(std::span<const std::uint8_t> body, auto& out) {
    std::uint64_t seen = 0;
    field_reader r(body);
    field_view f;
    while (r.next(f)) {
        field_matcher m{f, seen, {}};
        detail::visit_fields(out, m);
        if (m.ec)
            return m.ec;
    }
    if (r.error())
        return r.error();
    required_fields req{seen};
    detail::visit_fields(out, req);
    return req.complete ? error_code{} : error_code(libnet::error::missing_field);
}

template <class Message>
error_code decode_message(frame_view f, Message& out) {
    out = {};
    if constexpr (std::is_same_v<Message, app>) {
        if (!is_app_type(f.type))
            return libnet::error::unexpected_frame;
        out.type = f.type;
    } else if (f.type != static_cast<std::uint16_t>(Message::type)) {
        return libnet::error::unexpected_frame;
    }
    auto ec = decode_fields(f.value, out);
    if (ec)
        out = {};
    if constexpr (std::is_same_v<Message, app>)
        out.type = f.type;
    return ec;
}

} // namespace

error_code decode(frame_view f, hello& out) {
    return decode_message(f, out);
}
error_code decode(frame_view f, welcome& out) {
    return decode_message(f, out);
}
error_code decode(frame_view f, directory& out) {
    return decode_message(f, out);
}
error_code decode(frame_view f, joined& out) {
    return decode_message(f, out);
}
error_code decode(frame_view f, left& out) {
    return decode_message(f, out);
}
error_code decode(frame_view f, send& out) {
    return decode_message(f, out);
}
error_code decode(frame_view f, deliver& out) {
    return decode_message(f, out);
}
error_code decode(frame_view f, broadcast& out) {
    return decode_message(f, out);
}
error_code decode(frame_view f, error& out) {
    return decode_message(f, out);
}
error_code decode(frame_view f, term& out) {
    return decode_message(f, out);
}
error_code decode(frame_view f, bye& out) {
    return decode_message(f, out);
}
error_code decode(frame_view f, ping& out) {
    return decode_message(f, out);
}
error_code decode(frame_view f, pong& out) {
    return decode_message(f, out);
}
error_code decode(frame_view f, ack& out) {
    return decode_message(f, out);
}
error_code decode(frame_view f, get& out) {
    return decode_message(f, out);
}
error_code decode(frame_view f, fetched& out) {
    return decode_message(f, out);
}
error_code decode(frame_view f, stored& out) {
    return decode_message(f, out);
}
error_code decode(frame_view f, lookup& out) {
    return decode_message(f, out);
}
error_code decode(frame_view f, presence& out) {
    return decode_message(f, out);
}
error_code decode(frame_view f, intro_request& out) {
    return decode_message(f, out);
}
error_code decode(frame_view f, introduction& out) {
    return decode_message(f, out);
}
error_code decode(frame_view f, peer_hello& out) {
    return decode_message(f, out);
}
error_code decode(frame_view f, peer_welcome& out) {
    return decode_message(f, out);
}
error_code decode(frame_view f, app& out) {
    return decode_message(f, out);
}

std::string_view to_string(leave_reason r) noexcept {
    switch (r) {
    case leave_reason::bye:
        return "bye";
    case leave_reason::lost:
        return "lost";
    case leave_reason::closed:
        return "closed";
    case leave_reason::slow_consumer:
        return "slow_consumer";
    case leave_reason::protocol_error:
        return "protocol_error";
    case leave_reason::terminated:
        return "terminated";
    }
    return "unknown";
}

std::string_view to_string(term_reason r) noexcept {
    switch (r) {
    case term_reason::requested:
        return "requested";
    case term_reason::shutdown:
        return "shutdown";
    case term_reason::teardown:
        return "teardown";
    case term_reason::idle:
        return "idle";
    case term_reason::disconnect:
        return "disconnect";
    case term_reason::expected:
        return "expected";
    }
    return "unknown";
}

} // namespace libnet::msg

namespace libnet {

std::string_view to_string(frame_type t) noexcept {
    switch (t) {
    case frame_type::hello:
        return "HELLO";
    case frame_type::welcome:
        return "WELCOME";
    case frame_type::directory:
        return "DIRECTORY";
    case frame_type::joined:
        return "JOINED";
    case frame_type::left:
        return "LEFT";
    case frame_type::send:
        return "SEND";
    case frame_type::deliver:
        return "DELIVER";
    case frame_type::broadcast:
        return "BROADCAST";
    case frame_type::error:
        return "ERROR";
    case frame_type::term:
        return "TERM";
    case frame_type::bye:
        return "BYE";
    case frame_type::ping:
        return "PING";
    case frame_type::pong:
        return "PONG";
    case frame_type::ack:
        return "ACK";
    case frame_type::get:
        return "GET";
    case frame_type::stored:
        return "STORED";
    case frame_type::fetched:
        return "FETCHED";
    case frame_type::lookup:
        return "LOOKUP";
    case frame_type::presence:
        return "PRESENCE";
    case frame_type::intro_request:
        return "INTRO_REQUEST";
    case frame_type::introduction:
        return "INTRODUCTION";
    case frame_type::peer_hello:
        return "PEER_HELLO";
    case frame_type::peer_welcome:
        return "PEER_WELCOME";
    }
    return is_app_type(static_cast<std::uint16_t>(t)) ? "APP" : "UNKNOWN";
}

} // namespace libnet
