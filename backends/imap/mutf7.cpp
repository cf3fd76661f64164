#include "backends/imap/mutf7.h"

#include <cstdint>

namespace mf::imap {

namespace {

// RFC 3501 replaces "/" of base64 with "," so names can hold hierarchy "/".
constexpr char k_alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+,";
constexpr char32_t k_replacement = 0xFFFD;

bool is_direct(char32_t c) {
    return c >= 0x20 && c <= 0x7e;
}
bool is_high_surrogate(char32_t c) {
    return c >= 0xD800 && c <= 0xDBFF;
}
bool is_low_surrogate(char32_t c) {
    return c >= 0xDC00 && c <= 0xDFFF;
}

int base64_value(char c) {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == ',') return 63;
    return -1;
}

void append_utf8(std::string& out, char32_t c) {
    auto byte = [&out](std::uint32_t b) { out += static_cast<char>(b); };
    if (c < 0x80) {
        byte(c);
    } else if (c < 0x800) {
        byte(0xC0 | (c >> 6));
        byte(0x80 | (c & 0x3F));
    } else if (c < 0x10000) {
        byte(0xE0 | (c >> 12));
        byte(0x80 | ((c >> 6) & 0x3F));
        byte(0x80 | (c & 0x3F));
    } else {
        byte(0xF0 | (c >> 18));
        byte(0x80 | ((c >> 12) & 0x3F));
        byte(0x80 | ((c >> 6) & 0x3F));
        byte(0x80 | (c & 0x3F));
    }
}

// Decodes the code point at `pos` and moves past it; an invalid sequence
// yields U+FFFD and moves one byte on.
char32_t next_code_point(std::string_view utf8, std::size_t& pos) {
    const auto lead = static_cast<unsigned char>(utf8[pos++]);
    if (lead < 0x80) return lead;
    const std::size_t length = lead >= 0xF8   ? 0
                               : lead >= 0xF0 ? 4
                               : lead >= 0xE0 ? 3
                               : lead >= 0xC0 ? 2
                                              : 0;
    if (length == 0 || pos + length - 1 > utf8.size()) return k_replacement;
    char32_t c = lead & (0x7F >> length);
    for (std::size_t i = 0; i + 1 < length; ++i) {
        const auto next = static_cast<unsigned char>(utf8[pos + i]);
        if ((next & 0xC0) != 0x80) return k_replacement;
        c = (c << 6) | (next & 0x3F);
    }
    static constexpr char32_t k_smallest[] = {0, 0, 0x80, 0x800, 0x10000};
    if (c < k_smallest[length] || c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF)) {
        return k_replacement;
    }
    pos += length - 1;
    return c;
}

// Takes one UTF-16 unit of a base64 run; false when the run is invalid.
bool take_unit(char32_t unit, char32_t& high, std::string& out) {
    if (high != 0) {
        if (!is_low_surrogate(unit)) return false;
        append_utf8(out, 0x10000 + ((high - 0xD800) << 10) + (unit - 0xDC00));
        high = 0;
        return true;
    }
    if (is_low_surrogate(unit) || is_direct(unit)) return false;
    if (is_high_surrogate(unit)) {
        high = unit;
    } else {
        append_utf8(out, unit);
    }
    return true;
}

// The base64 between "&" and "-": big-endian UTF-16 in 6-bit digits.
bool decode_run(std::string_view run, std::string& out) {
    std::uint32_t bits = 0;
    int bit_count = 0;
    char32_t high = 0;
    for (char c : run) {
        const int value = base64_value(c);
        if (value < 0) return false;
        bits = (bits << 6) | static_cast<std::uint32_t>(value);
        bit_count += 6;
        if (bit_count >= 16) {
            bit_count -= 16;
            if (!take_unit((bits >> bit_count) & 0xFFFF, high, out)) return false;
            bits &= (1u << bit_count) - 1;
        }
    }
    // Padding bits must be fewer than one digit and zero, or the encoding
    // was not the canonical one and would not round-trip.
    return bit_count < 6 && bits == 0 && high == 0;
}

void append_unit(std::uint32_t unit, std::uint32_t& bits, int& bit_count, std::string& out) {
    bits = (bits << 16) | unit;
    bit_count += 16;
    while (bit_count >= 6) {
        bit_count -= 6;
        out += k_alphabet[(bits >> bit_count) & 0x3F];
    }
    bits &= (1u << bit_count) - 1;
}

void append_run(std::u32string_view run, std::string& out) {
    std::uint32_t bits = 0;
    int bit_count = 0;
    out += '&';
    for (char32_t c : run) {
        if (c >= 0x10000) {
            append_unit(0xD800 + ((c - 0x10000) >> 10), bits, bit_count, out);
            append_unit(0xDC00 + ((c - 0x10000) & 0x3FF), bits, bit_count, out);
        } else {
            append_unit(c, bits, bit_count, out);
        }
    }
    if (bit_count > 0) out += k_alphabet[(bits << (6 - bit_count)) & 0x3F];
    out += '-';
}

} // namespace

std::optional<std::string> decode_mutf7(std::string_view mutf7) {
    std::string out;
    bool after_run = false; // "-&" straight after a run is a null shift
    std::size_t pos = 0;
    while (pos < mutf7.size()) {
        const char c = mutf7[pos];
        if (!is_direct(static_cast<unsigned char>(c))) return std::nullopt;
        if (c != '&') {
            out += c;
            after_run = false;
            ++pos;
            continue;
        }
        const std::size_t end = mutf7.find('-', pos + 1);
        if (end == std::string_view::npos) return std::nullopt;
        if (end == pos + 1) {
            out += '&';
            after_run = false;
        } else {
            if (after_run || !decode_run(mutf7.substr(pos + 1, end - pos - 1), out)) {
                return std::nullopt;
            }
            after_run = true;
        }
        pos = end + 1;
    }
    return out;
}

std::string encode_mutf7(std::string_view utf8) {
    std::string out;
    std::u32string run; // characters waiting to be written as one base64 run
    std::size_t pos = 0;
    while (pos < utf8.size()) {
        const char32_t c = next_code_point(utf8, pos);
        if (!is_direct(c)) {
            run += c;
            continue;
        }
        if (!run.empty()) append_run(run, out);
        run.clear();
        if (c == '&') {
            out += "&-";
        } else {
            out += static_cast<char>(c);
        }
    }
    if (!run.empty()) append_run(run, out);
    return out;
}

bool valid_utf8(std::string_view text) {
    for (std::size_t pos = 0; pos < text.size();) {
        const std::size_t start = pos;
        // A real U+FFFD takes three bytes; a one-byte step is a bad sequence.
        if (next_code_point(text, pos) == k_replacement && pos == start + 1) return false;
    }
    return true;
}

} // namespace mf::imap
