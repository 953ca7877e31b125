// SPDX-License-Identifier: BSL-1.0
#ifndef LIBNET_DETAIL_FRAME_READER_HPP
#define LIBNET_DETAIL_FRAME_READER_HPP

#include <libnet/codec.hpp>

#include <boost/asio/buffer.hpp>

#include <algorithm>
#include <cstring>
#include <memory>

namespace libnet::detail {

/// Receive buffer + incremental decoder for one connection. Frames returned by next()
/// view the buffer and stay valid until the following prepare().
///
/// The buffer is lean: nothing is allocated before the first read, reads start small and
/// double while they fill the space offered (up to `max_read`), and halve again after a run
/// of reads that used little of it. A buffer that grew for one large frame, or for reads
/// that are no longer that large, is given back once it is drained.
class frame_reader {
public:
    explicit frame_reader(std::uint32_t max_value, std::size_t max_read = 16 * 1024,
                          std::size_t min_read = 1024)
        : max_value_(max_value), min_read_(std::min(min_read, max_read)), max_read_(max_read),
          read_size_(min_read_) {}

    /// Space for the next read. Grows only to what a frame whose header has been checked
    /// against the limit needs, so a hostile length never causes an allocation.
    boost::asio::mutable_buffer prepare() {
        if (begin_ == end_) {
            begin_ = end_ = 0;
            if (cap_ > 2 * std::max(read_size_, needed_))
                release();
        } else if (begin_ > 0) {
            std::memmove(buf_.get(), buf_.get() + begin_, end_ - begin_);
            end_ -= begin_;
            begin_ = 0;
        }
        auto const want = std::max(end_ + read_size_, needed_);
        if (cap_ < want)
            grow(want);
        offered_ = cap_ - end_;
        return boost::asio::buffer(buf_.get() + end_, offered_);
    }

    void commit(std::size_t n) noexcept {
        end_ += n;
        if (n == offered_ && read_size_ < max_read_) {
            read_size_ = std::min(read_size_ * 2, max_read_);
            small_reads_ = 0;
        } else if (n <= read_size_ / 4 && read_size_ > min_read_ && ++small_reads_ >= 16) {
            read_size_ /= 2;
            small_reads_ = 0;
        }
    }

    /// The next complete frame, need_more, or an error (the connection is then unusable).
    decode_result next() noexcept {
        auto r = decode_frame(std::span<const std::uint8_t>(buf_.get() + begin_, end_ - begin_),
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
    /// Bytes held, buffered or not.
    std::size_t capacity() const noexcept { return cap_; }

    /// Frames may now declare up to `max_value` bytes (checked as their headers arrive).
    void set_max_value(std::uint32_t max_value) noexcept { max_value_ = max_value; }

    /// Drops everything buffered (input that will never be decoded).
    void discard() noexcept { begin_ = end_ = needed_ = 0; }

private:
    void grow(std::size_t want) {
        auto bigger = std::make_unique_for_overwrite<std::uint8_t[]>(want);
        if (end_ != 0)
            std::memcpy(bigger.get(), buf_.get(), end_);
        buf_ = std::move(bigger);
        cap_ = want;
    }
    void release() noexcept {
        buf_.reset();
        cap_ = 0;
    }

    std::unique_ptr<std::uint8_t[]> buf_;
    std::size_t cap_ = 0;
    std::size_t begin_ = 0;
    std::size_t end_ = 0;
    std::size_t needed_ = 0;
    std::size_t offered_ = 0;
    std::uint32_t max_value_;
    std::size_t min_read_;
    std::size_t max_read_;
    std::size_t read_size_;
    unsigned small_reads_ = 0;
};

} // namespace libnet::detail

#endif
