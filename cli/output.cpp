#include "cli/output.h"

#include <cstdio>
#include <iostream>

namespace mf::cli {

std::string printable(std::string_view text) {
    std::string out;
    out.reserve(text.size());
    for (unsigned char c : text) {
        if (c < 0x20 || c == 0x7f) {
            char buf[8];
            std::snprintf(buf, sizeof buf, "\\x%02X", c);
            out += buf;
        } else {
            out += static_cast<char>(c);
        }
    }
    return out;
}

net::TraceSink stderr_trace(std::string prefix) {
    return [prefix](net::TraceKind kind, std::string_view line) {
        const char* tag = kind == net::TraceKind::sent ? "C: " : kind == net::TraceKind::received ? "S: " : "* ";
        std::cerr << prefix << tag << printable(line) << '\n';
    };
}

std::string pad_to(std::string text, std::size_t width) {
    std::size_t chars = 0;
    for (unsigned char c : text) chars += (c & 0xC0) != 0x80;
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
