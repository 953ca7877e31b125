// SPDX-License-Identifier: BSL-1.0
#ifndef LIBNET_CODEC_HPP
#define LIBNET_CODEC_HPP

#include <libnet/error.hpp>
#include <libnet/frame.hpp>

#include <boost/endian/conversion.hpp>

#include <cstring>
#include <span>
#include <string_view>
#include <system_error>
#include <vector>

namespace libnet {

/// Outcome of decode_frame: `ok`, a whole frame was decoded; `need_more`, the input ends
/// inside a frame; `error`, the input can't be a valid frame (decode_result::ec says why).
enum class decode_status { ok, need_more, error };

/// What decode_frame found.
struct decode_result {
    decode_status status = decode_status::need_more; ///< Which of the members below apply.
    frame_view frame;         ///< Valid when status == ok; views the input buffer.
    std::size_t consumed = 0; ///< Bytes of the input the frame occupies (header + value).
    std::size_t needed = 0;   ///< With need_more: total bytes the next frame needs, if known.
    error_code ec;            ///< With error.
};

/// Decodes the first frame in `in`, without I/O or allocation. A length over `max_value`
/// is reported as error::frame_too_large as soon as the header is complete, before the
/// value has arrived. `need_more` means `in` holds a partial frame; call again with more.
inline decode_result decode_frame(std::span<const std::uint8_t> in,
                                  std::uint32_t max_value = default_max_frame_size) noexcept {
    decode_result r;
    if (in.size() < frame_header_size) {
        r.needed = frame_header_size;
        return r;
    }
    auto const type = boost::endian::load_big_u16(in.data());
    auto const len = boost::endian::load_big_u32(in.data() + 2);
    if (len > max_value) {
        r.status = decode_status::error;
        r.ec = error::frame_too_large;
        return r;
    }
    // Overflow-safe: compare against what is left after the header, never header + len.
    if (in.size() - frame_header_size < len) {
        r.needed = frame_header_size + std::size_t{len};
        return r;
    }
    r.status = decode_status::ok;
    r.frame = {type, in.subspan(frame_header_size, len)};
    r.consumed = frame_header_size + len;
    return r;
}

/// Writes a frame or field header at `out` (6 bytes).
inline void write_header(std::uint8_t* out, std::uint16_t type, std::uint32_t len) noexcept {
    boost::endian::store_big_u16(out, type);
    boost::endian::store_big_u32(out + 2, len);
}

/// Appends a whole frame (header + value) to `out`.
inline void append_frame(std::vector<std::uint8_t>& out, std::uint16_t type,
                         std::span<const std::uint8_t> value) {
    auto const at = out.size();
    out.resize(at + frame_header_size + value.size());
    write_header(out.data() + at, type, static_cast<std::uint32_t>(value.size()));
    if (!value.empty())
        std::memcpy(out.data() + at + frame_header_size, value.data(), value.size());
}

/// A field inside a message body.
struct field_view {
    std::uint16_t tag = 0;               ///< The field's tag (a msg::tag value for core messages).
    std::span<const std::uint8_t> value; ///< The field's value, without its header.

    /// The value as text (no check that it is UTF-8); it views the same bytes.
    std::string_view str() const noexcept {
        return {reinterpret_cast<const char*>(value.data()), value.size()};
    }
};

/// Iterates the fields of a message body (or of a nested field). Never reads out of
/// bounds: a field whose header or length does not fit is reported once via error().
class field_reader {
public:
    /// Reads the fields of `body`, which must outlive the reader and the field_views it
    /// hands out.
    explicit field_reader(std::span<const std::uint8_t> body) noexcept : rest_(body) {}

    /// Reads the next field into `f`. Returns false at the end or on a malformed field.
    bool next(field_view& f) noexcept {
        if (rest_.empty())
            return false;
        if (rest_.size() < field_header_size) {
            ec_ = error::malformed_field;
            rest_ = {};
            return false;
        }
        auto const tag = boost::endian::load_big_u16(rest_.data());
        auto const len = boost::endian::load_big_u32(rest_.data() + 2);
        if (rest_.size() - field_header_size < len) {
            ec_ = error::malformed_field;
            rest_ = {};
            return false;
        }
        f = {tag, rest_.subspan(field_header_size, len)};
        rest_ = rest_.subspan(field_header_size + std::size_t{len});
        return true;
    }

    /// error::malformed_field once next() stopped at a malformed field; empty otherwise.
    error_code error() const noexcept { return ec_; }

private:
    std::span<const std::uint8_t> rest_;
    error_code ec_;
};

/// Reads a fixed-size big-endian integer field; false when the size is wrong.
template <class UInt>
bool read_uint(const field_view& f, UInt& out) noexcept {
    if (f.value.size() != sizeof(UInt))
        return false;
    out = boost::endian::endian_load<UInt, sizeof(UInt), boost::endian::order::big>(f.value.data());
    return true;
}

} // namespace libnet

#endif
