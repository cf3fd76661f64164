// Runs the folders of a run on several connections at once. Over a slow link
// a single connection spends most of its time waiting for answers; on a fast
// one, while one worker waits for the disk (a batch's syncfs) another keeps
// receiving. Each worker owns everything that cannot be shared between
// threads: its connections and its handle on the state database.
#pragma once

#include "sync/backup.h"
#include "sync/recovery.h"
#include "sync/target.h"

#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

namespace mf {

// Handles one folder at a time, on a thread of its own.
class FolderWorker {
  public:
    virtual ~FolderWorker() = default;
    virtual FolderOutcome run(const FolderInfo& folder, Progress& progress) = 0;
    // The account's limit on connections at once (Source::max_connections;
    // 0: none known).
    virtual std::size_t max_connections() const { return 0; }
};

// Makes one more worker (opens its connections). Called on the worker's own
// thread, while folders are left to do: for an extra connection, or to
// replace a worker whose session failed (Scope::session).
using WorkerFactory = std::function<Result<std::unique_ptr<FolderWorker>>()>;

struct ParallelOutcome {
    // In the order of the folders given, every one of them: a folder never
    // attempted (an account-scope failure stopped the run, or every session
    // was lost and none could be made again) has an outcome that says so
    // (FolderReport::not_attempted) and why.
    std::vector<std::optional<FolderOutcome>> folders;
    // Extra workers that could not start; the others did their folders.
    std::vector<Failure> unstarted;
    std::size_t reconnects = 0;          // new sessions after session failures
    std::chrono::milliseconds waited{0}; // spent backing off before them
};

// The order in which several workers take `folders` (indexes): the biggest
// first, as far as the listing told (FolderInfo::messages), the others after
// them in the order given.
std::vector<std::size_t> biggest_first(const std::vector<FolderInfo>& folders);

// Folders are taken biggest first where FolderInfo::messages tells (with
// one worker: in the order given); outcomes are in the order given.
// `first` is the worker whose connection listed the folders; up to
// `workers - 1` more are made by `more`. What a failure means is decided
// here, by its scope, for every kind of worker: a message or folder failure
// ends that folder's outcome and the worker takes the next folder; after a
// session failure the worker is replaced by a new one from `more` (see
// RecoveryPolicy) and the folder is run again, resuming from what its store
// committed; a worker that cannot be replaced stops, and the others go on.
// An account failure stops every worker after the folder it is on. Folders
// for which `idle` is true (the worker will send the source nothing for them)
// are done first, on `first`, before any other worker is made: extra workers
// are counted for the other folders only. No more than `first`'s
// max_connections() workers run, whatever `workers` asks (a note says so).
// `known_new`, where given, says how many of a folder's messages the folder
// list alone shows to be new (a lower bound): enough of them start the
// extra workers before the first has opened a folder.
using IdleFolder = std::function<bool(const FolderInfo&)>;
using KnownNew = std::function<std::size_t(const FolderInfo&)>;
ParallelOutcome run_folders(const std::vector<FolderInfo>& folders,
                            std::unique_ptr<FolderWorker> first, const WorkerFactory& more,
                            std::size_t workers, Progress& progress, const IdleFolder& idle = {},
                            const RecoveryPolicy& recovery = {}, const KnownNew& known_new = {});

// One PushState for several workers, a call at a time. Each record is a
// tiny transaction: on one shared handle they take turns in microseconds,
// where separate database connections would collide on the write lock and
// sleep in SQLite's busy handler.
class LockedPushState : public PushState {
  public:
    explicit LockedPushState(PushState& inner) : m_inner(inner) {}
    Result<PushMapping> load(const std::string& folder) override;
    Status reset(const std::string& folder, std::uint32_t source_validity,
                 std::uint32_t target_validity) override;
    Status record(const std::string& folder, const std::string& source_id,
                  std::uint32_t uid) override;
    Status forget(const std::string& folder, const std::string& source_id) override;
    Status set_copying(const std::string& folder, bool copying) override;
    Result<bool> copying(const std::string& folder) override;
    Result<RefusedRuns> refused(const std::string& folder) override;
    Status set_refused(const std::string& folder, const RefusedRuns& refused) override;
    Status record_upload(const std::string& identity, const Uploaded& where) override;
    Result<std::optional<Uploaded>> upload_of(const std::string& identity) override;

  private:
    PushState& m_inner;
    std::mutex m_mutex;
};

} // namespace mf
