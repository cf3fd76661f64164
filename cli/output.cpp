#include "cli/output.h"

#include <algorithm>
#include <cstdio>
#include <iostream>

namespace mf::cli {

namespace {

void escape(std::string& out, unsigned char c) {
    char buf[8];
    std::snprintf(buf, sizeof buf, "\\x%02X", c);
    out += buf;
}

// Length of the valid UTF-8 sequence at `i`, or 0 if there is none.
std::size_t utf8_length(std::string_view s, std::size_t i) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    std::size_t n = c >= 0xF0 && c <= 0xF4 ? 4 : c >= 0xE0 ? 3 : c >= 0xC2 && c <= 0xDF ? 2 : 0;
    if (n == 0 || i + n > s.size()) return 0;
    for (std::size_t k = 1; k < n; ++k)
        if ((static_cast<unsigned char>(s[i + k]) & 0xC0) != 0x80) return 0;
    return n;
}

} // namespace

// C0 controls, DEL, and C1 controls (raw bytes 0x80-0x9F, or encoded as
// C2 80-9F: a terminal may take 0x9B as CSI) are escaped; other valid UTF-8
// passes; invalid bytes are escaped.
std::string printable(std::string_view text) {
    std::string out;
    out.reserve(text.size());
    for (std::size_t i = 0; i < text.size();) {
        unsigned char c = static_cast<unsigned char>(text[i]);
        if (c < 0x80) {
            if (c < 0x20 || c == 0x7f)
                escape(out, c);
            else
                out += static_cast<char>(c);
            ++i;
            continue;
        }
        std::size_t n = utf8_length(text, i);
        bool c1 = n == 2 && c == 0xC2 && static_cast<unsigned char>(text[i + 1]) < 0xA0;
        if (n == 0 || c1) {
            for (std::size_t k = 0; k < std::max<std::size_t>(n, 1); ++k)
                escape(out, static_cast<unsigned char>(text[i + k]));
            i += std::max<std::size_t>(n, 1);
            continue;
        }
        out.append(text.substr(i, n));
        i += n;
    }
    return out;
}

net::TraceSink stderr_trace(std::string prefix) {
    return [prefix](net::TraceKind kind, std::string_view line) {
        const char* tag = kind == net::TraceKind::sent       ? "C: "
                          : kind == net::TraceKind::received ? "S: "
                                                             : "* ";
        // One write a line: several connections trace at once, and pieces
        // written one by one would interleave mid-line.
        std::cerr << (prefix + tag + printable(line) + '\n');
    };
}

std::string pad_to(std::string text, std::size_t width) {
    std::size_t chars = 0;
    for (unsigned char c : text)
        chars += (c & 0xC0) != 0x80;
    if (chars < width) text.append(width - chars, ' ');
    return text;
}

std::string human_bytes(std::uint64_t bytes) {
    const char* units[] = {"B", "KB", "MB", "GB", "TB"};
    double v = static_cast<double>(bytes);
    int u = 0;
    while (v >= 1000 && u < 4) {
        v /= 1000;
        ++u;
    }
    char buf[32];
    std::snprintf(buf, sizeof buf, u == 0 ? "%.0f %s" : "%.1f %s", v, units[u]);
    return buf;
}

} // namespace mf::cli
