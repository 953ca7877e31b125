// SPDX-License-Identifier: BSL-1.0
#include "libnet_client.hpp"

#include <libnet/codec.hpp>
#include <libnet/messages.hpp>

#include <boost/endian/conversion.hpp>

#include <algorithm>
#include <cstring>
#include <string>

namespace bench {

namespace {

using libnet::frame_header_size;
using libnet::frame_type;

// Larger than any max_frame net-server accepts (64 MiB): a longer header is garbage.
constexpr std::uint32_t max_kept_value = 64u << 20;

std::uint16_t type_at(const std::uint8_t* p) {
    return boost::endian::load_big_u16(p);
}
std::uint32_t length_at(const std::uint8_t* p) {
    return boost::endian::load_big_u32(p + 2);
}

// The frames whose values we read; the rest are only counted.
bool keeps(std::uint16_t type) {
    switch (static_cast<frame_type>(type)) {
    case frame_type::welcome:
    case frame_type::error:
    case frame_type::term:
    case frame_type::ping:
        return true;
    default:
        return false;
    }
}

} // namespace

libnet_client::libnet_client(asio::io_context& ioc, client_events& events, std::size_t index,
                             std::string id, options opts)
    : raw_client(ioc, events, index, std::move(id)), opts_(opts) {}

void libnet_client::greet(std::vector<std::uint8_t>& out) {
    libnet::msg::hello h;
    h.version = libnet::protocol_version;
    h.id = id();
    h.flags = opts_.no_directory ? libnet::msg::hello_no_directory : 0;
    libnet::msg::encode(h, out);
}

void libnet_client::encode_message(std::string_view to, std::string_view body,
                                   std::vector<std::uint8_t>& out) {
    libnet::msg::send s;
    s.to = to;
    s.body = body;
    libnet::msg::encode(s, out);
}

void libnet_client::goodbye(std::vector<std::uint8_t>& out) {
    libnet::msg::encode(libnet::msg::bye{}, out);
}

// Parses every complete frame in `data`; a frame split across reads goes through
// continue_frame. DELIVERs are reported once per read.
bool libnet_client::consume(std::span<const std::uint8_t> data) {
    delivered_ = 0;
    bool ok = true;
    while (ok && !data.empty()) {
        std::size_t used = 0;
        if (skip_ > 0 || !carry_.empty()) {
            used = continue_frame(data, ok);
        } else if (data.size() < frame_header_size) {
            carry_.assign(data.begin(), data.end());
            used = data.size();
        } else if (data.size() - frame_header_size >= length_at(data.data())) {
            auto const len = length_at(data.data());
            ++frames_in;
            ok = on_frame(type_at(data.data()), data.subspan(frame_header_size, len));
            used = frame_header_size + len;
        } else {
            used = start_partial(data, ok);
        }
        data = data.subspan(used);
    }
    if (ok && delivered_ > 0)
        events_.on_messages(*this, delivered_);
    return ok;
}

std::size_t libnet_client::start_partial(std::span<const std::uint8_t> data, bool& ok) {
    auto const type = type_at(data.data());
    if (keeps(type)) {
        if (length_at(data.data()) > max_kept_value) {
            fail(failure::protocol,
                 "a frame header announces " + std::to_string(length_at(data.data())) + " bytes");
            ok = false;
        } else {
            carry_.assign(data.begin(), data.end());
        }
    } else {
        skip_type_ = type;
        skip_ =
            length_at(data.data()) - static_cast<std::uint32_t>(data.size() - frame_header_size);
        skip_value(data.subspan(frame_header_size));
    }
    return data.size();
}

std::size_t libnet_client::continue_frame(std::span<const std::uint8_t> data, bool& ok) {
    if (skip_ > 0) {
        auto const n = static_cast<std::uint32_t>(std::min<std::size_t>(skip_, data.size()));
        skip_ -= n;
        skip_value(data.first(n));
        if (skip_ == 0) {
            ++frames_in;
            ok = on_frame(skip_type_, {});
        }
        return n;
    }
    std::size_t used = 0;
    if (carry_.size() < frame_header_size) {
        used = complete_header(data, ok);
        if (!ok || carry_.size() < frame_header_size)
            return used;
    }
    auto const len = length_at(carry_.data());
    auto const n = std::min(frame_header_size + len - carry_.size(), data.size() - used);
    carry_.insert(carry_.end(), data.begin() + used, data.begin() + used + n);
    used += n;
    if (carry_.size() == frame_header_size + len) {
        ++frames_in;
        ok = on_frame(type_at(carry_.data()), std::span(carry_).subspan(frame_header_size));
        carry_.clear();
    }
    return used;
}

// Completes a header split across reads; a frame we do not keep turns into a skip.
std::size_t libnet_client::complete_header(std::span<const std::uint8_t> data, bool& ok) {
    auto const used = std::min(frame_header_size - carry_.size(), data.size());
    carry_.insert(carry_.end(), data.begin(), data.begin() + used);
    if (carry_.size() < frame_header_size)
        return used;
    auto const type = type_at(carry_.data());
    auto const len = length_at(carry_.data());
    if (keeps(type)) {
        if (len > max_kept_value) {
            fail(failure::protocol, "a frame header announces " + std::to_string(len) + " bytes");
            ok = false;
            return data.size();
        }
        return used;
    }
    carry_.clear();
    if (len > 0) {
        skip_type_ = type;
        skip_ = len;
    } else {
        ++frames_in;
        ok = on_frame(type, {});
    }
    return used;
}

void libnet_client::skip_value(std::span<const std::uint8_t> part) {
    if (skip_type_ == static_cast<std::uint16_t>(frame_type::directory))
        directory_.feed(part);
}

void entry_counter::feed(std::span<const std::uint8_t> data) {
    while (!data.empty()) {
        if (field_left > 0) {
            auto const n =
                static_cast<std::uint32_t>(std::min<std::size_t>(field_left, data.size()));
            field_left -= n;
            data = data.subspan(n);
            continue;
        }
        auto const n = std::min(sizeof header - have, data.size());
        std::memcpy(header + have, data.data(), n);
        have += n;
        data = data.subspan(n);
        if (have == sizeof header) {
            entries += type_at(header) == static_cast<std::uint16_t>(libnet::msg::tag::entry);
            field_left = length_at(header);
            have = 0;
        }
    }
}

bool libnet_client::on_frame(std::uint16_t type, std::span<const std::uint8_t> value) {
    switch (static_cast<frame_type>(type)) {
    case frame_type::welcome:
        welcomed_ = true;
        mark_registered();
        break;
    case frame_type::directory:
        directory_.feed(value); // all of it, or nothing when skip_value saw it pass
        if (!directory_.complete()) {
            fail(failure::protocol, "malformed DIRECTORY");
            return false;
        }
        entries_ += directory_.entries;
        directory_ = {};
        have_directory_ = true;
        break;
    case frame_type::joined:
        ++entries_;
        break;
    case frame_type::left:
        --entries_;
        return true;
    case frame_type::deliver:
        ++delivered_;
        return true;
    case frame_type::ping: {
        libnet::msg::ping p;
        libnet::msg::decode(libnet::frame_view{type, value}, p);
        libnet::msg::encode(libnet::msg::pong{p.nonce}, output());
        schedule_flush();
        return true;
    }
    case frame_type::error:
    case frame_type::term:
        return on_error_frame(type, value);
    default:
        return true; // STORED and the like: not ours to judge
    }
    check_ready();
    return true;
}

bool libnet_client::on_error_frame(std::uint16_t type, std::span<const std::uint8_t> value) {
    libnet::frame_view const f{type, value};
    std::string what;
    if (f.core_type() == frame_type::term) {
        libnet::msg::term t;
        libnet::msg::decode(f, t);
        what = "TERM " + std::string(libnet::msg::to_string(t.reason)) + " " + std::string(t.text);
    } else {
        libnet::msg::error e;
        libnet::msg::decode(f, e);
        what = "ERROR " + std::string(libnet::to_string(libnet::from_wire(e.code))) + " (" +
               std::to_string(e.code) + ")";
        if (!e.text.empty())
            what += ": " + std::string(e.text);
        if (!e.id.empty())
            what += " [" + std::string(e.id) + "]";
    }
    fail(failure::error, what);
    return false;
}

void libnet_client::check_ready() {
    if (is_ready() || !welcomed_)
        return;
    if (opts_.expect == 0 ||
        (have_directory_ && entries_ == static_cast<std::int64_t>(opts_.expect)))
        mark_ready();
}

} // namespace bench
