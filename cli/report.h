// The report of a run: what was found, fetched, skipped and failed per
// folder, printed for people or as one JSON document (--json).
#pragma once

#include "sync/parallel.h"
#include "sync/progress.h"
#include "sync/result.h"

#include <optional>
#include <ostream>
#include <string>
#include <vector>

namespace mf::cli {

struct RunReport {
    std::string source, archive; // archive: the archive folder, or a push's target account
    bool push = false;           // migrate/restore/mirror: deletions happen on the target
    bool dry_run = false;
    std::vector<FolderReport> folders;
    std::vector<Failure> failures;
    double seconds = 0;
    std::string caveat;         // how the source was read, when the user should know
    std::size_t reconnects = 0; // new sessions after lost or out-of-step ones
    double waited_seconds = 0;  // backing off before them
    std::string filters;        // the filters given ("--since 2026-01-01"), for the summary
    int exit_code = 0;
    // A daily download budget (--daily-budget, Gmail's by default): the
    // allowance, and what the day's runs downloaded, this one included.
    std::optional<std::uint64_t> daily_allowance;
    std::uint64_t daily_downloaded = 0;

    // 0 when nothing failed; 1, partial, when a folder completed or only
    // some of its messages failed; otherwise the failure's own class
    // (nothing got done, e.g. the connection dropped at once).
    int decide_exit_code() const;
};

// Adds the folders' outcomes to the report, in the folders' order; says
// which extra connections could not be opened.
void add_outcomes(ParallelOutcome&& outcome, RunReport& report, Progress& progress);

// What the byte budget left for the next run: the sizes of the listed
// messages not held (FolderReport::deferred_bytes), and whether it cut any.
std::uint64_t bytes_left(const RunReport& report);
bool budget_reached(const RunReport& report);

std::string report_json(const RunReport& report);
void print_summary(const RunReport& report, std::ostream& out);

} // namespace mf::cli
