#include "backends/imap/fetch.h"

#include <algorithm>
#include <array>
#include <cstdio>
#include <utility>

namespace mf::imap {

namespace {

constexpr std::int64_t k_seconds_per_day = 86400;
// 0001-01-01T00:00:00Z and 9999-12-31T23:59:59Z: what four year digits hold.
constexpr std::int64_t k_earliest = -62135596800;
constexpr std::int64_t k_latest = 253402300799;

constexpr std::array<std::pair<Flag, std::string_view>, 5> k_system_flags{{
    {flag_seen, "\\Seen"},
    {flag_answered, "\\Answered"},
    {flag_flagged, "\\Flagged"},
    {flag_deleted, "\\Deleted"},
    {flag_draft, "\\Draft"},
}};

constexpr std::array<std::string_view, 12> k_months{"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                                    "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

std::uint8_t system_flag(std::string_view name) {
    for (const auto& [bit, spelling] : k_system_flags) {
        if (iequals(name, spelling)) return bit;
    }
    return 0;
}

bool has_recent(const Value& list) {
    return std::any_of(list.items.begin(), list.items.end(),
                       [](const Value& item) { return is_atom(item, "\\RECENT"); });
}

// flag-keyword = atom: printable ASCII without atom-specials.
bool is_valid_keyword(std::string_view keyword) {
    constexpr std::string_view k_specials = "(){%*\"\\]";
    if (keyword.empty()) return false;
    return std::all_of(keyword.begin(), keyword.end(), [&](char c) {
        return c > 0x20 && c < 0x7f && k_specials.find(c) == std::string_view::npos;
    });
}

bool starts_with_ignoring_case(std::string_view text, std::string_view prefix) {
    return text.size() >= prefix.size() && iequals(text.substr(0, prefix.size()), prefix);
}

// The whole message header: BODY[HEADER], BODY[HEADER.FIELDS (...)] or
// .FIELDS.NOT, and the old RFC822.HEADER. BODY[1.HEADER] is a part's header.
bool is_header_item(std::string_view name) {
    return starts_with_ignoring_case(name, "BODY[HEADER") || iequals(name, "RFC822.HEADER");
}

// X-GM-LABELS (...): each label an atom or a string; NIL or a nested list
// makes the item unreadable (Gmail sends neither).
bool apply_labels(const Value& value, FetchData& data) {
    if (value.type != Value::Type::list) return false;
    std::vector<std::string> labels;
    for (const Value& item : value.items) {
        auto text = item.type == Value::Type::atom ? std::optional(item.text) : as_string(item);
        if (!text || text->empty()) return false;
        labels.push_back(std::move(*text));
    }
    data.gm_labels = std::move(labels);
    return true;
}

// Applies one "name value" pair; false when the pair is malformed.
bool apply_item(const Value& name, const Value& value, FetchData& data) {
    if (name.type != Value::Type::atom) return false;
    if (value.type == Value::Type::streamed) {
        data.body_streamed = true;
        return true;
    }
    if (is_atom(name, "UID")) {
        data.uid = to_u32(value);
        return data.uid.has_value() && *data.uid != 0;
    }
    if (is_atom(name, "FLAGS")) {
        if (value.type != Value::Type::list) return false;
        data.flags = flags_from_list(value);
        data.recent = has_recent(value);
        return true;
    }
    if (is_atom(name, "RFC822.SIZE")) {
        data.size = to_u64(value);
        return data.size.has_value();
    }
    if (is_atom(name, "INTERNALDATE")) {
        if (auto text = as_string(value)) data.internal_date = parse_internal_date(*text);
        return true;
    }
    if (is_atom(name, "MODSEQ")) {
        if (value.type != Value::Type::list || value.items.size() != 1) return false;
        data.modseq = to_u64(value.items.front());
        return data.modseq.has_value();
    }
    if (is_atom(name, "X-GM-MSGID")) {
        data.gm_msgid = to_u64(value);
        return data.gm_msgid.has_value();
    }
    if (is_atom(name, "X-GM-LABELS")) return apply_labels(value, data);
    if (is_header_item(name.text)) data.header = as_string(value).value_or("");
    return true;
}

struct CivilDate {
    std::int64_t year;
    unsigned month; // 1..12
    unsigned day;   // 1..31
};

// Howard Hinnant's days_from_civil / civil_from_days: proleptic Gregorian,
// exact for every year, no time zone database involved.
std::int64_t days_from_civil(std::int64_t year, unsigned month, unsigned day) {
    year -= month <= 2 ? 1 : 0;
    const std::int64_t era = (year >= 0 ? year : year - 399) / 400;
    const auto year_of_era = static_cast<unsigned>(year - era * 400);
    const unsigned day_of_year = (153 * (month > 2 ? month - 3 : month + 9) + 2) / 5 + day - 1;
    const unsigned day_of_era =
        year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    return era * 146097 + static_cast<std::int64_t>(day_of_era) - 719468;
}

CivilDate civil_from_days(std::int64_t days) {
    days += 719468;
    const std::int64_t era = (days >= 0 ? days : days - 146096) / 146097;
    const auto day_of_era = static_cast<unsigned>(days - era * 146097);
    const unsigned year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36524 - day_of_era / 146096) / 365;
    const unsigned day_of_year =
        day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    const unsigned shifted_month = (5 * day_of_year + 2) / 153;
    const unsigned day = day_of_year - (153 * shifted_month + 2) / 5 + 1;
    const unsigned month = shifted_month < 10 ? shifted_month + 3 : shifted_month - 9;
    const std::int64_t year = static_cast<std::int64_t>(year_of_era) + era * 400;
    return {year + (month <= 2 ? 1 : 0), month, day};
}

unsigned days_in_month(std::int64_t year, unsigned month) {
    static constexpr unsigned k_days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    const bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    return month == 2 && leap ? 29 : k_days[month - 1];
}

// Reads the fixed fields of a date-time left to right.
class DateCursor {
  public:
    explicit DateCursor(std::string_view text) : m_text(text) {}

