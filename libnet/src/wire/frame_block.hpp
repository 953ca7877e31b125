// SPDX-License-Identifier: BSL-1.0
#ifndef LIBNET_SRC_WIRE_FRAME_BLOCK_HPP
#define LIBNET_SRC_WIRE_FRAME_BLOCK_HPP

#include <libnet/detail/shared_frame.hpp>

#include <algorithm>
#include <bit>
#include <cstring>
#include <memory>
#include <span>

namespace libnet::detail {

/// Frames encoded one after another into one growing heap block, handed on as one
/// shared_frame: frames queued between two writes cost no allocation of their own. The
/// block grows by doubling up to max_size; after a seal the next one starts at the size the
/// last one needed, so a steady stream allocates about once per write, and a burst fills
/// blocks of max_size without copying them again.
class frame_block {
public:
    static constexpr std::size_t min_capacity = 512;
    static constexpr std::size_t max_size = 64 * 1024;

    /// A frame of `n` bytes would take the block past max_size: seal it first.
    bool full_for(std::size_t n) const noexcept { return size_ != 0 && max_size - size_ < n; }

    /// Room for one more frame of `n` bytes at the end; the caller writes all of it.
    std::span<std::uint8_t> append(std::size_t n) {
        if (capacity_ - size_ < n)
            grow(n);
        auto const at = size_;
        size_ += n;
        ++frames_;
        return {data_.get() + at, n};
    }

    bool empty() const noexcept { return size_ == 0; }
    std::size_t size() const noexcept { return size_; }

    /// The frames so far, as one shared_frame; the block starts over, empty.
    shared_frame seal() noexcept {
        shared_frame f{std::move(data_), size_, frames_};
        next_capacity_ = std::clamp(std::bit_ceil(size_), min_capacity, max_size);
        data_ = nullptr;
        size_ = capacity_ = 0;
        frames_ = 0;
        return f;
    }

    /// Forgets the frames (they will not be sent).
    void clear() noexcept {
        data_ = nullptr;
        size_ = capacity_ = 0;
        frames_ = 0;
    }

private:
    void grow(std::size_t n) {
        auto const capacity =
            std::max({next_capacity_, std::min(capacity_ * 2, max_size), size_ + n});
        auto bigger = std::make_shared_for_overwrite<std::uint8_t[]>(capacity);
        if (size_ != 0)
            std::memcpy(bigger.get(), data_.get(), size_);
        data_ = std::move(bigger);
        capacity_ = capacity;
    }

    std::shared_ptr<std::uint8_t[]> data_;
    std::size_t size_ = 0;
    std::size_t capacity_ = 0;
    std::uint32_t frames_ = 0;
    std::size_t next_capacity_ = min_capacity;
};

} // namespace libnet::detail

#endif
