// The message bytes each backup run downloaded, with when, kept in the
// archive's meta for about a day (k_download_window): a provider that limits downloads
// per day (Gmail) is kept under its limit across runs, so a first backup
// run nightly from cron spreads over as many nights as it needs.
#pragma once

#include "backends/archive/state_db.h"

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace mf::archive {

struct DownloadEntry {
    std::int64_t when = 0; // Unix time, seconds: when the run started
    std::uint64_t bytes = 0;
};

// A run counts against the allowance for a day less an hour from its
// start: a run from cron at the same hour each night, starting a few
// seconds earlier than the night before, still finds a whole allowance (a
// strict 24 hours would give it nothing, and a first backup would stall
// every other night). Google counts "per day"; the allowance's margin below
// its limit covers the difference (backends/imap/daily_allowance.cpp).
constexpr std::int64_t k_download_window = 23 * 60 * 60;

// "when:bytes" entries joined by ','; an entry that does not read so is
// dropped (an archive's meta is not trusted to be well-formed).
std::vector<DownloadEntry> parse_download_log(std::string_view text);
std::string format_download_log(const std::vector<DownloadEntry>& entries);

// The bytes downloaded within the window before `now`.
Result<std::uint64_t> downloaded_within_day(StateDb& db, std::int64_t now);
// Adds a run's bytes at `now`, dropping entries older than the window.
Status record_download(StateDb& db, std::int64_t now, std::uint64_t bytes);

} // namespace mf::archive
