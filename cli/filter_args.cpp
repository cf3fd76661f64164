#include "cli/filter_args.h"

#include <cctype>
#include <charconv>
#include <ctime>
#include <string_view>

namespace mf::cli {

namespace {

// Digits only, exactly `len` of them, at `pos`.
std::optional<int> digits(const std::string& text, std::size_t pos, std::size_t len) {
    if (pos + len > text.size()) return std::nullopt;
    int value = 0;
    for (std::size_t i = pos; i < pos + len; ++i) {
        if (!std::isdigit(static_cast<unsigned char>(text[i]))) return std::nullopt;
        value = value * 10 + (text[i] - '0');
    }
    return value;
}

bool valid_day(int y, int m, int d) {
    static constexpr int k_days[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    const bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    return m >= 1 && m <= 12 && d >= 1 && d <= (m == 2 && !leap ? 28 : k_days[m - 1]);
}

// The offset from UTC that ends an ISO 8601 time ("Z", "+02:00"), in seconds.
std::optional<std::int64_t> zone_offset(const std::string& zone) {
    if (zone == "Z" || zone == "z") return 0;
    if (zone.size() != 6 || (zone[0] != '+' && zone[0] != '-') || zone[3] != ':')
        return std::nullopt;
    auto h = digits(zone, 1, 2), m = digits(zone, 4, 2);
    if (!h || !m || *h > 23 || *m > 59) return std::nullopt;
    const std::int64_t seconds = *h * 3600 + *m * 60;
    return zone[0] == '+' ? seconds : -seconds;
}

// HH:MM[:SS] and the zone after "T": seconds into the day, UTC.
std::optional<std::int64_t> time_of_day(const std::string& text) {
    auto h = digits(text, 0, 2), m = digits(text, 3, 2);
    if (!h || !m || text.size() < 5 || text[2] != ':' || *h > 23 || *m > 59) return std::nullopt;
    std::size_t zone_at = 5;
    int s = 0;
    if (text.size() > 5 && text[5] == ':') {
        auto sec = digits(text, 6, 2);
        if (!sec || *sec > 59) return std::nullopt;
        s = *sec;
        zone_at = 8;
    }
    auto offset = zone_offset(text.substr(std::min(zone_at, text.size())));
    if (!offset) return std::nullopt;
    return std::int64_t{*h} * 3600 + *m * 60 + s - *offset;
}

Failure bad(const std::string& option, const std::string& what) {
    return Failure{ErrorKind::usage, Scope::account, option + ": " + what};
}

} // namespace

std::optional<std::int64_t> parse_filter_date(const std::string& text) {
    auto y = digits(text, 0, 4), m = digits(text, 5, 2), d = digits(text, 8, 2);
    if (!y || !m || !d || text[4] != '-' || text[7] != '-' || !valid_day(*y, *m, *d))
        return std::nullopt;
    std::tm tm{};
    tm.tm_year = *y - 1900;
    tm.tm_mon = *m - 1;
    tm.tm_mday = *d;
    const std::int64_t midnight = timegm(&tm);
    if (text.size() == 10) return midnight;
    if (text[10] != 'T' && text[10] != 't') return std::nullopt;
    auto seconds = time_of_day(text.substr(11));
    if (!seconds) return std::nullopt;
    return midnight + *seconds;
}

std::optional<std::uint64_t> parse_size(const std::string& text) {
    std::uint64_t value = 0;
    const char* end = text.data() + text.size();
    auto [rest, ec] = std::from_chars(text.data(), end, value);
    if (ec != std::errc() || rest == text.data()) return std::nullopt;
    std::uint64_t unit = 1;
    if (rest != end) {
        constexpr std::string_view k_units = "KMG"; // 1024 to the 1st, 2nd, 3rd
        const auto at =
            k_units.find(static_cast<char>(std::toupper(static_cast<unsigned char>(*rest))));
        if (at == std::string_view::npos || rest + 1 != end) return std::nullopt;
        unit = std::uint64_t{1} << (10 * (at + 1));
    }
    if (value > UINT64_MAX / unit) return std::nullopt;
    return value * unit;
}

Result<MessageFilter> make_filter(const FilterArgs& args) {
    MessageFilter filter;
    const char* k_date = "expected a date YYYY-MM-DD or YYYY-MM-DDTHH:MM:SSZ, got '";
    if (!args.since.empty() && !(filter.since = parse_filter_date(args.since)))
        return std::unexpected(bad("--since", k_date + args.since + "'"));
    if (!args.before.empty() && !(filter.before = parse_filter_date(args.before)))
        return std::unexpected(bad("--before", k_date + args.before + "'"));
    if (!args.max_size.empty() && !(filter.max_size = parse_size(args.max_size)))
        return std::unexpected(
            bad("--max-size",
                "expected bytes with an optional K, M or G, got '" + args.max_size + "'"));
    if (filter.since && filter.before && *filter.since >= *filter.before)
        return std::unexpected(bad("--before", "must be later than --since"));
    return filter;
}

std::string describe(const FilterArgs& args) {
    std::string out;
    auto add = [&](const char* option, const std::string& value) {
        if (!value.empty()) out += (out.empty() ? "" : " ") + std::string(option) + " " + value;
    };
    add("--since", args.since);
    add("--before", args.before);
    add("--max-size", args.max_size);
    return out;
}

} // namespace mf::cli
