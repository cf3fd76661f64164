#include "backends/maildir/names.h"

#include <algorithm>
#include <charconv>

namespace mf::maildir {
namespace {

constexpr std::string_view k_host = "mailferry";

struct InfoSplit {
    std::string_view unique;
    char separator = ':';
    std::string_view flags;
};

bool is_letter(char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
}

bool all_letters(std::string_view s) {
    return std::all_of(s.begin(), s.end(), is_letter);
}

// Splits off the info. ':' is the Maildir separator and is never part of a
// unique part we write (escape_id escapes it); "!2," is only taken as a
// separator when letters follow, since a foreign unique part may contain '!'.
InfoSplit split_info(std::string_view name) {
    if (const auto colon = name.rfind(':'); colon != std::string_view::npos) {
        const auto info = name.substr(colon + 1);
        // Other info versions (":1,…" is "experimental") carry no flags we know.
        const auto flags = info.starts_with("2,") ? info.substr(2) : std::string_view();
        return {name.substr(0, colon), ':', flags};
    }
    if (const auto bang = name.rfind("!2,"); bang != std::string_view::npos) {
        const auto flags = name.substr(bang + 3);
        if (all_letters(flags)) return {name.substr(0, bang), '!', flags};
    }
    return {name, ':', {}};
}

std::optional<std::uint64_t> parse_uint(std::string_view s) {
    std::uint64_t value = 0;
    if (s.empty()) return std::nullopt;
    const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), value);
    if (ec != std::errc() || end != s.data() + s.size()) return std::nullopt;
    return value;
}

int hex_value(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1; // escape_id writes upper case only
}

bool id_needs_escape(unsigned char c) {
    return c < 0x21 || c > 0x7E || c == '%' || c == '/' || c == ':' || c == ',' || c == '!';
}

// IMAP atom characters (RFC 3501 ATOM-CHAR); a keyword is an atom, and only
// an atom can be written as "n keyword" and given back to a server.
bool is_valid_keyword(std::string_view keyword) {
    if (keyword.empty()) return false;
    constexpr std::string_view specials = "(){%*\"\\]";
    return std::all_of(keyword.begin(), keyword.end(), [&](char ch) {
        const auto c = static_cast<unsigned char>(ch);
        return c > 0x20 && c < 0x7F && specials.find(ch) == std::string_view::npos;
    });
}

