// SPDX-License-Identifier: BSL-1.0
#ifndef LIBNET_DETAIL_MESSAGE_FIELDS_HPP
#define LIBNET_DETAIL_MESSAGE_FIELDS_HPP

#include <libnet/codec.hpp>

#include <boost/endian/conversion.hpp>

#include <concepts>
#include <cstring>
#include <string_view>
#include <type_traits>

// One description of each message's fields (visit_fields) drives sizing, writing and
// decoding, so the three can never disagree.
namespace libnet::msg::detail {

/// How a field appears on the wire.
enum class field_presence {
    required, ///< Always written; decoding fails without it.
    always,   ///< Always written; a decoder keeps the default when it is absent.
    optional, ///< Written unless empty or zero; may be absent.
};

template <class T>
concept wire_int = std::is_integral_v<T> || std::is_enum_v<T>;

template <wire_int T>
constexpr std::size_t wire_size() noexcept {
    if constexpr (std::is_enum_v<T>)
        return sizeof(std::underlying_type_t<T>);
    else
        return sizeof(T);
}

template <class T>
bool is_empty(const T& v) noexcept {
    if constexpr (std::is_same_v<T, std::string_view>)
        return v.empty();
    else
        return v == T{};
}

struct field_sizer {
    std::size_t size = 0;

    template <class T>
    void field(tag, const T& v, field_presence p) noexcept {
        if (p == field_presence::optional && is_empty(v))
            return;
        if constexpr (std::is_same_v<T, std::string_view>)
            size += field_header_size + v.size();
        else
            size += field_header_size + wire_size<T>();
    }
    template <class Entry>
    void entries(tag, const std::vector<Entry>& es) {
        for (auto const& e : es) {
            size += field_header_size;
            visit_fields(e, *this);
        }
    }
};

struct field_writer {
    std::uint8_t* pos;

