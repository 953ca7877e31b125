#ifndef LIBNET_DETAIL_FRAME_READER_HPP
#define LIBNET_DETAIL_FRAME_READER_HPP

#include <libnet/codec.hpp>

#include <boost/asio/buffer.hpp>

#include <algorithm>
#include <cstring>
#include <vector>

namespace libnet::detail {

/// Receive buffer + incremental decoder for one connection. Frames returned by next()
/// view the buffer and stay valid until the following prepare().
class frame_reader {
public:
    explicit frame_reader(std::uint32_t max_value, std::size_t read_size = 16 * 1024)
        : max_value_(max_value), read_size_(read_size) {}

    /// Space for the next read. Grows only to what a frame whose header has been checked
    /// against the limit needs, so a hostile length never causes an allocation.
    boost::asio::mutable_buffer prepare() {
        if (begin_ > 0) {
            std::memmove(buf_.data(), buf_.data() + begin_, end_ - begin_);
            end_ -= begin_;
            begin_ = 0;
        }
        auto const want = std::max(end_ + read_size_, needed_);
        if (buf_.size() < want)
            buf_.resize(want);
        return boost::asio::buffer(buf_.data() + end_, buf_.size() - end_);
    }

    void commit(std::size_t n) noexcept { end_ += n; }

    /// The next complete frame, need_more, or an error (the connection is then unusable).
    decode_result next() noexcept {
        auto r = decode_frame(std::span<const std::uint8_t>(buf_.data() + begin_, end_ - begin_),
                              max_value_);
        if (r.status == decode_status::ok) {
            begin_ += r.consumed;
            needed_ = 0;
        } else if (r.status == decode_status::need_more) {
            needed_ = r.needed;
        }
        return r;
    }

    std::size_t buffered() const noexcept { return end_ - begin_; }

    /// Drops everything buffered (input that will never be decoded).
    void discard() noexcept { begin_ = end_ = needed_ = 0; }

private:
    std::vector<std::uint8_t> buf_;
    std::size_t begin_ = 0;
    std::size_t end_ = 0;
    std::size_t needed_ = 0;
    std::uint32_t max_value_;
    std::size_t read_size_;
};

} // namespace libnet::detail

#endif
