#include "backends/imap/uid_set.h"

#include <algorithm>
#include <charconv>

namespace mf::imap {

namespace {

using UidRange = std::pair<std::uint32_t, std::uint32_t>;

// The ranges of a UID set in the order written, each low:high; nullopt if
// malformed or longer than `max_ranges`.
std::optional<std::vector<UidRange>> parse_uid_set(std::string_view set, std::size_t max_ranges) {
    std::vector<UidRange> out;
    while (!set.empty()) {
        std::size_t comma = set.find(',');
        std::string_view range = set.substr(0, comma);
        set = comma == std::string_view::npos ? std::string_view() : set.substr(comma + 1);
        std::size_t colon = range.find(':');
        auto a = parse_uid(range.substr(0, colon));
        auto b = colon == std::string_view::npos ? a : parse_uid(range.substr(colon + 1));
        if (!a || !b || out.size() >= max_ranges) return std::nullopt;
        out.emplace_back(std::min(*a, *b), std::max(*a, *b));
    }
    return out;
}

std::uint64_t width(const UidRange& r) {
    return std::uint64_t{r.second} - r.first + 1;
}

} // namespace

std::optional<std::uint32_t> parse_uid(std::string_view text) {
    std::uint32_t v = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
    if (ec != std::errc() || end != text.data() + text.size() || v == 0) return std::nullopt;
    return v;
}

std::vector<std::uint32_t> to_uids(std::span<const std::string> ids) {
    std::vector<std::uint32_t> out;
    out.reserve(ids.size());
    for (const auto& id : ids)
        if (auto u = parse_uid(id)) out.push_back(*u);
    return out;
}

std::vector<std::string> uid_sets(std::vector<std::uint32_t> uids, std::size_t max_chars) {
    std::sort(uids.begin(), uids.end());
    uids.erase(std::unique(uids.begin(), uids.end()), uids.end());
    std::vector<std::string> sets;
    std::string current;
    for (std::size_t i = 0; i < uids.size();) {
        std::size_t j = i;
        while (j + 1 < uids.size() && uids[j + 1] == uids[j] + 1)
            ++j;
        std::string range = std::to_string(uids[i]);
        if (j > i) range += ':' + std::to_string(uids[j]);
        if (!current.empty() && current.size() + range.size() + 1 > max_chars) {
            sets.push_back(std::move(current));
            current.clear();
        }
        if (!current.empty()) current += ',';
        current += range;
        i = j + 1;
    }
    if (!current.empty()) sets.push_back(std::move(current));
    return sets;
}

std::vector<std::uint32_t> expand_uid_set(std::string_view set, std::size_t limit) {
    auto ranges = parse_uid_set(set, limit);
    if (!ranges) return {};
    std::uint64_t count = 0;
    for (const auto& r : *ranges)
        if ((count += width(r)) > limit) return {};
    std::vector<std::uint32_t> out;
    out.reserve(count);
    for (const auto& [lo, hi] : *ranges)
        for (std::uint64_t u = lo; u <= hi; ++u)
            out.push_back(static_cast<std::uint32_t>(u));
    return out;
}

std::vector<std::pair<std::uint32_t, std::uint32_t>> uid_ranges(std::string_view set,
                                                                std::size_t limit) {
    auto parsed = parse_uid_set(set, limit);
    if (!parsed) return {};
    std::vector<UidRange>& out = *parsed;
    std::sort(out.begin(), out.end());
    std::size_t kept = 0;
    std::uint64_t count = 0;
    for (const auto& r : out) {
        if (kept > 0 && std::uint64_t{r.first} <= std::uint64_t{out[kept - 1].second} + 1) {
            count -= width(out[kept - 1]);
            out[kept - 1].second = std::max(out[kept - 1].second, r.second);
        } else {
            out[kept++] = r;
        }
        count += width(out[kept - 1]);
        if (count > limit) return {};
    }
    out.resize(kept);
    return out;
}

} // namespace mf::imap
