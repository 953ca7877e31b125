// SPDX-License-Identifier: BSL-1.0
#ifndef LIBNET_DETAIL_SHARED_FRAME_HPP
#define LIBNET_DETAIL_SHARED_FRAME_HPP

#include <libnet/messages.hpp>

#include <boost/asio/buffer.hpp>

#include <memory>

namespace libnet::detail {

/// An encoded frame in one immutable heap block, shared by every queue it is written from
/// (a broadcast is encoded once for all recipients).
struct shared_frame {
    std::shared_ptr<const std::uint8_t[]> data;
    std::size_t size = 0;
    std::uint32_t frames = 1; ///< Frames in the block (a batch of directory deltas has many).

    boost::asio::const_buffer buffer() const noexcept { return {data.get(), size}; }
};

/// Encodes `m` with exactly one allocation.
template <class Message>
shared_frame make_frame(const Message& m) {
    auto const n = msg::encoded_size(m);
    auto p = std::make_shared_for_overwrite<std::uint8_t[]>(n);
    msg::encode_into(m, std::span<std::uint8_t>(p.get(), n));
    return {std::move(p), n, 1};
}

/// An ERROR frame about `ref_type`/`ref` with the category's message as text.
inline shared_frame make_error_frame(error code, std::uint16_t ref_type = 0, std::uint64_t ref = 0,
                                     std::string_view id = {}) {
    auto const text = make_error_code(code).message();
    return make_frame(msg::error{static_cast<std::uint16_t>(code), text, ref, ref_type, id});
}

} // namespace libnet::detail

#endif
