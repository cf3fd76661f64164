#include "backends/archive/folder_path.h"

#include "sync/fnv.h"

#include <cstdint>

namespace mf::archive {
namespace {

constexpr std::string_view k_empty_spelling = "%";
constexpr std::string_view k_hash_marker = "%~";
constexpr std::size_t k_hash_digits = 16;

bool is_continuation(unsigned char c) {
    return (c & 0xC0) == 0x80;
}

// Length of the valid UTF-8 sequence (RFC 3629: no overlongs, no surrogates,
// nothing above U+10FFFF) starting at s[i], or 0 if there is none.
std::size_t utf8_length(std::string_view s, std::size_t i) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) return 1;
    std::size_t n = 0;
    unsigned char lo = 0x80, hi = 0xBF; // allowed range of the second byte
    if (c >= 0xC2 && c <= 0xDF) {
        n = 2;
    } else if (c >= 0xE0 && c <= 0xEF) {
        n = 3;
        if (c == 0xE0) lo = 0xA0;
        if (c == 0xED) hi = 0x9F;
    } else if (c >= 0xF0 && c <= 0xF4) {
        n = 4;
        if (c == 0xF0) lo = 0x90;
        if (c == 0xF4) hi = 0x8F;
    } else {
        return 0;
    }
    if (s.size() - i < n) return 0;
    const auto second = static_cast<unsigned char>(s[i + 1]);
    if (second < lo || second > hi) return 0;
    for (std::size_t k = 2; k < n; ++k)
        if (!is_continuation(static_cast<unsigned char>(s[i + k]))) return 0;
    return n;
}

bool is_maildir_subdir(std::string_view name) {
    if (name.size() != 3) return false;
    std::string lower;
    for (char c : name)
        lower += (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
    return lower == "cur" || lower == "new" || lower == "tmp";
}

bool needs_escape(unsigned char c) {
    return c < 0x20 || c == 0x7F || c == '%' || c == '/' || c == '\\';
}

void append_escaped_byte(std::string& out, unsigned char c) {
    constexpr std::string_view digits = "0123456789ABCDEF";
    out += '%';
    out += digits[c >> 4];
    out += digits[c & 0x0F];
}

// Escapes `name` unit by unit (a byte, an escape or a whole UTF-8 character)
// and stops before the unit that would take the output past `limit`, so a cut
// never splits a character or an escape.
std::string escape(std::string_view name, std::size_t limit) {
    std::string out;
    const bool subdir = is_maildir_subdir(name);
    std::size_t i = 0;
    while (i < name.size()) {
        const auto c = static_cast<unsigned char>(name[i]);
        const bool forced = i == 0 && (c == '.' || subdir);
        const std::size_t len = utf8_length(name, i);
        std::string unit;
        if (forced || len == 0 || needs_escape(c)) {
            append_escaped_byte(unit, c);
            i += 1;
        } else {
            unit.assign(name.substr(i, len));
            i += len;
        }
        if (out.size() + unit.size() > limit) break;
        out += unit;
    }
    return out;
}

std::string hex16(std::uint64_t v) {
    constexpr std::string_view digits = "0123456789abcdef";
    std::string out(k_hash_digits, '0');
    for (std::size_t k = k_hash_digits; k-- > 0; v >>= 4)
        out[k] = digits[v & 0x0F];
    return out;
}

int hex_value(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
}

} // namespace

std::string safe_component(std::string_view name) {
    if (name.empty()) return std::string(k_empty_spelling);
    std::string out = escape(name, std::string::npos);
    if (out.size() <= k_max_component) return out;
    const std::size_t room = k_max_component - k_hash_marker.size() - k_hash_digits;
    out = escape(name, room);
    out += k_hash_marker;
    out += hex16(fnv1a64(name));
    return out;
}

namespace {

// Either spelling of a component, never shortened.
std::string full_component(std::string_view name) {
    return name.empty() ? std::string(k_empty_spelling) : escape(name, std::string::npos);
}

// `limit`: the longest spelling accepted (k_max_component for a directory).
std::optional<std::string> unescape(std::string_view escaped, std::size_t limit) {
    if (escaped == k_empty_spelling) return std::string();
    if (escaped.empty() || escaped.size() > limit) return std::nullopt;
    std::string out;
    for (std::size_t i = 0; i < escaped.size(); ++i) {
        if (escaped[i] != '%') {
            out += escaped[i];
            continue;
        }
        if (escaped.size() - i < 3) return std::nullopt;
        const int hi = hex_value(escaped[i + 1]), lo = hex_value(escaped[i + 2]);
        if (hi < 0 || lo < 0) return std::nullopt;
        out += static_cast<char>(hi * 16 + lo);
        i += 2;
    }
    // Only the canonical spelling is accepted: otherwise "%2e" and "%2E", or
    // "a" and "%61", would be two directories for one folder.
    if (full_component(out) != escaped) return std::nullopt;
    return out;
}

template <typename Each> void each_component(std::string_view rel, Each each) {
    std::size_t start = 0;
    for (;;) {
        auto at = rel.find('/', start);
        each(rel.substr(start, at - start));
        if (at == std::string_view::npos) return;
        start = at + 1;
    }
}

// The components, each spelled by `spell`, joined with '/'.
std::string join(const std::vector<std::string>& components,
                 std::string (*spell)(std::string_view)) {
    std::string out;
    for (const auto& component : components) {
        if (!out.empty()) out += '/';
        out += spell(component);
    }
    return out;
}

} // namespace

std::optional<std::string> unescape_component(std::string_view escaped) {
    return unescape(escaped, k_max_component);
}

std::string full_folder_path(const std::vector<std::string>& components) {
    return join(components, full_component);
}

std::optional<std::vector<std::string>> parse_full_folder_path(std::string_view full) {
    std::vector<std::string> out;
    bool ok = !full.empty();
    each_component(full, [&](std::string_view part) {
        auto name = unescape(part, std::string::npos);
        ok = ok && name;
        if (name) out.push_back(std::move(*name));
    });
    if (!ok) return std::nullopt;
    return out;
}

std::vector<std::string> folder_name_of(std::string_view rel, bool* lost) {
    std::vector<std::string> out;
    each_component(rel, [&](std::string_view part) {
        auto name = unescape_component(part);
        if (!name && lost) *lost = true;
        out.push_back(name ? std::move(*name) : std::string(part));
    });
    return out;
}

std::string relative_folder_path(const std::vector<std::string>& components) {
    return join(components, safe_component);
}

} // namespace mf::archive
