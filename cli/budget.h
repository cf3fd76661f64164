// A backup's download budget: --max-bytes for the run, and the day's
// allowance (--daily-budget; for Gmail by default) less what the archive's
// runs downloaded in the last day (archive/download_log.h). The smaller wins.
#pragma once

#include "backends/archive/state_db.h"
#include "sync/result.h"

#include <cstdint>
#include <optional>
#include <string>

namespace mf::cli {

struct RunBudget {
    std::optional<std::uint64_t> limit;           // the run's; none: no limit
    std::optional<std::uint64_t> daily_allowance; // none: no daily budget
    std::uint64_t daily_used = 0;                 // downloaded in the day before the run
    std::int64_t now = 0;                         // the run's clock (see run_clock)
};

// SIZE in --max-size's words, or "off"; "" takes the source's own.
bool valid_daily_budget(const std::string& text);

// Unix time; MAILFERRY_TEST_NOW=SECONDS replaces it, so that tests can
// run two backups "a day apart".
std::int64_t run_clock();

// `max_bytes` and `daily` as given (checked by their validators);
// `provider_allowance` is Source::daily_download_allowance().
Result<RunBudget> plan_budget(const std::string& max_bytes, const std::string& daily,
                              std::optional<std::uint64_t> provider_allowance,
                              archive::StateDb& db);

// Records what the run took from a daily budget (nothing without one).
Status record_budget(const RunBudget& budget, std::uint64_t taken, archive::StateDb& db);

} // namespace mf::cli
