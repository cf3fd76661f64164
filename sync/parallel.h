// Runs the folders of a run on several connections at once. Over a slow link
// a single connection spends most of its time waiting for answers; on a fast
// one, while one worker waits for the disk (a batch's syncfs) another keeps
// receiving. Each worker owns everything that cannot be shared between
// threads: its connections and its handle on the state database.
#pragma once

#include "sync/backup.h"

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace mf {

// Handles one folder at a time, on a thread of its own.
class FolderWorker {
  public:
    virtual ~FolderWorker() = default;
    virtual FolderOutcome run(const FolderInfo& folder, Progress& progress) = 0;
};

// Makes one more worker (opens its connections). Called on the worker's own
// thread, and only while folders are left to do.
using WorkerFactory = std::function<Result<std::unique_ptr<FolderWorker>>()>;

struct ParallelOutcome {
    // In the order of the folders given; nullopt: never attempted, because
    // every worker had stopped (a run-scoped failure, or all connections lost).
    std::vector<std::optional<FolderOutcome>> folders;
    // Extra workers that could not start; the others did their folders.
    std::vector<Failure> unstarted;
};

// `first` is the worker whose connection listed the folders; up to
// `workers - 1` more are made by `more`. A worker whose failure reaches past
// its folder (Scope::account: its connection is gone) stops taking folders;
// the others go on. A Scope::run failure stops every worker after the
// folder it is on.
ParallelOutcome run_folders(const std::vector<FolderInfo>& folders, std::unique_ptr<FolderWorker> first,
                            const WorkerFactory& more, std::size_t workers, Progress& progress);

} // namespace mf
