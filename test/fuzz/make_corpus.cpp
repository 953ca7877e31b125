// SPDX-License-Identifier: BSL-1.0
// Writes the seed corpora: make_corpus <fuzz_decoder dir> [<fuzz_session dir>]
// fuzz_decoder's files start with its 4-byte prefix (see fuzz_decoder.cpp); fuzz_session's
// with its mode byte, then its records (see fuzz_session.cpp).
#include <libnet/codec.hpp>
#include <libnet/messages.hpp>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string_view>
#include <vector>

using namespace libnet;
using bytes = std::vector<std::uint8_t>;

namespace {

bytes prefix(std::uint16_t max_value = 1024, std::uint8_t max_chunk = 16,
             std::uint8_t read_size = 64) {
    return {static_cast<std::uint8_t>(max_value >> 8), static_cast<std::uint8_t>(max_value),
            static_cast<std::uint8_t>(max_chunk - 1), static_cast<std::uint8_t>(read_size - 1)};
}

bytes str(std::string_view s) {
    return {s.begin(), s.end()};
}

bytes header(std::uint16_t type, std::uint32_t len) {
    bytes out(frame_header_size);
    write_header(out.data(), type, len);
    return out;
}

bytes field(msg::tag t, const bytes& value) {
    auto out = header(static_cast<std::uint16_t>(t), static_cast<std::uint32_t>(value.size()));
    out.insert(out.end(), value.begin(), value.end());
    return out;
}

bytes raw_frame(frame_type t, const bytes& value) {
    bytes out;
    append_frame(out, static_cast<std::uint16_t>(t), value);
    return out;
}

template <class M>
bytes frame(const M& m) {
    bytes out;
    msg::encode(m, out);
    return out;
}

bytes cat(std::initializer_list<bytes> parts) {
    bytes out;
    for (auto const& p : parts)
        out.insert(out.end(), p.begin(), p.end());
    return out;
}

bool write(const std::filesystem::path& dir, const char* name, const bytes& b) {
    std::ofstream out(dir / name, std::ios::binary);
    out.write(reinterpret_cast<const char*>(b.data()), static_cast<std::streamsize>(b.size()));
    return static_cast<bool>(out);
}

// fuzz_session's script: a mode byte, then each (op, bytes) as records of at most 255.
bytes session(std::uint8_t mode, std::initializer_list<std::pair<std::uint8_t, bytes>> steps) {
    bytes out{mode};
    for (auto const& [op, b] : steps) {
        std::size_t at = 0;
        do {
            auto const n = std::min<std::size_t>(255, b.size() - at);
            out.push_back(op);
            out.push_back(static_cast<std::uint8_t>(n));
            out.insert(out.end(), b.begin() + static_cast<std::ptrdiff_t>(at),
                       b.begin() + static_cast<std::ptrdiff_t>(at + n));
            at += n;
        } while (at < b.size());
    }
    return out;
}

bool session_seeds(const std::filesystem::path& dir) {
    std::filesystem::create_directories(dir);
    constexpr std::uint8_t a = 0, b = 1, send_to_fz = 2, wait = 3;
    constexpr std::uint8_t server = 0, client = 1;
    auto const hello = frame(msg::hello{1, "fz", "", ""});
    auto const pull_hello = frame(msg::hello{1, "fz2", "", "", msg::hello_pull, 0});
    msg::directory d;
    d.entries = {{"a", 1, ""}, {"b", 2, "127.0.0.1:9"}};
    bool ok = true;
    ok &= write(dir, "server_session.bin",
                session(server, {{a, hello},
                                 {wait, bytes(5)},
                                 {a, frame(msg::send{"a", "hi", 1})},
                                 {send_to_fz, str("yo")},
                                 {wait, bytes(3)},
                                 {a, frame(msg::ack{1})},
                                 {a, frame(msg::get{10, 2})},
                                 {a, frame(msg::lookup{"a", 3})},
                                 {a, frame(msg::broadcast{"all", 4})},
                                 {a, frame(msg::ping{7})},
                                 {a, frame(msg::bye{})}}));
    ok &= write(dir, "server_two.bin",
                session(server, {{a, hello},
                                 {b, hello},
                                 {b, pull_hello},
                                 {send_to_fz, str("m1")},
                                 {b, frame(msg::get{5, 1})},
                                 {a, raw_frame(frame_type::ping, field(msg::tag::nonce, {1, 2}))},
                                 {a, frame(msg::intro_request{"a", 5})},
                                 {b, header(7, 0xFFFF)},
                                 {a, raw_frame(frame_type{0x8001}, str("app"))}}));
    ok &= write(dir, "client_session.bin",
                session(client, {{a, frame(msg::welcome{1, "c", 4096, 5000, 3, {}})},
                                 {a, frame(d)},
                                 {a, frame(msg::joined{{"x", 3, ""}})},
                                 {wait, bytes(2)},
                                 {a, frame(msg::deliver{"a", "hello", 1, 0})},
                                 {a, frame(msg::ping{9})},
                                 {b, frame(msg::left{"x", 3, msg::leave_reason::bye})},
                                 {b, frame(msg::term{msg::term_reason::shutdown, "", ""})}}));
    ok &= write(dir, "client_garbage.bin",
                session(client, {{a, frame(msg::welcome{1, "c", 4096, 5000, 3, {}})},
                                 {a, cat({header(7, 3), str("abc")})},
                                 {a, bytes(40, 0xff)}}));
    return ok;
}

} // namespace

