// The report of a run: what was found, fetched, skipped and failed per
// folder, printed for people or as one JSON document (--json).
#pragma once

#include "sync/progress.h"
#include "sync/result.h"

#include <ostream>
#include <string>
#include <vector>

namespace mf::cli {

struct RunReport {
    std::string source, archive;
    bool dry_run = false;
    std::vector<FolderReport> folders;
    std::vector<Failure> failures;
    double seconds = 0;
    std::string caveat; // how the source was read, when the user should know
    int exit_code = 0;

    std::size_t total_fetched() const;
};

std::string report_json(const RunReport& report);
void print_summary(const RunReport& report, std::ostream& out);

} // namespace mf::cli
