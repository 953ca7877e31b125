#include <libnet/messages.hpp>

namespace libnet::msg {
namespace {

// Walks the fields of `f`, giving each to `on`, which returns false for a known tag with a
// bad size. Unknown tags are the handler's to ignore.
template <class OnField>
error_code parse(frame_view f, frame_type expected, OnField&& on) {
    if (f.type != static_cast<std::uint16_t>(expected))
        return libnet::error::unexpected_frame;
    field_reader r(f.value);
    field_view fv;
    while (r.next(fv))
        if (!on(fv))
            return libnet::error::malformed_message;
    return r.error();
}

// Tracks which required fields were seen.
struct seen {
    std::uint64_t bits = 0;
    void mark(tag t) noexcept {
        if (static_cast<unsigned>(t) < 64)
            bits |= std::uint64_t{1} << static_cast<unsigned>(t);
    }
    bool has(tag t) const noexcept {
        return static_cast<unsigned>(t) < 64 && ((bits >> static_cast<unsigned>(t)) & 1u);
    }
};

bool read_entry_field(const field_view& fv, directory_entry& e, seen& s) {
    switch (static_cast<tag>(fv.tag)) {
    case tag::client_id:
        e.id = fv.str();
        break;
    case tag::join_seq:
        if (!read_uint(fv, e.join_seq))
            return false;
        break;
    case tag::endpoint:
        e.endpoint = fv.str();
        break;
    default:
        return true;
    }
    s.mark(static_cast<tag>(fv.tag));
    return true;
}

error_code require(const seen& s, std::initializer_list<tag> tags) {
    for (auto t : tags)
        if (!s.has(t))
            return libnet::error::missing_field;
    return {};
}

template <class Enum>
bool read_enum(const field_view& fv, Enum& out) {
    std::uint16_t v = 0;
    if (!read_uint(fv, v))
        return false;
    out = static_cast<Enum>(v);
    return true;
}

} // namespace

error_code decode(frame_view f, hello& out) {
    out = {};
    seen s;
    auto ec = parse(f, hello::type, [&](const field_view& fv) {
        switch (static_cast<tag>(fv.tag)) {
        case tag::version:
            if (!read_uint(fv, out.version))
                return false;
            break;
        case tag::client_id:
            out.id = fv.str();
            break;
        case tag::endpoint:
            out.endpoint = fv.str();
            break;
        case tag::credentials:
            out.credentials = fv.str();
            break;
        default:
            return true;
        }
        s.mark(static_cast<tag>(fv.tag));
        return true;
    });
    return ec ? ec : require(s, {tag::version});
}

error_code decode(frame_view f, welcome& out) {
    out = {};
    seen s;
    auto ec = parse(f, welcome::type, [&](const field_view& fv) {
        bool ok = true;
        switch (static_cast<tag>(fv.tag)) {
        case tag::version:
            ok = read_uint(fv, out.version);
            break;
        case tag::client_id:
            out.id = fv.str();
            break;
        case tag::max_frame:
            ok = read_uint(fv, out.max_frame);
            break;
        case tag::heartbeat_ms:
            ok = read_uint(fv, out.heartbeat_ms);
            break;
        case tag::heartbeat_misses:
            ok = read_uint(fv, out.heartbeat_misses);
            break;
        default:
            return true;
        }
        s.mark(static_cast<tag>(fv.tag));
        return ok;
    });
    return ec ? ec : require(s, {tag::version, tag::client_id, tag::max_frame});
}

error_code decode(frame_view f, directory& out) {
    out.entries.clear();
    error_code inner;
    auto ec = parse(f, directory::type, [&](const field_view& fv) {
        if (static_cast<tag>(fv.tag) != tag::entry)
            return true;
        directory_entry e;
        seen s;
        field_reader r(fv.value);
        field_view ef;
        while (r.next(ef))
            if (!read_entry_field(ef, e, s))
                return false;
        inner = r.error();
        if (!inner)
            inner = require(s, {tag::client_id, tag::join_seq});
        if (inner)
            return false; // stops parse(); `inner` replaces its malformed_message below
        out.entries.push_back(e);
        return true;
    });
    if (inner)
        ec = inner;
    if (ec)
        out.entries.clear();
    return ec;
}

error_code decode(frame_view f, joined& out) {
    out = {};
    seen s;
    auto ec = parse(f, joined::type,
                    [&](const field_view& fv) { return read_entry_field(fv, out.entry, s); });
    return ec ? ec : require(s, {tag::client_id, tag::join_seq});
}

error_code decode(frame_view f, left& out) {
    out = {};
    seen s;
    auto ec = parse(f, left::type, [&](const field_view& fv) {
        bool ok = true;
        switch (static_cast<tag>(fv.tag)) {
        case tag::client_id:
            out.id = fv.str();
            break;
        case tag::join_seq:
            ok = read_uint(fv, out.join_seq);
            break;
        case tag::reason:
            ok = read_enum(fv, out.reason);
            break;
        default:
            return true;
        }
        s.mark(static_cast<tag>(fv.tag));
        return ok;
    });
    return ec ? ec : require(s, {tag::client_id});
}

error_code decode(frame_view f, send& out) {
    out = {};
    seen s;
    auto ec = parse(f, send::type, [&](const field_view& fv) {
        bool ok = true;
        switch (static_cast<tag>(fv.tag)) {
        case tag::to:
            out.to = fv.str();
            break;
        case tag::body:
            out.body = fv.str();
            break;
        case tag::ref:
            ok = read_uint(fv, out.ref);
            break;
        default:
            return true;
        }
        s.mark(static_cast<tag>(fv.tag));
        return ok;
    });
    return ec ? ec : require(s, {tag::to, tag::body});
}

error_code decode(frame_view f, deliver& out) {
    out = {};
    seen s;
    auto ec = parse(f, deliver::type, [&](const field_view& fv) {
        bool ok = true;
        switch (static_cast<tag>(fv.tag)) {
        case tag::from:
            out.from = fv.str();
            break;
        case tag::body:
            out.body = fv.str();
            break;
        case tag::seq:
            ok = read_uint(fv, out.seq);
            break;
        case tag::flags:
            ok = read_uint(fv, out.flags);
            break;
        default:
            return true;
        }
        s.mark(static_cast<tag>(fv.tag));
        return ok;
    });
    return ec ? ec : require(s, {tag::from, tag::body, tag::seq});
}

error_code decode(frame_view f, broadcast& out) {
    out = {};
    seen s;
    auto ec = parse(f, broadcast::type, [&](const field_view& fv) {
        bool ok = true;
        switch (static_cast<tag>(fv.tag)) {
        case tag::body:
            out.body = fv.str();
            break;
        case tag::ref:
            ok = read_uint(fv, out.ref);
            break;
        default:
            return true;
        }
        s.mark(static_cast<tag>(fv.tag));
        return ok;
    });
    return ec ? ec : require(s, {tag::body});
}

error_code decode(frame_view f, error& out) {
    out = {};
    seen s;
    auto ec = parse(f, error::type, [&](const field_view& fv) {
        bool ok = true;
        switch (static_cast<tag>(fv.tag)) {
        case tag::code:
            ok = read_uint(fv, out.code);
            break;
        case tag::text:
            out.text = fv.str();
            break;
        case tag::ref:
            ok = read_uint(fv, out.ref);
            break;
        case tag::ref_type:
            ok = read_uint(fv, out.ref_type);
            break;
        case tag::client_id:
            out.id = fv.str();
            break;
        default:
            return true;
        }
        s.mark(static_cast<tag>(fv.tag));
        return ok;
    });
    return ec ? ec : require(s, {tag::code});
}

error_code decode(frame_view f, term& out) {
    out = {};
    seen s;
    auto ec = parse(f, term::type, [&](const field_view& fv) {
        bool ok = true;
        switch (static_cast<tag>(fv.tag)) {
        case tag::reason:
            ok = read_enum(fv, out.reason);
            break;
        case tag::text:
            out.text = fv.str();
            break;
        case tag::by:
            out.by = fv.str();
            break;
        default:
            return true;
        }
        s.mark(static_cast<tag>(fv.tag));
        return ok;
    });
    return ec ? ec : require(s, {tag::reason});
}

error_code decode(frame_view f, bye&) {
    return parse(f, bye::type, [](const field_view&) { return true; });
}

namespace {
template <class Ping>
error_code decode_nonce(frame_view f, Ping& out) {
    out = {};
    return parse(f, Ping::type, [&](const field_view& fv) {
        return static_cast<tag>(fv.tag) != tag::nonce || read_uint(fv, out.nonce);
    });
}
} // namespace

error_code decode(frame_view f, ping& out) {
    return decode_nonce(f, out);
}
error_code decode(frame_view f, pong& out) {
    return decode_nonce(f, out);
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
