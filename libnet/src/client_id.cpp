// SPDX-License-Identifier: BSL-1.0
#include <libnet/client_id.hpp>

#include <cstdint>

namespace libnet {
namespace {

bool is_unicode_space_or_control(char32_t c) noexcept {
    if (c < 0x21 || (c >= 0x7F && c <= 0xA0))
        return true; // C0, space, DEL, C1, NBSP
    switch (c) {
    case 0x1680:
    case 0x2028:
    case 0x2029:
    case 0x202F:
    case 0x205F:
    case 0x3000:
    case 0xFEFF:
        return true;
    default:
        return c >= 0x2000 && c <= 0x200B;
    }
}

// Invisible in text, or reordering it: Unicode's Default_Ignorable_Code_Point (Unicode
// 15, DerivedCoreProperties.txt), which includes the bidirectional controls, and the
// Arabic letter mark. An id holding one could pass for another in a directory listing.
bool is_invisible_or_bidi(char32_t c) noexcept {
    struct range {
        char32_t first, last;
    };
    static constexpr range ranges[] = {
        {0x00AD, 0x00AD},   {0x034F, 0x034F}, {0x061C, 0x061C},   {0x115F, 0x1160},
        {0x17B4, 0x17B5},   {0x180B, 0x180F}, {0x200B, 0x200F},   {0x202A, 0x202E},
        {0x2060, 0x206F},   {0x3164, 0x3164}, {0xFE00, 0xFE0F},   {0xFEFF, 0xFEFF},
        {0xFFA0, 0xFFA0},   {0xFFF0, 0xFFF8}, {0x1BCA0, 0x1BCA3}, {0x1D173, 0x1D17A},
        {0xE0000, 0xE0FFF},
    };
    for (auto const& r : ranges)
        if (c >= r.first && c <= r.last)
            return true;
    return false;
}

// Decodes one UTF-8 sequence at s[i]; returns its length, or 0 if malformed.
std::size_t decode_utf8(std::string_view s, std::size_t i, char32_t& out) noexcept {
    auto const b0 = static_cast<unsigned char>(s[i]);
    std::size_t len = 0;
    char32_t min = 0;
    if (b0 < 0x80) {
        out = b0;
        return 1;
    } else if ((b0 & 0xE0) == 0xC0) {
        len = 2, out = b0 & 0x1F, min = 0x80;
    } else if ((b0 & 0xF0) == 0xE0) {
        len = 3, out = b0 & 0x0F, min = 0x800;
    } else if ((b0 & 0xF8) == 0xF0) {
        len = 4, out = b0 & 0x07, min = 0x10000;
    } else {
        return 0;
    }
    if (s.size() - i < len)
        return 0;
    for (std::size_t k = 1; k < len; ++k) {
        auto const b = static_cast<unsigned char>(s[i + k]);
        if ((b & 0xC0) != 0x80)
            return 0;
        out = (out << 6) | (b & 0x3F);
    }
    if (out < min || out > 0x10FFFF || (out >= 0xD800 && out <= 0xDFFF))
        return 0;
    return len;
}

} // namespace

bool is_valid_client_id(std::string_view id) noexcept {
    if (id.empty() || id.size() > max_client_id_size)
        return false;
    for (std::size_t i = 0; i < id.size();) {
        char32_t c = 0;
        auto const n = decode_utf8(id, i, c);
        if (n == 0 || is_unicode_space_or_control(c) || is_invisible_or_bidi(c))
            return false;
        i += n;
    }
    return true;
}

} // namespace libnet
