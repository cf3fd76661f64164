#include "backends/common/headers.h"

#include <array>
#include <charconv>
#include <vector>

namespace mf::mail {
namespace {

constexpr std::string_view k_spaces = " \t\r\n";

bool is_wsp(char c) {
    return c == ' ' || c == '\t';
}

char lower(char c) {
    return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
}

bool iequals(std::string_view a, std::string_view b) {
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i)
        if (lower(a[i]) != lower(b[i])) return false;
    return true;
}

std::string_view trim(std::string_view s) {
    const auto first = s.find_first_not_of(k_spaces);
    if (first == std::string_view::npos) return {};
    const auto last = s.find_last_not_of(k_spaces);
    return s.substr(first, last - first + 1);
}

// "<id>" with any folding whitespace inside removed (some mailers fold long
// ids), so that the same id always compares equal.
std::string extract_message_id(std::string_view value) {
    const auto open = value.find('<');
    if (open == std::string_view::npos) return {};
    const auto close = value.find('>', open);
    if (close == std::string_view::npos) return {};
    std::string id;
    for (char c : value.substr(open, close - open + 1))
        if (k_spaces.find(c) == std::string_view::npos) id += c;
    return id == "<>" ? std::string() : id;
}

} // namespace

void HeaderScanner::feed(std::string_view chunk) {
    for (char c : chunk) {
        switch (m_state) {
        case State::line_start:
            on_line_start(c);
            break;
        case State::cr_at_line_start:
            if (c == '\n') {
                finish();
            } else {
                // A line that starts with a bare CR is no field at all.
                commit_field();
                m_state = State::skip_line;
            }
            break;
        case State::name:
            on_name(c);
            break;
        case State::value:
            on_value(c);
            break;
        case State::skip_line:
            if (c == '\n') m_state = State::line_start;
            break;
        case State::done:
            return;
        }
    }
}

void HeaderScanner::finish() {
    if (m_state == State::done) return;
    commit_field();
    m_state = State::done;
    m_name = std::string();
    m_value = std::string();
}

void HeaderScanner::on_line_start(char c) {
    if (c == '\r') {
        m_state = State::cr_at_line_start;
    } else if (c == '\n') {
        finish();
    } else if (is_wsp(c)) {
        // A folded continuation of the field before: keep the white space,
        // drop the line break (RFC 5322 unfolding).
        m_state = m_field == Field::none ? State::skip_line : State::value;
        on_value(c);
    } else {
        commit_field();
        m_name.assign(1, c);
        m_state = State::name;
    }
}

void HeaderScanner::on_name(char c) {
    if (c == ':') {
        begin_field();
        m_state = State::value;
    } else if (c == '\n') {
        m_state = State::line_start; // no colon: not a field
    } else if (m_name.size() < 64) {
        m_name += c;
    } else {
        m_state = State::skip_line; // no field we want has such a name
    }
}

void HeaderScanner::on_value(char c) {
    if (c == '\n') {
        m_state = State::line_start;
        return;
    }
    if (c == '\r' || m_field == Field::none) return;
    if (m_value.size() >= k_max_field) {
        m_field = Field::none; // too long: ignored, as if absent
        m_value = std::string();
        return;
    }
    m_value += c;
}

void HeaderScanner::begin_field() {
    const auto name = trim(m_name); // obsolete syntax allows "Date :"
    m_value.clear();
    m_field = Field::none;
    if (iequals(name, "message-id") && !m_have_message_id) m_field = Field::message_id;
    if (iequals(name, "date") && !m_have_date) m_field = Field::date;
    if (iequals(name, "received") && !m_have_received) m_field = Field::received;
    if (iequals(name, "subject") && !m_have_subject) m_field = Field::subject;
}