    bool expect(char c) {
        if (m_pos >= m_text.size() || m_text[m_pos] != c) return false;
        ++m_pos;
        return true;
    }
    // Between `min` and `max` decimal digits.
    std::optional<unsigned> number(std::size_t min, std::size_t max) {
        unsigned value = 0;
        std::size_t count = 0;
        while (count < max && m_pos < m_text.size() && m_text[m_pos] >= '0' &&
               m_text[m_pos] <= '9') {
            value = value * 10 + static_cast<unsigned>(m_text[m_pos++] - '0');
            ++count;
        }
        if (count < min) return std::nullopt;
        return value;
    }
    std::optional<unsigned> month() {
        if (m_text.size() - m_pos < 3) return std::nullopt;
        for (unsigned i = 0; i < k_months.size(); ++i) {
            if (iequals(m_text.substr(m_pos, 3), k_months[i])) {
                m_pos += 3;
                return i + 1;
            }
        }
        return std::nullopt;
    }
    bool at_end() const { return m_pos == m_text.size(); }

  private:
    std::string_view m_text;
    std::size_t m_pos = 0;
};

std::string_view trim_spaces(std::string_view text) {
    while (!text.empty() && text.front() == ' ')
        text.remove_prefix(1);
    while (!text.empty() && text.back() == ' ')
        text.remove_suffix(1);
    return text;
}

// "+hhmm" / "-hhmm" as seconds east of UTC.
std::optional<std::int64_t> parse_zone(DateCursor& cursor) {
    const int sign = cursor.expect('+') ? 1 : cursor.expect('-') ? -1 : 0;
    const auto hours = cursor.number(2, 2);
    const auto minutes = cursor.number(2, 2);
    if (sign == 0 || !hours || !minutes || *hours > 23 || *minutes > 59) return std::nullopt;
    return sign * static_cast<std::int64_t>(*hours * 3600 + *minutes * 60);
}

} // namespace

std::optional<FetchData> parse_fetch(const Response& response) {
    const auto& items = response.items;
    if (response.kind != Response::Kind::untagged || !response.status.empty() ||
        items.size() != 3 || !is_atom(items[1], "FETCH") || items[2].type != Value::Type::list) {
        return std::nullopt;
    }
    const auto seq = to_u32(items[0]);
    const auto& pairs = items[2].items;
    if (!seq || *seq == 0 || pairs.size() % 2 != 0) return std::nullopt;
    FetchData data;
    data.seq = *seq;
    for (std::size_t i = 0; i < pairs.size(); i += 2) {
        if (!apply_item(pairs[i], pairs[i + 1], data)) return std::nullopt;
    }
    return data;
}

mf::Flags flags_from_list(const Value& list) {
    mf::Flags flags;
    for (const Value& item : list.items) {
        if (item.type != Value::Type::atom || item.text.empty()) continue;
        if (item.text.front() == '\\') {
            flags.system |= system_flag(item.text);
        } else {
            flags.keywords.push_back(item.text);
        }
    }
    mf::normalize(flags);
    return flags;
}

std::string flags_to_imap(const mf::Flags& flags) {
    std::string out;
    auto append = [&out](std::string_view word) {
        if (!out.empty()) out += ' ';
        out += word;
    };
    for (const auto& [bit, spelling] : k_system_flags) {
        if (flags.has(bit)) append(spelling);
    }
    for (const std::string& keyword : flags.keywords) {
        if (is_valid_keyword(keyword)) append(keyword);
    }
    return out;
}

std::string format_internal_date(std::int64_t epoch) {
    epoch = std::clamp(epoch, k_earliest, k_latest);
    const std::int64_t days =
        (epoch >= 0 ? epoch : epoch - (k_seconds_per_day - 1)) / k_seconds_per_day;
    const auto seconds = static_cast<unsigned>(epoch - days * k_seconds_per_day);
    const CivilDate date = civil_from_days(days);
    char buffer[48];
    std::snprintf(buffer, sizeof buffer, "%2u-%s-%04u %02u:%02u:%02u +0000", date.day,
                  k_months[date.month - 1].data(), static_cast<unsigned>(date.year), seconds / 3600,
                  seconds / 60 % 60, seconds % 60);
    return buffer;
}

std::optional<std::int64_t> parse_internal_date(std::string_view text) {
    DateCursor cursor(trim_spaces(text));
    const auto day = cursor.number(1, 2);
    if (!day || !cursor.expect('-')) return std::nullopt;
    const auto month = cursor.month();
    if (!month || !cursor.expect('-')) return std::nullopt;
    const auto year = cursor.number(4, 4);
    if (!year || !cursor.expect(' ')) return std::nullopt;
    const auto hour = cursor.number(2, 2);
    if (!hour || !cursor.expect(':')) return std::nullopt;
    const auto minute = cursor.number(2, 2);
    if (!minute || !cursor.expect(':')) return std::nullopt;
    const auto second = cursor.number(2, 2);
    if (!second || !cursor.expect(' ')) return std::nullopt;
    const auto zone = parse_zone(cursor);
    if (!zone || !cursor.at_end()) return std::nullopt;
    if (*day < 1 || *day > days_in_month(*year, *month) || *hour > 23 || *minute > 59 ||
        *second > 60) { // 60: a leap second
        return std::nullopt;
    }
    const std::int64_t local = days_from_civil(*year, *month, *day) * k_seconds_per_day +
                               *hour * 3600 + *minute * 60 + *second;
    return local - *zone;
}

bool needs_literal(std::string_view text) {
    return std::any_of(text.begin(), text.end(), [](char c) {
        return c == '\r' || c == '\n' || c == '\0' || static_cast<unsigned char>(c) >= 0x80;
    });
}

std::string quote_string(std::string_view text) {
    std::string out = "\"";
    for (char c : text) {
        if (c == '"' || c == '\\') out += '\\';
        out += c;
    }
    out += '"';
    return out;
}

std::string literal_argument(std::string_view text) {
    std::string out = "{" + std::to_string(text.size()) + "}\r\n";
    out.append(text);
    return out;
}

} // namespace mf::imap
