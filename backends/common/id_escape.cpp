#include "backends/common/id_escape.h"

namespace mf::mail {
namespace {

int hex_value(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1; // escape_id writes upper case only
}

bool id_needs_escape(unsigned char c) {
    return c < 0x21 || c > 0x7E || c == '%' || c == '/' || c == ':' || c == ',' || c == '!';
}

} // namespace

std::string escape_id(std::string_view id) {
    constexpr std::string_view digits = "0123456789ABCDEF";
    std::string out;
    for (char ch : id) {
        const auto c = static_cast<unsigned char>(ch);
        if (!id_needs_escape(c)) {
            out += ch;
            continue;
        }
        out += '%';
        out += digits[c >> 4];
        out += digits[c & 0x0F];
    }
    return out;
}

std::optional<std::string> unescape_id(std::string_view escaped) {
    std::string out;
    for (std::size_t i = 0; i < escaped.size(); ++i) {
        const auto c = static_cast<unsigned char>(escaped[i]);
        if (c != '%') {
            // Only what escape_id leaves alone may appear unescaped: one id,
            // one spelling.
            if (id_needs_escape(c)) return std::nullopt;
            out += escaped[i];
            continue;
        }
        if (escaped.size() - i < 3) return std::nullopt;
        const int hi = hex_value(escaped[i + 1]), lo = hex_value(escaped[i + 2]);
        if (hi < 0 || lo < 0) return std::nullopt;
        const auto decoded = static_cast<unsigned char>(hi * 16 + lo);
        if (!id_needs_escape(decoded)) return std::nullopt; // "%41" for "A"
        out += static_cast<char>(decoded);
        i += 2;
    }
    return out;
}

} // namespace mf::mail