std::string sorted_letters(std::string_view letters) {
    std::string out;
    for (char c : letters)
        if (is_letter(c)) out += c;
    std::sort(out.begin(), out.end());
    out.erase(std::unique(out.begin(), out.end()), out.end());
    return out;
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

std::string make_unique_part(std::int64_t seconds, std::int64_t micros, int pid,
                             std::uint64_t counter, std::string_view id, std::uint64_t crlf_size) {
    std::string out = std::to_string(seconds);
    out += ".M" + std::to_string(micros);
    out += "P" + std::to_string(pid);
    out += "Q" + std::to_string(counter);
    out += '.';
    out += k_host;
    out += ",U=" + escape_id(id);
    out += ",W=" + std::to_string(crlf_size);
    return out;
}

std::optional<MaildirName> parse_name(std::string_view file_name) {
    if (file_name.empty() || file_name.front() == '.') return std::nullopt;
    if (file_name.find_first_of(std::string_view("/\0", 2)) != std::string_view::npos)
        return std::nullopt;
    const InfoSplit split = split_info(file_name);
    if (split.unique.empty()) return std::nullopt;

    MaildirName name;
    name.unique = std::string(split.unique);
    name.info_flags = std::string(split.flags);
    // The fields after the first ',' are "X=value"; the first of each wins.
    std::string_view rest = split.unique;
    bool seen_id = false, seen_size = false;
    for (auto comma = rest.find(','); comma != std::string_view::npos; comma = rest.find(',')) {
        rest.remove_prefix(comma + 1);
        const auto field = rest.substr(0, rest.find(','));
        if (field.starts_with("U=") && !seen_id) {
            seen_id = true;
            name.id = unescape_id(field.substr(2));
        } else if (field.starts_with("W=") && !seen_size) {
            seen_size = true;
            name.crlf_size = parse_uint(field.substr(2));
        }
    }
    return name;
}

void KeywordTable::parse(std::string_view contents) {
    m_keywords = {};
    m_modified = false;
    while (!contents.empty()) {
        const auto eol = contents.find('\n');
        std::string_view line = contents.substr(0, eol);
        contents.remove_prefix(eol == std::string_view::npos ? contents.size() : eol + 1);
        if (line.ends_with('\r')) line.remove_suffix(1);
        const auto space = line.find(' ');
        if (space == std::string_view::npos) continue;
        const auto index = parse_uint(line.substr(0, space));
        const auto keyword = line.substr(space + 1);
        if (!index || *index >= k_max_keywords || !is_valid_keyword(keyword)) continue;
        if (!m_keywords[*index].empty()) continue;
        if (std::find(m_keywords.begin(), m_keywords.end(), keyword) != m_keywords.end()) continue;
        m_keywords[*index] = std::string(keyword);
    }
}

std::string KeywordTable::serialize() const {
    std::string out;
    for (std::size_t i = 0; i < k_max_keywords; ++i)
        if (!m_keywords[i].empty()) out += std::to_string(i) + ' ' + m_keywords[i] + '\n';
    return out;
}

std::optional<char> KeywordTable::letter_for(const std::string& keyword, bool allocate) {
    if (!is_valid_keyword(keyword)) return std::nullopt;
    const auto letter = [](std::size_t i) { return static_cast<char>('a' + i); };
    const auto found = std::find(m_keywords.begin(), m_keywords.end(), keyword);
    if (found != m_keywords.end()) return letter(found - m_keywords.begin());
    if (!allocate) return std::nullopt;
    const auto free = std::find(m_keywords.begin(), m_keywords.end(), std::string());
    if (free == m_keywords.end()) return std::nullopt;
    *free = keyword;
    m_modified = true;
    return letter(free - m_keywords.begin());
}

std::optional<std::string> KeywordTable::keyword_for(char letter) const {
    if (letter < 'a' || letter > 'z') return std::nullopt;
    const auto& keyword = m_keywords[static_cast<std::size_t>(letter - 'a')];
    if (keyword.empty()) return std::nullopt;
    return keyword;
}

std::string flags_to_info(const mf::Flags& flags, KeywordTable& table,
                          std::vector<std::string>* dropped) {
    std::string letters;
    if (flags.has(mf::flag_draft)) letters += 'D';
    if (flags.has(mf::flag_flagged)) letters += 'F';
    if (flags.has(mf::flag_answered)) letters += 'R';
    if (flags.has(mf::flag_seen)) letters += 'S';
    if (flags.has(mf::flag_deleted)) letters += 'T';
    for (const auto& keyword : flags.keywords) {
        if (const auto letter = table.letter_for(keyword, true))
            letters += *letter;
        else if (dropped)
            dropped->push_back(keyword);
    }
    return sorted_letters(letters);
}

mf::Flags info_to_flags(std::string_view letters, const KeywordTable& table) {
    mf::Flags flags;
    for (char c : letters) {
        switch (c) {
        case 'D':
            flags.system |= mf::flag_draft;
            break;
        case 'F':
            flags.system |= mf::flag_flagged;
            break;
        case 'R':
            flags.system |= mf::flag_answered;
            break;
        case 'S':
            flags.system |= mf::flag_seen;
            break;
        case 'T':
            flags.system |= mf::flag_deleted;
            break;
        default:
            if (auto keyword = table.keyword_for(c)) flags.keywords.push_back(std::move(*keyword));
        }
    }
    mf::normalize(flags);
    return flags;
}

std::string with_flags(std::string_view file_name, std::string_view info_flags) {
    const InfoSplit split = split_info(file_name);
    std::string out(split.unique);
    out += split.separator;
    out += "2,";
    out += sorted_letters(info_flags);
    return out;
}

} // namespace mf::maildir
