#ifndef LIBNET_DETAIL_MESSAGE_FIELDS_HPP
#define LIBNET_DETAIL_MESSAGE_FIELDS_HPP

#include <libnet/codec.hpp>

#include <boost/endian/conversion.hpp>

#include <cstring>
#include <string_view>

// One description of each message's fields drives both sizing and writing, so the two
// can never disagree.
namespace libnet::msg::detail {

struct field_sizer {
    std::size_t size = 0;

    void str(tag, std::string_view s) noexcept { size += field_header_size + s.size(); }
    void u16(tag, std::uint16_t) noexcept { size += field_header_size + 2; }
    void u32(tag, std::uint32_t) noexcept { size += field_header_size + 4; }
    void u64(tag, std::uint64_t) noexcept { size += field_header_size + 8; }
    template <class F>
    void nested(tag, F&& f) {
        size += field_header_size;
        f(*this);
    }
};

struct field_writer {
    std::uint8_t* pos;

    void str(tag t, std::string_view s) noexcept {
        header(t, s.size());
        if (!s.empty())
            std::memcpy(pos, s.data(), s.size());
        pos += s.size();
    }
    void u16(tag t, std::uint16_t v) noexcept {
        header(t, 2);
        boost::endian::store_big_u16(pos, v);
        pos += 2;
    }
    void u32(tag t, std::uint32_t v) noexcept {
        header(t, 4);
        boost::endian::store_big_u32(pos, v);
        pos += 4;
    }
    void u64(tag t, std::uint64_t v) noexcept {
        header(t, 8);
        boost::endian::store_big_u64(pos, v);
        pos += 8;
    }
    template <class F>
    void nested(tag t, F&& f) {
        auto* const start = pos;
        pos += field_header_size;
        f(*this);
        write_header(start, static_cast<std::uint16_t>(t),
                     static_cast<std::uint32_t>(pos - start - field_header_size));
    }

private:
    void header(tag t, std::size_t len) noexcept {
        write_header(pos, static_cast<std::uint16_t>(t), static_cast<std::uint32_t>(len));
        pos += field_header_size;
    }
};

template <class V>
void entry_fields(const directory_entry& e, V& v) {
    v.str(tag::client_id, e.id);
    v.u64(tag::join_seq, e.join_seq);
    if (!e.endpoint.empty())
        v.str(tag::endpoint, e.endpoint);
}

template <class V>
void visit_fields(const hello& m, V& v) {
    v.u16(tag::version, m.version);
    if (!m.id.empty())
        v.str(tag::client_id, m.id);
    if (!m.endpoint.empty())
        v.str(tag::endpoint, m.endpoint);
    if (!m.credentials.empty())
        v.str(tag::credentials, m.credentials);
}

template <class V>
void visit_fields(const welcome& m, V& v) {
    v.u16(tag::version, m.version);
    v.str(tag::client_id, m.id);
    v.u32(tag::max_frame, m.max_frame);
    v.u32(tag::heartbeat_ms, m.heartbeat_ms);
    v.u32(tag::heartbeat_misses, m.heartbeat_misses);
}

template <class V>
void visit_fields(const directory& m, V& v) {
    for (auto const& e : m.entries)
        v.nested(tag::entry, [&e](auto& inner) { entry_fields(e, inner); });
}

template <class V>
void visit_fields(const joined& m, V& v) {
    entry_fields(m.entry, v);
}

template <class V>
void visit_fields(const left& m, V& v) {
    v.str(tag::client_id, m.id);
    v.u64(tag::join_seq, m.join_seq);
    v.u16(tag::reason, static_cast<std::uint16_t>(m.reason));
}

template <class V>
void visit_fields(const send& m, V& v) {
    v.str(tag::to, m.to);
    v.str(tag::body, m.body);
    if (m.ref != 0)
        v.u64(tag::ref, m.ref);
}

template <class V>
void visit_fields(const deliver& m, V& v) {
    v.str(tag::from, m.from);
    v.str(tag::body, m.body);
    v.u64(tag::seq, m.seq);
    if (m.flags != 0)
        v.u16(tag::flags, m.flags);
}

template <class V>
void visit_fields(const broadcast& m, V& v) {
    v.str(tag::body, m.body);
    if (m.ref != 0)
        v.u64(tag::ref, m.ref);
}

template <class V>
void visit_fields(const error& m, V& v) {
    v.u16(tag::code, m.code);
    if (!m.text.empty())
        v.str(tag::text, m.text);
    if (m.ref != 0)
        v.u64(tag::ref, m.ref);
    if (m.ref_type != 0)
        v.u16(tag::ref_type, m.ref_type);
    if (!m.id.empty())
        v.str(tag::client_id, m.id);
}

template <class V>
void visit_fields(const term& m, V& v) {
    v.u16(tag::reason, static_cast<std::uint16_t>(m.reason));
    if (!m.text.empty())
        v.str(tag::text, m.text);
    if (!m.by.empty())
        v.str(tag::by, m.by);
}

template <class V>
void visit_fields(const bye&, V&) {}

template <class V>
void visit_fields(const ping& m, V& v) {
    v.u64(tag::nonce, m.nonce);
}

template <class V>
void visit_fields(const pong& m, V& v) {
    v.u64(tag::nonce, m.nonce);
}

} // namespace libnet::msg::detail

#endif
