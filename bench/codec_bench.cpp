// SPDX-License-Identifier: BSL-1.0
// Microbenchmarks of the frame codec on DELIVER, the message on the routing hot path.
// Bytes count whole frames (header and field headers included); items count frames.
#include <libnet/codec.hpp>
#include <libnet/detail/frame_reader.hpp>
#include <libnet/messages.hpp>

#include <benchmark/benchmark.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

using namespace libnet;
using bytes = std::vector<std::uint8_t>;

namespace {

void report(benchmark::State& state, std::size_t frame_size, std::int64_t frames_per_iter = 1) {
    auto const frames = state.iterations() * frames_per_iter;
    state.SetItemsProcessed(frames);
    state.SetBytesProcessed(frames * static_cast<std::int64_t>(frame_size));
}

void encode_vector(benchmark::State& state) {
    std::string const body(state.range(0), 'x');
    msg::deliver m{"alice", body, 0, 0};
    bytes out;
    for (auto _ : state) {
        out.clear();
        ++m.seq;
        msg::encode(m, out);
        benchmark::DoNotOptimize(out.data());
        benchmark::ClobberMemory();
    }
    report(state, out.size());
}

void encode_into_buffer(benchmark::State& state) {
    std::string const body(state.range(0), 'x');
    msg::deliver m{"alice", body, 0, 0};
    bytes buf(msg::encoded_size(m));
    for (auto _ : state) {
        ++m.seq;
        benchmark::DoNotOptimize(msg::encode_into(m, buf));
        benchmark::ClobberMemory();
    }
    report(state, buf.size());
}

void decode_deliver(benchmark::State& state) {
    std::string const body(state.range(0), 'x');
    bytes frame;
    msg::encode(msg::deliver{"alice", body, 42, 0}, frame);
    for (auto _ : state) {
        auto const r = decode_frame(frame);
        msg::deliver d;
        auto const ec = msg::decode(r.frame, d);
        if (r.status != decode_status::ok || ec || d.body.size() != body.size())
            state.SkipWithError("DELIVER did not decode");
        benchmark::DoNotOptimize(d);
    }
    report(state, frame.size());
}

// A connection's steady state: socket-sized reads copied into a reused frame_reader.
void frame_reader_stream(benchmark::State& state) {
    constexpr std::int64_t frames = 256;
    std::string const body(state.range(0), 'x');
    bytes stream;
    for (std::int64_t i = 0; i < frames; ++i)
        msg::encode(msg::deliver{"alice", body, static_cast<std::uint64_t>(i), 0}, stream);
    detail::frame_reader reader(default_max_frame_size);
    for (auto _ : state) {
        std::int64_t seen = 0;
        for (std::size_t at = 0; at < stream.size();) {
            auto const buf = reader.prepare();
            auto const n = std::min(buf.size(), stream.size() - at);
            std::memcpy(buf.data(), stream.data() + at, n);
            reader.commit(n);
            at += n;
            for (auto r = reader.next(); r.status == decode_status::ok; r = reader.next()) {
                benchmark::DoNotOptimize(r.frame.value.data());
                ++seen;
            }
        }
        if (seen != frames)
            state.SkipWithError("frame_reader lost frames");
    }
    report(state, stream.size() / frames, frames);
}

} // namespace

BENCHMARK(encode_vector)->ArgName("body")->Arg(64)->Arg(4096);
BENCHMARK(encode_into_buffer)->ArgName("body")->Arg(64)->Arg(4096);
BENCHMARK(decode_deliver)->ArgName("body")->Arg(64)->Arg(4096);
BENCHMARK(frame_reader_stream)->ArgName("body")->Arg(64)->Arg(4096);

BENCHMARK_MAIN();
