// SPDX-License-Identifier: BSL-1.0
#include "nats_client.hpp"

#include <algorithm>
#include <charconv>

namespace bench {

namespace {

// Longer control lines than this (INFO is a few hundred bytes) mean we lost the stream.
constexpr std::size_t max_line = 64 * 1024;

void append(std::vector<std::uint8_t>& out, std::string_view s) {
    out.insert(out.end(), s.begin(), s.end());
}

} // namespace

nats_client::nats_client(asio::io_context& ioc, client_events& events, std::size_t index,
                         std::string id)
    : raw_client(ioc, events, index, std::move(id)) {}

void nats_client::greet(std::vector<std::uint8_t>& out) {
    append(out, "CONNECT {\"verbose\":false,\"pedantic\":false}\r\nSUB ");
    append(out, id());
    append(out, " 1\r\nPING\r\n");
}

void nats_client::encode_message(std::string_view to, std::string_view body,
                                 std::vector<std::uint8_t>& out) {
    append(out, "PUB ");
    append(out, to);
    append(out, " ");
    append(out, std::to_string(body.size()));
    append(out, "\r\n");
    append(out, body);
    append(out, "\r\n");
}

void nats_client::goodbye(std::vector<std::uint8_t>&) {} // NATS has no farewell

bool nats_client::consume(std::span<const std::uint8_t> data) {
    delivered_ = 0;
    while (!data.empty()) {
        if (skip_ > 0) {
            auto const n = std::min(skip_, data.size());
            skip_ -= n;
            data = data.subspan(n);
            delivered_ += skip_ == 0 ? 1 : 0;
            continue;
        }
        auto const nl = std::find(data.begin(), data.end(), std::uint8_t{'\n'});
        line_.append(data.begin(), nl);
        if (nl == data.end()) {
            if (line_.size() <= max_line)
                break;
            fail(failure::protocol, "a NATS control line of over 64 KiB");
            return false;
        }
        data = data.subspan(static_cast<std::size_t>(nl - data.begin()) + 1);
        std::string_view line = line_;
        if (line.ends_with('\r'))
            line.remove_suffix(1);
        ++frames_in;
        if (!on_line(line))
            return false;
        line_.clear();
    }
    if (delivered_ > 0)
        events_.on_messages(*this, delivered_);
    return true;
}

bool nats_client::on_line(std::string_view line) {
    if (line.starts_with("MSG ")) {
        // MSG <subject> <sid> [reply-to] <#bytes>: the payload and its CRLF follow.
        auto const size = line.substr(line.rfind(' ') + 1);
        std::size_t n = 0;
        auto const [end, ec] = std::from_chars(size.data(), size.data() + size.size(), n);
        if (ec != std::errc{} || end != size.data() + size.size()) {
            fail(failure::protocol, "bad NATS line: " + std::string(line));
            return false;
        }
        skip_ = n + 2;
    } else if (line == "PING") {
        append(output(), "PONG\r\n");
        schedule_flush();
    } else if (line == "PONG") {
        mark_registered();
        mark_ready();
    } else if (line.starts_with("-ERR")) {
        fail(failure::error, std::string(line));
        return false;
    } else if (!line.starts_with("INFO ") && line != "+OK") {
        fail(failure::protocol, "unexpected NATS line: " + std::string(line.substr(0, 80)));
        return false;
    }
    return true;
}

} // namespace bench
