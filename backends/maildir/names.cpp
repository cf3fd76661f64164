#include "backends/maildir/names.h"

#include <algorithm>
#include <charconv>
#include <iterator>

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

// SHA-256 (FIPS 180-4), small and slow enough for ids: a name holds a digest
// only for ids past k_max_spelled_id, and a digest is computed once per such
// id. Written here because the project links no hash library of its own.
class Sha256 {
  public:
    std::array<std::uint8_t, 32> of(std::string_view data) {
        std::uint64_t bits = static_cast<std::uint64_t>(data.size()) * 8;
        std::string padded(data);
        padded += '\x80';
        while (padded.size() % 64 != 56)
            padded += '\0';
        for (int shift = 56; shift >= 0; shift -= 8)
            padded += static_cast<char>(bits >> shift);
        for (std::size_t at = 0; at < padded.size(); at += 64)
            block(padded.data() + at);
        std::array<std::uint8_t, 32> out{};
        for (std::size_t i = 0; i < 32; ++i)
            out[i] = static_cast<std::uint8_t>(m_h[i / 4] >> (24 - 8 * (i % 4)));
        return out;
    }

  private:
    static std::uint32_t rotr(std::uint32_t x, int n) { return (x >> n) | (x << (32 - n)); }

    void block(const char* p) {
        static constexpr std::uint32_t k[64] = {
            0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4,
            0xab1c5ed5, 0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe,
            0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f,
            0x4a7484aa, 0x5cb0a9dc, 0x76f988da, 0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7,
            0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc,
            0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b,
            0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070, 0x19a4c116,
            0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
            0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7,
            0xc67178f2};
        std::uint32_t w[64];
        for (int i = 0; i < 16; ++i) {
            w[i] = 0;
            for (int j = 0; j < 4; ++j)
                w[i] = (w[i] << 8) | static_cast<std::uint8_t>(p[4 * i + j]);
        }
        for (int i = 16; i < 64; ++i) {
            const std::uint32_t s0 = rotr(w[i - 15], 7) ^ rotr(w[i - 15], 18) ^ (w[i - 15] >> 3);
            const std::uint32_t s1 = rotr(w[i - 2], 17) ^ rotr(w[i - 2], 19) ^ (w[i - 2] >> 10);
            w[i] = w[i - 16] + s0 + w[i - 7] + s1;
        }
        std::uint32_t v[8];
        std::copy(std::begin(m_h), std::end(m_h), v);
        for (int i = 0; i < 64; ++i) {
            const std::uint32_t s1 = rotr(v[4], 6) ^ rotr(v[4], 11) ^ rotr(v[4], 25);
            const std::uint32_t ch = (v[4] & v[5]) ^ (~v[4] & v[6]);
            const std::uint32_t t1 = v[7] + s1 + ch + k[i] + w[i];
            const std::uint32_t s0 = rotr(v[0], 2) ^ rotr(v[0], 13) ^ rotr(v[0], 22);
            const std::uint32_t maj = (v[0] & v[1]) ^ (v[0] & v[2]) ^ (v[1] & v[2]);
            std::copy_backward(v, v + 7, v + 8);
            v[4] += t1;
            v[0] = t1 + s0 + maj;
        }
        for (int i = 0; i < 8; ++i)
            m_h[i] += v[i];
    }

    std::uint32_t m_h[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
                            0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};
};

bool is_lower_hex(std::string_view s) {
    return std::all_of(s.begin(), s.end(),
                       [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

std::string unique_part(std::int64_t seconds, std::int64_t micros, int pid, std::uint64_t counter,
                        std::string_view id_value, std::uint64_t crlf_size) {
    std::string out = std::to_string(seconds);
    out += ".M" + std::to_string(micros);
    out += "P" + std::to_string(pid);
    out += "Q" + std::to_string(counter);
    out += '.';
    out += k_host;
    out += ",U=";
    out += id_value;
    out += ",W=" + std::to_string(crlf_size);
    return out;
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

std::string id_digest_of(std::string_view id) {
    constexpr std::string_view digits = "0123456789abcdef";
    std::string out;
    for (std::uint8_t byte : Sha256().of(id)) {
        out += digits[byte >> 4];
        out += digits[byte & 0x0F];
    }
    return out;
}

std::string id_field(std::string_view id) {
    std::string escaped = escape_id(id);
    if (escaped.size() <= k_max_spelled_id) return escaped;
    return std::string(k_digest_marker) + id_digest_of(id);
}

std::string make_bounded_unique_part(std::int64_t seconds, std::int64_t micros, int pid,
                                     std::uint64_t counter, std::string_view id,
                                     std::uint64_t crlf_size) {
    return unique_part(seconds, micros, pid, counter, id_field(id), crlf_size);
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
            const auto value = field.substr(2);
            if (!value.starts_with(k_digest_marker)) {
                name.id = unescape_id(value);
            } else if (const auto digest = value.substr(k_digest_marker.size());
                       digest.size() == 64 && is_lower_hex(digest)) {
                name.id_digest = std::string(digest);
            }
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
