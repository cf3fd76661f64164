#include "backends/export/names.h"

#include "sync/fnv.h"

#include <cstdio>
#include <ctime>

namespace mf::exporting {

namespace {

bool is_ascii_word(unsigned char c) {
    return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
}

// Length of the valid UTF-8 sequence at the start of `s` (2 to 4 bytes) and
// its code point; 0 if it is not one (ASCII included).
std::size_t utf8_sequence(std::string_view s, std::uint32_t& cp) {
    auto b = [&](std::size_t i) { return static_cast<unsigned char>(s[i]); };
    std::size_t n = b(0) >= 0xF0 ? 4 : b(0) >= 0xE0 ? 3 : b(0) >= 0xC2 ? 2 : 0;
    if (n == 0 || b(0) > 0xF4 || s.size() < n) return 0;
    cp = b(0) & (0x7F >> n);
    for (std::size_t i = 1; i < n; ++i) {
        if ((b(i) & 0xC0) != 0x80) return 0;
        cp = (cp << 6) | (b(i) & 0x3F);
    }
    bool overlong = (n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000);
    if (overlong || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
    return n;
}

// Letters and such beyond ASCII; not the spaces and format characters
// (U+2000-U+206F: bidi overrides, zero-width joiners), the no-break space,
// or the specials (U+FFF0 on) and byte order mark.
bool is_word_code_point(std::uint32_t cp) {
    return cp >= 0xC0 && !(cp >= 0x2000 && cp <= 0x206F) && cp != 0xFEFF && cp < 0xFFF0;
}

// `s` cut to at most `max` bytes, at a UTF-8 sequence boundary.
std::string cut_utf8(std::string s, std::size_t max) {
    if (s.size() <= max) return s;
    std::size_t end = max;
    while (end > 0 && (static_cast<unsigned char>(s[end]) & 0xC0) == 0x80)
        --end;
    s.resize(end);
    return s;
}

} // namespace

std::string folder_component(std::string_view name) {
    std::string out;
    if (name.empty() || name.front() == '.') out += '_';
    for (char c : name) {
        auto u = static_cast<unsigned char>(c);
        out += (c == '/' || u < 0x20 || u == 0x7F) ? '_' : c;
    }
    return cut_utf8(std::move(out), k_max_component);
}

std::string subject_words(std::string_view subject) {
    std::string out;
    bool gap = false;
    while (!subject.empty()) {
        std::uint32_t cp = 0;
        std::size_t n =
            is_ascii_word(static_cast<unsigned char>(subject[0])) ? 1 : utf8_sequence(subject, cp);
        bool word = n == 1 || (n > 1 && is_word_code_point(cp));
        if (word) {
            std::size_t dash = gap && !out.empty() ? 1 : 0;
            if (out.size() + dash + n > k_max_subject) break;
            if (dash) out += '-';
            out.append(subject.substr(0, n));
            gap = false;
        } else {
            gap = true;
        }
        subject.remove_prefix(n == 0 ? 1 : n);
    }
    return out;
}

std::string date_stamp(std::int64_t epoch) {
    if (epoch == 0) return "undated";
    std::time_t t = static_cast<std::time_t>(epoch);
    std::tm tm{};
    if (!::gmtime_r(&t, &tm)) return "undated";
    char buf[32];
    std::strftime(buf, sizeof buf, "%Y-%m-%d_%H%M", &tm);
    return buf;
}

std::string eml_name(std::int64_t epoch, std::string_view subject, std::string_view id) {
    char hash[16];
    std::snprintf(hash, sizeof hash, "%010llx",
                  static_cast<unsigned long long>(fnv1a64(id) & 0xFFFFFFFFFFull));
    std::string words = subject_words(subject);
    std::string name = date_stamp(epoch) + '_';
    if (!words.empty()) name += words + '_';
    return name + hash + ".eml";
}

std::string numbered(std::string_view name, std::size_t n) {
    std::size_t dot = name.rfind('.');
    if (dot == std::string_view::npos || dot == 0) dot = name.size();
    return std::string(name.substr(0, dot)) + '~' + std::to_string(n) +
           std::string(name.substr(dot));
}

} // namespace mf::exporting
