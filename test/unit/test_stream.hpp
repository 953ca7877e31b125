// SPDX-License-Identifier: BSL-1.0
#ifndef LIBNET_TEST_UNIT_TEST_STREAM_HPP
#define LIBNET_TEST_UNIT_TEST_STREAM_HPP

// A scripted stream for testing basic_connection without sockets (as Beast's test::stream
// and Boost.MySQL's test_stream do): the test feeds the bytes the peer "sends", in chunks
// or one byte per read, ends them with an error (eof, a reset), limits how much one write
// takes (short writes), makes the N-th write fail, and reads back what was written.

#include <boost/asio/any_completion_handler.hpp>
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/bind_executor.hpp>
#include <boost/asio/buffer.hpp>
#include <boost/asio/error.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <deque>
#include <memory>
#include <string>
#include <variant>

namespace scripted {

namespace asio = boost::asio;
using error_code = boost::system::error_code;

/// What the test controls and observes, shared with the stream.
struct script {
    std::deque<std::variant<std::string, error_code>> input; // next chunks; an error ends reading
    std::size_t read_limit = SIZE_MAX;  // most bytes one read returns (1: byte by byte)
    std::size_t write_limit = SIZE_MAX; // most bytes one write takes (short writes)
    std::size_t fail_write = 0;         // this write (1-based) fails with broken_pipe; 0: none
    std::string written;
    std::size_t writes = 0, reads = 0;
    bool shut_down = false, closed = false;

    // A read waiting for input.
    asio::any_completion_handler<void(error_code, std::size_t)> parked;
    asio::mutable_buffer parked_buffer;
    asio::any_io_executor ex;

    /// The peer sends `bytes` (or ends with `ec`): a waiting read takes it.
    void push(std::variant<std::string, error_code> chunk) {
        input.push_back(std::move(chunk));
        if (parked)
            serve(parked_buffer, std::move(parked));
    }

    void serve(asio::mutable_buffer b,
               asio::any_completion_handler<void(error_code, std::size_t)> h) {
        ++reads;
        if (closed)
            return complete(std::move(h), asio::error::operation_aborted, 0);
        if (input.empty()) { // wait for push()
            parked.swap(h);  // not operator=: Asio 1.81's recurses without end
            parked_buffer = b;
            return;
        }
        if (auto* ec = std::get_if<error_code>(&input.front()))
            return complete(std::move(h), *ec, 0); // stays: every later read fails too
        auto& bytes = std::get<std::string>(input.front());
        auto const n = std::min({b.size(), read_limit, bytes.size()});
        std::memcpy(b.data(), bytes.data(), n);
        bytes.erase(0, n);
        if (bytes.empty())
            input.pop_front();
        complete(std::move(h), {}, n);
    }

    void complete(asio::any_completion_handler<void(error_code, std::size_t)> h, error_code ec,
                  std::size_t n) {
        auto hex = asio::get_associated_executor(h, ex);
        asio::post(ex, asio::bind_executor(std::move(hex), [h = std::move(h), ec, n]() mutable {
                       std::move(h)(ec, n);
                   }));
    }
};

class stream {
public:
    using executor_type = asio::any_io_executor;

    stream(executor_type ex, std::shared_ptr<script> s) : ex_(std::move(ex)), s_(std::move(s)) {
        s_->ex = ex_;
    }
    executor_type get_executor() const { return ex_; }
    script& state() { return *s_; }

    template <class MutableBuffers, class Token>
    auto async_read_some(const MutableBuffers& buffers, Token&& token) {
        auto first = *asio::buffer_sequence_begin(buffers);
        return asio::async_initiate<Token, void(error_code, std::size_t)>(
            [s = s_](auto h, asio::mutable_buffer b) {
                s->serve(b,
                         asio::any_completion_handler<void(error_code, std::size_t)>(std::move(h)));
            },
            token, asio::mutable_buffer(first));
    }

    template <class ConstBuffers, class Token>
    auto async_write_some(const ConstBuffers& buffers, Token&& token) {
        std::string bytes;
        for (auto it = asio::buffer_sequence_begin(buffers);
             it != asio::buffer_sequence_end(buffers); ++it) {
            asio::const_buffer b(*it);
            bytes.append(static_cast<const char*>(b.data()), b.size());
        }
        return asio::async_initiate<Token, void(error_code, std::size_t)>(
            [s = s_](auto h, std::string bytes) {
                ++s->writes;
                error_code ec;
                std::size_t n = 0;
                if (s->closed)
                    ec = asio::error::bad_descriptor;
                else if (s->writes == s->fail_write)
                    ec = asio::error::broken_pipe;
                else {
                    n = std::min(bytes.size(), s->write_limit);
                    s->written.append(bytes, 0, n);
                }
                s->complete(
                    asio::any_completion_handler<void(error_code, std::size_t)>(std::move(h)), ec,
                    n);
            },
            token, std::move(bytes));
    }

private:
    executor_type ex_;
    std::shared_ptr<script> s_;
};

// What basic_connection asks of a stream beyond reading and writing (found by ADL).
inline asio::ip::tcp::endpoint prepare_stream(stream&) {
    return {};
}
inline asio::awaitable<void> shutdown_send(stream& s) {
    s.state().shut_down = true;
    co_return;
}
inline void close_stream(stream& s) {
    auto& st = s.state();
    st.closed = true;
    if (st.parked)
        st.complete(std::move(st.parked), asio::error::operation_aborted, 0);
}
inline bool stream_open(const stream& s) {
    return !const_cast<stream&>(s).state().closed;
}
inline bool input_buffered(stream&) {
    return false;
}
inline std::uint64_t unacknowledged_bytes(stream&) {
    return 0;
}

} // namespace scripted

#endif
