// SPDX-License-Identifier: BSL-1.0
#include "cluster_names.hpp"

#include <boost/endian/conversion.hpp>

#include <charconv>
#include <cstring>

namespace libnet::detail::cluster_names {

namespace {

bool plain(char c) noexcept {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '_';
}

int hex_value(char c) noexcept {
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

std::string prefix(std::string_view name) {
    return "libnet." + std::string(name);
}

// `s` without `head`, or nullopt when it does not start with it.
std::optional<std::string_view> after(std::string_view s, std::string_view head) {
    if (s.substr(0, head.size()) != head)
        return std::nullopt;
    return s.substr(head.size());
}

} // namespace

bool valid_name(std::string_view s) noexcept {
    if (s.empty() || s.size() > 64)
        return false;
    for (char c : s)
        if (!plain(c))
            return false;
    return true;
}

std::string encode_id(std::string_view id) {
    static constexpr char digits[] = "0123456789ABCDEF";
    std::string out;
    out.reserve(id.size());
    for (char c : id) {
        if (plain(c)) {
            out += c;
            continue;
        }
        auto const b = static_cast<unsigned char>(c);
        out += '=';
        out += digits[b >> 4];
        out += digits[b & 15];
    }
    return out;
}

std::optional<std::string> decode_id(std::string_view token) {
    std::string out;
    out.reserve(token.size());
    for (std::size_t i = 0; i < token.size(); ++i) {
        char const c = token[i];
        if (plain(c)) {
            out += c;
            continue;
        }
        if (c != '=' || token.size() - i < 3)
            return std::nullopt;
        int const hi = hex_value(token[i + 1]), lo = hex_value(token[i + 2]);
        if (hi < 0 || lo < 0)
            return std::nullopt;
        auto const b = static_cast<char>(hi * 16 + lo);
        if (plain(b)) // one spelling per id: what may stay plain must
            return std::nullopt;
        out += b;
        i += 2;
    }
    if (out.empty())
        return std::nullopt;
    return out;
}

std::string bucket(std::string_view name) {
    return "libnet_" + std::string(name);
}

std::string claim_key(std::string_view id) {
    return "c." + encode_id(id);
}

std::string release_key(std::string_view id) {
    return "l." + encode_id(id);
}

std::optional<key_name> parse_key(std::string_view k) {
    bool const claim = k.substr(0, 2) == "c.";
    if (!claim && k.substr(0, 2) != "l.")
        return std::nullopt;
    auto id = decode_id(k.substr(2));
    if (!id)
        return std::nullopt;
    return key_name{claim, std::move(*id)};
}

std::string node_subject(std::string_view name, std::string_view node) {
    return prefix(name) + ".n." + std::string(node);
}

std::string broadcast_subject(std::string_view name) {
    return prefix(name) + ".b";
}

std::string heartbeat_subject(std::string_view name, std::string_view node) {
    return prefix(name) + ".hb." + std::string(node);
}

std::string heartbeat_filter(std::string_view name) {
    return prefix(name) + ".hb.*";
}

std::string mail_stream(std::string_view name) {
    return bucket(name) + "_mail";
}

std::string mail_subject(std::string_view name, std::string_view id) {
    return prefix(name) + ".m." + encode_id(id);
}

std::string mail_filter(std::string_view name) {
    return prefix(name) + ".m.>";
}

std::optional<std::string> parse_node_subject(std::string_view name, std::string_view subject) {
    auto const head = prefix(name) + ".n.";
    auto rest = after(subject, head);
    if (!rest || !valid_name(*rest))
        return std::nullopt;
    return std::string(*rest);
}

std::optional<std::string> parse_heartbeat_subject(std::string_view name,
                                                   std::string_view subject) {
    auto const head = prefix(name) + ".hb.";
    auto rest = after(subject, head);
    if (!rest || !valid_name(*rest))
        return std::nullopt;
    return std::string(*rest);
}

void append_record(std::vector<std::uint8_t>& batch, std::string_view from, std::string_view to,
                   std::span<const std::uint8_t> frame) {
    auto const at = batch.size();
    batch.resize(at + 4 + from.size() + to.size() + frame.size());
    auto* p = batch.data() + at;
    // memcpy with an empty view's null pointer is undefined even for 0 bytes.
    auto put = [&p](const void* data, std::size_t n) {
        if (n != 0)
            std::memcpy(p, data, n);
        p += n;
    };
    boost::endian::store_big_u16(p, static_cast<std::uint16_t>(from.size()));
    p += 2;
    put(from.data(), from.size());
    boost::endian::store_big_u16(p, static_cast<std::uint16_t>(to.size()));
    p += 2;
    put(to.data(), to.size());
    put(frame.data(), frame.size());
}

bool for_each_record(std::span<const std::uint8_t> batch,
                     const std::function<void(const record_view&)>& f) {
    auto text = [&batch](std::string_view& out) {
        if (batch.size() < 2)
            return false;
        std::size_t const n = boost::endian::load_big_u16(batch.data());
        if (batch.size() - 2 < n)
            return false;
        out = {reinterpret_cast<const char*>(batch.data() + 2), n};
        batch = batch.subspan(2 + n);
        return true;
    };
    while (!batch.empty()) {
        record_view r;
        if (!text(r.from) || !text(r.to) || batch.size() < frame_header_size)
            return false;
        std::size_t const len = boost::endian::load_big_u32(batch.data() + 2);
        if (batch.size() - frame_header_size < len)
            return false;
        r.frame = batch.subspan(0, frame_header_size + len);
        batch = batch.subspan(frame_header_size + len);
        f(r);
    }
    return true;
}

std::string connection_name(std::string_view name, std::string_view node, std::string_view epoch) {
    return "libnet/" + std::string(name) + "/" + std::string(node) + "/" + std::string(epoch);
}

std::optional<incarnation> parse_connection_name(std::string_view name, std::string_view s) {
    auto const head = "libnet/" + std::string(name) + "/";
    auto rest = after(s, head);
    if (!rest)
        return std::nullopt;
    auto const slash = rest->find('/');
    if (slash == std::string_view::npos)
        return std::nullopt;
    incarnation i{std::string(rest->substr(0, slash)), std::string(rest->substr(slash + 1))};
    if (!valid_name(i.node) || !valid_name(i.epoch))
        return std::nullopt;
    return i;
}

std::string encode_claim(const claim& c) {
    return "J " + c.node + " " + c.epoch + " " + c.endpoint;
}

std::optional<claim> decode_claim(std::string_view v) {
    auto rest = after(v, "J ");
    if (!rest)
        return std::nullopt;
    auto const a = rest->find(' ');
    if (a == std::string_view::npos)
        return std::nullopt;
    auto const b = rest->find(' ', a + 1);
    if (b == std::string_view::npos)
        return std::nullopt;
    claim c{std::string(rest->substr(0, a)), std::string(rest->substr(a + 1, b - a - 1)),
            std::string(rest->substr(b + 1))};
    if (!valid_name(c.node) || !valid_name(c.epoch))
        return std::nullopt;
    return c;
}

std::string encode_release(const release& r) {
    return "L " + std::to_string(static_cast<unsigned>(r.reason)) + " " + std::to_string(r.claim);
}

std::optional<release> decode_release(std::string_view v) {
    auto rest = after(v, "L ");
    if (!rest)
        return std::nullopt;
    auto const* p = rest->data();
    auto const* end = p + rest->size();
    unsigned reason = 0;
    auto [q, ec] = std::from_chars(p, end, reason);
    if (ec != std::errc{} || q == end || *q != ' ' || reason == 0 || reason > 0xffff)
        return std::nullopt;
    release r{static_cast<msg::leave_reason>(reason), 0};
    auto [e, ec2] = std::from_chars(q + 1, end, r.claim);
    if (ec2 != std::errc{} || e != end || r.claim == 0)
        return std::nullopt;
    return r;
}

} // namespace libnet::detail::cluster_names
