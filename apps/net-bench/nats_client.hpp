// SPDX-License-Identifier: BSL-1.0
#ifndef LIBNET_APPS_NET_BENCH_NATS_CLIENT_HPP
#define LIBNET_APPS_NET_BENCH_NATS_CLIENT_HPP

// A raw NATS client for comparison runs (the text protocol of nats-server): CONNECT,
// SUB to its own subject and PING on connecting, ready on the first PONG; messages are
// PUB out and MSG in. Payloads are skipped, never copied.

#include "raw_client.hpp"

#include <string>

namespace bench {

class nats_client final : public raw_client {
public:
    /// Subscribes to `id` as its subject.
    nats_client(asio::io_context& ioc, client_events& events, std::size_t index, std::string id);

private:
    void greet(std::vector<std::uint8_t>& out) override;
    void encode_message(std::string_view to, std::string_view body,
                        std::vector<std::uint8_t>& out) override;
    void goodbye(std::vector<std::uint8_t>& out) override;
    bool consume(std::span<const std::uint8_t> data) override;
    bool on_line(std::string_view line);

    std::string line_;          ///< A control line split across reads.
    std::size_t skip_ = 0;      ///< Payload bytes (and its CRLF) still to skip.
    std::size_t delivered_ = 0; ///< MSGs completed in the current read.
};

} // namespace bench

#endif
