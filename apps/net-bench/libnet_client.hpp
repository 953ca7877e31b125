// SPDX-License-Identifier: BSL-1.0
#ifndef LIBNET_APPS_NET_BENCH_LIBNET_CLIENT_HPP
#define LIBNET_APPS_NET_BENCH_LIBNET_CLIENT_HPP

// A raw libnet wire client (docs/protocol.md §2, §5, §6): HELLO, then frames parsed
// straight out of the read buffer. Only the small frames it needs whole (WELCOME, ERROR,
// TERM, PING) are kept across reads; the others are counted from their header and their
// value skipped, wherever the reads split them. DIRECTORY's entries are counted as its
// bytes stream past, so a snapshot of thousands of ids costs no buffer.

#include "raw_client.hpp"

#include <cstdint>
#include <vector>

namespace bench {

/// Counts the `entry` fields of a DIRECTORY value fed in pieces.
struct entry_counter {
    std::int64_t entries = 0;
    std::uint32_t field_left = 0; ///< Value bytes of the current field still to pass.
    std::uint8_t header[6] = {};  ///< A field header split across pieces.
    std::size_t have = 0;

    void feed(std::span<const std::uint8_t> data);
    /// True when the value ended at a field boundary.
    bool complete() const noexcept { return field_left == 0 && have == 0; }
};

class libnet_client final : public raw_client {
public:
    struct options {
        bool no_directory = false; ///< HELLO.flags = hello_no_directory; ready on WELCOME.
        std::size_t expect = 0;    ///< Ready when the directory holds this many ids (0: WELCOME).
    };

    libnet_client(asio::io_context& ioc, client_events& events, std::size_t index, std::string id,
                  options opts);

private:
    void greet(std::vector<std::uint8_t>& out) override;
    void encode_message(std::string_view to, std::string_view body,
                        std::vector<std::uint8_t>& out) override;
    void goodbye(std::vector<std::uint8_t>& out) override;
    bool consume(std::span<const std::uint8_t> data) override;

    /// Handles one complete frame; `value` is empty for a skipped frame.
    bool on_frame(std::uint16_t type, std::span<const std::uint8_t> value);
    bool on_error_frame(std::uint16_t type, std::span<const std::uint8_t> value);
    void check_ready();
    /// Takes bytes of a frame split across reads; returns what it used.
    std::size_t continue_frame(std::span<const std::uint8_t> data, bool& ok);
    std::size_t complete_header(std::span<const std::uint8_t> data, bool& ok);
    std::size_t start_partial(std::span<const std::uint8_t> data, bool& ok);
    /// Passes over part of a skipped frame's value.
    void skip_value(std::span<const std::uint8_t> part);

    options opts_;
    std::vector<std::uint8_t> carry_; ///< A header, or a kept frame, split across reads.
    std::uint32_t skip_ = 0;          ///< Value bytes still to skip of a skipped frame.
    std::uint16_t skip_type_ = 0;
    std::size_t delivered_ = 0; ///< DELIVERs in the current read.
    std::int64_t entries_ = 0;  ///< This client's view of the directory: DIRECTORY + JOINED - LEFT.
    entry_counter directory_;
    bool welcomed_ = false;
    bool have_directory_ = false;
};

} // namespace bench

#endif