int main(int argc, char** argv) {
    if (argc != 2 && argc != 3) {
        std::fprintf(stderr, "usage: make_corpus <fuzz_decoder dir> [<fuzz_session dir>]\n");
        return 2;
    }
    if (argc == 3 && !session_seeds(argv[2]))
        return 1;
    std::filesystem::path const dir = argv[1];
    std::filesystem::create_directories(dir);

    msg::directory dir_msg;
    dir_msg.entries = {{"alice", 1, "10.0.0.1:4000"}, {"bob", 2, ""}, {"carol", 7, "[::1]:9"}};
    auto const send = frame(msg::send{"bob", "hi", 9});
    auto const stream =
        cat({frame(msg::hello{1, "alice", "", ""}), send, frame(msg::deliver{"bob", "yo", 3, 0}),
             frame(msg::ping{1}), frame(msg::bye{})});
    // A pull-mode session with a durable mailbox: resume, fetch, acknowledge.
    auto const mailbox_stream =
        cat({frame(msg::hello{1, "bob", "", "", msg::hello_pull, 41}), frame(msg::get{100, 12}),
             frame(msg::deliver{"alice", "stored", 42, msg::flag_mailbox}),
             frame(msg::fetched{1, 0, 12}), frame(msg::ack{42})});
    auto bad_entry = field(msg::tag::client_id, str("ab"));
    bad_entry[5] = 50; // claims 50 bytes, has 2
    auto const good_entry =
        cat({field(msg::tag::client_id, str("c")), field(msg::tag::join_seq, bytes(8, 1))});

    struct seed {
        const char* name;
        bytes data;
    };
    std::vector<seed> const seeds{
        {"hello.bin", frame(msg::hello{1, "alice", "127.0.0.1:4000", "secret"})},
        {"welcome.bin", frame(msg::welcome{1, "alice", 4096, 5000, 3, "0123456789abcdef"})},
        {"directory.bin", frame(dir_msg)},
        {"joined.bin", frame(msg::joined{{"bob", 42, "1.2.3.4:5"}})},
        {"left.bin", frame(msg::left{"bob", 42, msg::leave_reason::lost})},
        {"send.bin", send},
        {"deliver.bin", frame(msg::deliver{"alice", "hello", 1ull << 40, msg::flag_broadcast})},
        {"broadcast.bin", frame(msg::broadcast{"all", 3})},
        {"error.bin",
         frame(msg::error{.code = 64, .text = "no such client", .ref = 5, .ref_type = 6})},
        {"term.bin", frame(msg::term{msg::term_reason::requested, "done", "alice"})},
        {"bye.bin", frame(msg::bye{})},
        {"ping.bin", frame(msg::ping{77})},
        {"pong.bin", frame(msg::pong{78})},
        {"app.bin", frame(msg::app{0x8001, "bob", "alice", "payload", 5, 6, 7, 8})},
        {"ack.bin", frame(msg::ack{99, msg::flag_link_sync})},
        {"intro_request.bin", frame(msg::intro_request{"bob", 4})},
        {"hello_no_directory.bin",
         frame(msg::hello{1, "quiet", "", "", msg::hello_no_directory, 0})},
        {"lookup.bin", frame(msg::lookup{"bob", 7})},
        {"presence.bin", frame(msg::presence{"bob", 2, "10.0.0.2:7001", 7})},
        {"presence_offline.bin", frame(msg::presence{"bob", 0, {}, 7})},
        {"lookup_without_id.bin", raw_frame(frame_type::lookup, field(msg::tag::ref, bytes(8, 1)))},
        {"introduction.bin",
         frame(msg::introduction{"bob", "127.0.0.1:4000", "token", "proof", 1234, 4})},
        {"peer_hello.bin", frame(msg::peer_hello{1, "alice", "token", 77})},
        {"peer_welcome.bin", frame(msg::peer_welcome{1, "bob", "proof"})},
        {"send_resent.bin", frame(msg::send{"bob", "x", 2, 77, 3, msg::flag_link_sync})},
        {"hello_mailbox.bin", frame(msg::hello{1, "bob", "", "s3cret", msg::hello_pull, 41})},
        {"welcome_mailbox.bin",
         frame(msg::welcome{
             1, "bob", 4096, 5000, 3, {}, msg::welcome_mailbox | msg::welcome_durable, 41, 7})},
        {"send_confirm.bin",
         frame(msg::send{
             .to = "bob", .body = "hi", .ref = 10, .flags = msg::flag_confirm, .ttl_ms = 60000})},
        {"broadcast_confirm.bin", frame(msg::broadcast{"all", 11, msg::flag_confirm, 5000})},
        {"deliver_mailbox.bin",
         frame(msg::deliver{"alice", "x", 43, msg::flag_mailbox | msg::flag_broadcast})},
        {"app_confirm.bin", frame(msg::app{.type = 0x8002,
                                           .to = "bob",
                                           .body = "p",
                                           .ref = 13,
                                           .flags = msg::flag_confirm,
                                           .ttl_ms = 1000})},
        {"app_mailbox.bin",
         frame(msg::app{
             .type = 0x8002, .from = "alice", .body = "p", .seq = 44, .flags = msg::flag_mailbox})},
        {"get.bin", frame(msg::get{100, 12})},
        {"fetched.bin", frame(msg::fetched{2, 5, 12})},
        {"stored.bin", frame(msg::stored{10, "bob", 1, msg::stored_durable})},
        {"stored_broadcast.bin", frame(msg::stored{11, "", 3, 0})},
        {"get_without_count.bin", raw_frame(frame_type::get, field(msg::tag::ref, bytes(8, 1)))},
        {"stored_bad_count.bin", raw_frame(frame_type::stored, field(msg::tag::count, {0, 1}))},
        {"mailbox_stream.bin", mailbox_stream},
        {"stream.bin", stream},
        {"truncated.bin", bytes(send.begin(), send.end() - 3)},
        {"truncated_header.bin", bytes(send.begin(), send.begin() + 4)},
        {"unknown_fields.bin",
         cat({raw_frame(frame_type::send, cat({field(msg::tag{0x7777}, {1, 2}), send})),
              raw_frame(frame_type{0x8001}, str("app"))})},
        {"bad_int_size.bin", raw_frame(frame_type::ping, field(msg::tag::nonce, {1, 2, 3}))},
        {"directory_bad_length.bin",
         raw_frame(frame_type::directory, field(msg::tag::entry, bad_entry))},
        {"directory_bad_then_good.bin",
         raw_frame(frame_type::directory,
                   cat({field(msg::tag::entry, bad_entry), field(msg::tag::entry, good_entry)}))},
        {"field_length_near_4g.bin",
         raw_frame(frame_type::send, cat({header(12, 0xFFFFFFFF), str("ab")}))},
    };
    bool ok = true;
    for (auto const& s : seeds)
        ok &= write(dir, s.name, cat({prefix(), s.data}));
    // These need their own prefix: byte-by-byte reads, a small limit, the largest limit.
    ok &= write(dir, "stream_bytewise.bin", cat({prefix(1024, 1, 1), stream}));
    ok &= write(dir, "oversize_header.bin",
                cat({prefix(64), frame(msg::ping{1}), header(7, 4096), str("body")}));
    ok &= write(dir, "length_near_4g.bin", cat({prefix(0xFFFF), header(6, 0xFFFFFFFA)}));
    return ok ? 0 : 1;
}
