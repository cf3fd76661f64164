#include "cli/budget.h"

#include "backends/archive/download_log.h"
#include "cli/filter_args.h"

#include <algorithm>
#include <charconv>
#include <cstdlib>
#include <ctime>

namespace mf::cli {

bool valid_daily_budget(const std::string& text) {
    return text == "off" || parse_size(text).has_value();
}

std::int64_t run_clock() {
    if (const char* v = std::getenv("MAILFERRY_TEST_NOW"); v && *v) {
        std::int64_t now = 0;
        const char* end = v + std::char_traits<char>::length(v);
        if (auto [rest, ec] = std::from_chars(v, end, now); ec == std::errc() && rest == end)
            return now;
    }
    return static_cast<std::int64_t>(std::time(nullptr));
}

namespace {

std::optional<std::uint64_t> daily_allowance(const std::string& daily,
                                             std::optional<std::uint64_t> provider) {
    if (daily.empty()) return provider;
    if (daily == "off") return std::nullopt;
    return parse_size(daily);
}

} // namespace

Result<RunBudget> plan_budget(const std::string& max_bytes, const std::string& daily,
                              std::optional<std::uint64_t> provider_allowance,
                              archive::StateDb& db) {
    RunBudget b;
    b.now = run_clock();
    if (!max_bytes.empty()) b.limit = parse_size(max_bytes);
    b.daily_allowance = daily_allowance(daily, provider_allowance);
    if (!b.daily_allowance) return b;
    auto used = archive::downloaded_within_day(db, b.now);
    if (!used) return std::unexpected(used.error());
    b.daily_used = *used;
    const std::uint64_t left = *b.daily_allowance - std::min(*b.daily_allowance, *used);
    b.limit = b.limit ? std::min(*b.limit, left) : left;
    return b;
}

Status record_budget(const RunBudget& budget, std::uint64_t taken, archive::StateDb& db) {
    if (!budget.daily_allowance) return {};
    return archive::record_download(db, budget.now, taken);
}

} // namespace mf::cli