    template <class T>
    void field(tag t, const T& v, field_presence p) noexcept {
        if (p == field_presence::optional && is_empty(v))
            return;
        if constexpr (std::is_same_v<T, std::string_view>) {
            str(t, v);
        } else {
            using U = typename std::conditional_t<std::is_enum_v<T>, std::underlying_type<T>,
                                                  std::type_identity<T>>::type;
            header(t, sizeof(U));
            boost::endian::endian_store<U, sizeof(U), boost::endian::order::big>(pos,
                                                                                 static_cast<U>(v));
            pos += sizeof(U);
        }
    }
    template <class Entry>
    void entries(tag t, const std::vector<Entry>& es) {
        for (auto const& e : es) {
            auto* const start = pos;
            pos += field_header_size;
            visit_fields(e, *this);
            write_header(start, static_cast<std::uint16_t>(t),
                         static_cast<std::uint32_t>(pos - start - field_header_size));
        }
    }
    // Building blocks, also for tests that craft frames by hand.
    void str(tag t, std::string_view s) noexcept {
        header(t, s.size());
        if (!s.empty())
            std::memcpy(pos, s.data(), s.size());
        pos += s.size();
    }
    void u16(tag t, std::uint16_t v) noexcept { field(t, v, field_presence::required); }

private:
    void header(tag t, std::size_t len) noexcept {
        write_header(pos, static_cast<std::uint16_t>(t), static_cast<std::uint32_t>(len));
        pos += field_header_size;
    }
};

template <class M, class T>
concept message_of = std::same_as<std::remove_const_t<M>, T>;

/// The frame type of a message: fixed per struct, carried by msg::app.
template <class M>
constexpr std::uint16_t type_of(const M& m) noexcept {
    if constexpr (std::is_same_v<M, app>)
        return m.type;
    else
        return static_cast<std::uint16_t>(M::type);
}

// Each message's fields, in the order encoders write them (docs/protocol.md §5).
// M is the message, const when encoding.

template <message_of<directory_entry> M, class V>
void visit_fields(M& m, V& v) {
    v.field(tag::client_id, m.id, field_presence::required);
    v.field(tag::join_seq, m.join_seq, field_presence::required);
    v.field(tag::endpoint, m.endpoint, field_presence::optional);
}

template <message_of<hello> M, class V>
void visit_fields(M& m, V& v) {
    v.field(tag::version, m.version, field_presence::required);
    v.field(tag::client_id, m.id, field_presence::optional);
    v.field(tag::endpoint, m.endpoint, field_presence::optional);
    v.field(tag::credentials, m.credentials, field_presence::optional);
    v.field(tag::flags, m.flags, field_presence::optional);
    v.field(tag::seq, m.seq, field_presence::optional);
    v.field(tag::link_key, m.link_key, field_presence::optional);
}

template <message_of<welcome> M, class V>
void visit_fields(M& m, V& v) {
    v.field(tag::version, m.version, field_presence::required);
    v.field(tag::client_id, m.id, field_presence::required);
    v.field(tag::max_frame, m.max_frame, field_presence::required);
    v.field(tag::heartbeat_ms, m.heartbeat_ms, field_presence::always);
    v.field(tag::heartbeat_misses, m.heartbeat_misses, field_presence::always);
    v.field(tag::peer_key, m.peer_key, field_presence::optional);
    v.field(tag::flags, m.flags, field_presence::optional);
    v.field(tag::seq, m.seq, field_presence::optional);
    v.field(tag::pending, m.pending, field_presence::optional);
}

template <message_of<directory> M, class V>
void visit_fields(M& m, V& v) {
    v.entries(tag::entry, m.entries);
}

template <message_of<joined> M, class V>
void visit_fields(M& m, V& v) {
    visit_fields(m.entry, v);
}

template <message_of<left> M, class V>
void visit_fields(M& m, V& v) {
    v.field(tag::client_id, m.id, field_presence::required);
    v.field(tag::join_seq, m.join_seq, field_presence::always);
    v.field(tag::reason, m.reason, field_presence::always);
}

template <message_of<send> M, class V>
void visit_fields(M& m, V& v) {
    v.field(tag::to, m.to, field_presence::required);
    v.field(tag::body, m.body, field_presence::required);
    v.field(tag::ref, m.ref, field_presence::optional);
    v.field(tag::link, m.link, field_presence::optional);
    v.field(tag::link_seq, m.link_seq, field_presence::optional);
    v.field(tag::flags, m.flags, field_presence::optional);
    v.field(tag::ttl_ms, m.ttl_ms, field_presence::optional);
}

template <message_of<deliver> M, class V>
void visit_fields(M& m, V& v) {
    v.field(tag::from, m.from, field_presence::required);
    v.field(tag::body, m.body, field_presence::required);
    v.field(tag::seq, m.seq, field_presence::required);
    v.field(tag::flags, m.flags, field_presence::optional);
    v.field(tag::link, m.link, field_presence::optional);
    v.field(tag::link_seq, m.link_seq, field_presence::optional);
}

template <message_of<app> M, class V>
void visit_fields(M& m, V& v) {
    v.field(tag::to, m.to, field_presence::optional);
    v.field(tag::from, m.from, field_presence::optional);
    v.field(tag::body, m.body, field_presence::always);
    v.field(tag::ref, m.ref, field_presence::optional);
    v.field(tag::seq, m.seq, field_presence::optional);
    v.field(tag::link, m.link, field_presence::optional);
    v.field(tag::link_seq, m.link_seq, field_presence::optional);
    v.field(tag::flags, m.flags, field_presence::optional);
    v.field(tag::ttl_ms, m.ttl_ms, field_presence::optional);
}

template <message_of<ack> M, class V>
void visit_fields(M& m, V& v) {
    v.field(tag::seq, m.seq, field_presence::always);
    v.field(tag::flags, m.flags, field_presence::optional);
}

template <message_of<get> M, class V>
void visit_fields(M& m, V& v) {
    v.field(tag::count, m.count, field_presence::required);
    v.field(tag::ref, m.ref, field_presence::optional);
}

template <message_of<fetched> M, class V>
void visit_fields(M& m, V& v) {
    v.field(tag::count, m.count, field_presence::always);
    v.field(tag::pending, m.pending, field_presence::always);
    v.field(tag::ref, m.ref, field_presence::optional);
}

template <message_of<stored> M, class V>
void visit_fields(M& m, V& v) {
    v.field(tag::ref, m.ref, field_presence::optional);
    v.field(tag::to, m.to, field_presence::optional);
    v.field(tag::count, m.count, field_presence::always);
    v.field(tag::flags, m.flags, field_presence::optional);
}

template <message_of<lookup> M, class V>
void visit_fields(M& m, V& v) {
    v.field(tag::client_id, m.id, field_presence::required);
    v.field(tag::ref, m.ref, field_presence::optional);
}

template <message_of<presence> M, class V>
void visit_fields(M& m, V& v) {
    v.field(tag::client_id, m.id, field_presence::required);
    v.field(tag::join_seq, m.join_seq, field_presence::always);
    v.field(tag::endpoint, m.endpoint, field_presence::optional);
    v.field(tag::ref, m.ref, field_presence::optional);
}

template <message_of<intro_request> M, class V>
void visit_fields(M& m, V& v) {
    v.field(tag::to, m.to, field_presence::required);
    v.field(tag::ref, m.ref, field_presence::optional);
    v.field(tag::link_key, m.link_key, field_presence::optional);
}

template <message_of<introduction> M, class V>
void visit_fields(M& m, V& v) {
    v.field(tag::client_id, m.id, field_presence::required);
    v.field(tag::endpoint, m.endpoint, field_presence::required);
    v.field(tag::token, m.token, field_presence::required);
    v.field(tag::proof, m.proof, field_presence::required);
    v.field(tag::expires, m.expires, field_presence::required);
    v.field(tag::ref, m.ref, field_presence::optional);
    v.field(tag::link_key, m.link_key, field_presence::optional);
}

template <message_of<peer_hello> M, class V>
void visit_fields(M& m, V& v) {
    v.field(tag::version, m.version, field_presence::required);
    v.field(tag::client_id, m.id, field_presence::required);
    v.field(tag::token, m.token, field_presence::always); // absent: refused as "no token"
    v.field(tag::link, m.link, field_presence::required);
}

template <message_of<peer_welcome> M, class V>
void visit_fields(M& m, V& v) {
    v.field(tag::version, m.version, field_presence::required);
    v.field(tag::client_id, m.id, field_presence::required);
    v.field(tag::proof, m.proof, field_presence::required);
}

template <message_of<broadcast> M, class V>
void visit_fields(M& m, V& v) {
    v.field(tag::body, m.body, field_presence::required);
    v.field(tag::ref, m.ref, field_presence::optional);
    v.field(tag::flags, m.flags, field_presence::optional);
    v.field(tag::ttl_ms, m.ttl_ms, field_presence::optional);
}

template <message_of<error> M, class V>
void visit_fields(M& m, V& v) {
    v.field(tag::code, m.code, field_presence::required);
    v.field(tag::text, m.text, field_presence::optional);
    v.field(tag::ref, m.ref, field_presence::optional);
    v.field(tag::ref_type, m.ref_type, field_presence::optional);
    v.field(tag::client_id, m.id, field_presence::optional);
}

template <message_of<term> M, class V>
void visit_fields(M& m, V& v) {
    v.field(tag::reason, m.reason, field_presence::required);
    v.field(tag::text, m.text, field_presence::optional);
    v.field(tag::by, m.by, field_presence::optional);
}

template <message_of<bye> M, class V>
void visit_fields(M&, V&) {}

template <class M, class V>
requires message_of<M, ping> || message_of<M, pong>
void visit_fields(M& m, V& v) {
    v.field(tag::nonce, m.nonce, field_presence::always);
}

} // namespace libnet::msg::detail

#endif