void HeaderScanner::commit_field() {
    const Field field = m_field;
    m_field = Field::none;
    switch (field) {
    case Field::none:
        return;
    case Field::message_id:
        m_have_message_id = true;
        m_message_id = extract_message_id(m_value);
        break;
    case Field::date:
        m_have_date = true;
        m_date = std::string(trim(m_value));
        break;
    case Field::received: {
        m_have_received = true;
        const auto semicolon = m_value.rfind(';');
        if (semicolon != std::string::npos)
            m_received_date = std::string(trim(std::string_view(m_value).substr(semicolon + 1)));
        break;
    }
    case Field::subject:
        m_have_subject = true;
        m_subject = std::string(trim(m_value));
        break;
    }
    m_value.clear();
}

// ---- dates ----------------------------------------------------------------

namespace {

constexpr std::array<std::string_view, 12> k_months = {
    "january", "february", "march",     "april",   "may",      "june",
    "july",    "august",   "september", "october", "november", "december"};
constexpr std::array<std::string_view, 7> k_weekdays = {
    "monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"};

struct Zone {
    std::string_view name;
    int hours;
};
constexpr std::array<Zone, 11> k_zones = {{{"ut", 0},
                                           {"utc", 0},
                                           {"gmt", 0},
                                           {"est", -5},
                                           {"edt", -4},
                                           {"cst", -6},
                                           {"cdt", -5},
                                           {"mst", -7},
                                           {"mdt", -6},
                                           {"pst", -8},
                                           {"pdt", -7}}};

// A name matches by its three-letter abbreviation or in full.
template <std::size_t N>
std::optional<int> name_index(std::string_view token,
                              const std::array<std::string_view, N>& names) {
    for (std::size_t i = 0; i < N; ++i)
        if (iequals(token, names[i].substr(0, 3)) || iequals(token, names[i]))
            return static_cast<int>(i);
    return std::nullopt;
}

bool all_digits(std::string_view s) {
    if (s.empty()) return false;
    for (char c : s)
        if (c < '0' || c > '9') return false;
    return true;
}

bool all_alpha(std::string_view s) {
    if (s.empty()) return false;
    for (char c : s)
        if (lower(c) < 'a' || lower(c) > 'z') return false;
    return true;
}

std::optional<int> number(std::string_view s, std::size_t max_digits) {
    if (!all_digits(s) || s.size() > max_digits) return std::nullopt;
    int value = 0;
    std::from_chars(s.data(), s.data() + s.size(), value);
    return value;
}

// Comments may nest and hold quoted pairs; each becomes a space.
std::string strip_comments(std::string_view text) {
    std::string out;
    int depth = 0;
    for (std::size_t i = 0; i < text.size(); ++i) {
        const char c = text[i];
        if (depth > 0 && c == '\\') {
            ++i;
        } else if (c == '(') {
            ++depth;
        } else if (c == ')' && depth > 0) {
            if (--depth == 0) out += ' ';
        } else if (depth == 0) {
            out += c;
        }
    }
    return out;
}

std::vector<std::string_view> tokens(std::string_view s, std::size_t max_tokens) {
    std::vector<std::string_view> out;
    constexpr std::string_view separators = " \t\r\n,";
    std::size_t i = s.find_first_not_of(separators);
    while (i != std::string_view::npos && out.size() < max_tokens) {
        const auto end = s.find_first_of(separators, i);
        out.push_back(s.substr(i, end == std::string_view::npos ? end : end - i));
        i = s.find_first_not_of(separators, end);
    }
    return out;
}

struct Fields {
    int year = 0, month = 0, day = 0, hour = 0, minute = 0, second = 0;
    int zone_minutes = 0;
};

bool parse_time(std::string_view token, Fields& f) {
    const auto c1 = token.find(':');
    if (c1 == std::string_view::npos) return false;
    const auto c2 = token.find(':', c1 + 1);
    const auto h = number(token.substr(0, c1), 2);
    const auto m = number(token.substr(c1 + 1, c2 == std::string_view::npos ? c2 : c2 - c1 - 1), 2);
    const auto s =
        c2 == std::string_view::npos ? std::optional<int>(0) : number(token.substr(c2 + 1), 2);
    if (!h || !m || !s || *h > 23 || *m > 59 || *s > 60) return false;
    f.hour = *h;
    f.minute = *m;
    f.second = *s;
    return true;
}

// RFC 5322 4.3: 2-digit years are 1950-2049, 3-digit years add 1900.
bool parse_year(std::string_view token, Fields& f) {
    const auto y = number(token, 4);
    if (!y) return false;
    f.year = token.size() == 2   ? (*y < 50 ? 2000 + *y : 1900 + *y)
             : token.size() == 3 ? 1900 + *y
                                 : *y;
    return true;
}

bool is_zone(std::string_view token) {
    return all_alpha(token) || ((token.starts_with('+') || token.starts_with('-')) &&
                                all_digits(token.substr(1)) && token.size() == 5);
}

// Unknown names, military letters included (RFC 5322 4.3: their meaning was
// botched in RFC 822), count as UTC.
void parse_zone(std::string_view token, Fields& f) {
    if (all_alpha(token)) {
        for (const auto& zone : k_zones)
            if (iequals(token, zone.name)) f.zone_minutes = zone.hours * 60;
        return;
    }
    const int hhmm = *number(token.substr(1), 4);
    const int minutes = hhmm / 100 * 60 + hhmm % 100;
    f.zone_minutes = token.front() == '-' ? -minutes : minutes;
}

bool is_leap(int y) {
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

int days_in_month(int y, int m) {
    constexpr std::array<int, 12> days = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return m == 2 && is_leap(y) ? 29 : days[static_cast<std::size_t>(m - 1)];
}

// Days since 1970-01-01 in the proleptic Gregorian calendar (H. Hinnant's
// days_from_civil): no time zone database, no locale, no gmtime.
std::int64_t days_from_civil(std::int64_t y, int m, int d) {
    y -= m <= 2;
    const std::int64_t era = (y >= 0 ? y : y - 399) / 400;
    const std::int64_t yoe = y - era * 400;
    const std::int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    const std::int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

// day month year time [zone]
bool parse_rfc_order(const std::vector<std::string_view>& t, std::size_t i, Fields& f) {
    if (t.size() < i + 4) return false;
    const auto day = number(t[i], 2);
    const auto month = name_index(t[i + 1], k_months);
    if (!day || !month || !parse_year(t[i + 2], f) || !parse_time(t[i + 3], f)) return false;
    f.day = *day;
    f.month = *month + 1;
    if (t.size() > i + 4) {
        if (!is_zone(t[i + 4])) return false;
        parse_zone(t[i + 4], f);
    }
    return true;
}

// ctime order: month day time [zone] year [zone]
bool parse_ctime_order(const std::vector<std::string_view>& t, std::size_t i, Fields& f) {
    if (t.size() < i + 4) return false;
    const auto month = name_index(t[i], k_months);
    const auto day = number(t[i + 1], 2);
    if (!month || !day || !parse_time(t[i + 2], f)) return false;
    f.day = *day;
    f.month = *month + 1;
    i += 3;
    if (!all_digits(t[i]) && is_zone(t[i])) parse_zone(t[i++], f);
    if (i >= t.size() || !parse_year(t[i], f)) return false;
    if (++i < t.size()) {
        if (!is_zone(t[i])) return false;
        parse_zone(t[i], f);
    }
    return true;
}

} // namespace

std::optional<std::int64_t> parse_rfc5322_date(std::string_view text) {
    const std::string clean = strip_comments(text);
    const auto t = tokens(clean, 8); // trailing words ("remote from x") are ignored
    if (t.empty()) return std::nullopt;
    std::size_t i = name_index(t[0], k_weekdays) ? 1 : 0;
    Fields f;
    const bool ok =
        i < t.size() && (all_digits(t[i]) ? parse_rfc_order(t, i, f) : parse_ctime_order(t, i, f));
    if (!ok || f.day < 1 || f.day > days_in_month(f.year, f.month)) return std::nullopt;
    return days_from_civil(f.year, f.month, f.day) * 86400 + f.hour * 3600 + f.minute * 60 +
           f.second - std::int64_t{f.zone_minutes} * 60;
}

} // namespace mf::mail
