// Carries out a backup plan for one folder: streams each planned message from
// the source into the store and commits in batches, so that a crash loses at
// most the uncommitted batch, which the next run fetches again (or adopts).
#pragma once

#include "sync/budget.h"
#include "sync/plan.h"
#include "sync/progress.h"
#include "sync/source.h"
#include "sync/store.h"

#include <optional>

namespace mf {

struct BackupOptions {
    bool dry_run = false;
    // Commit at least every this many messages: a batch's file names and
    // rows wait in memory (and in SQLite's page cache) until its commit.
    // Small batches cost no time (stores make a batch durable at once) and
    // save memory with several folders at once (tests/bench/README.md).
    std::size_t batch_messages = 256;
    std::uint64_t batch_bytes = 64u << 20; // ...and after this many bytes
    std::size_t fetch_chunk = 5000;        // ids per source fetch call
    // A folder the archive holds nothing of is listed in parts of this many
    // messages where the source can (0: at once): a part's listing and plan
    // are held in memory, so big parts cost memory on big first backups
    // (tests/bench/README.md).
    std::size_t list_part = 1024;
    RemovalPolicy removal; // delete from the source afterwards
    // Mirror into the archive: remove what the source no longer has, unless
    // the mass-deletion guard (see mirror_guard) refuses.
    bool mirror = false;
    double max_delete_share = 0.5;
    bool force = false;
    // A message that failed in this many runs in a row is skipped from then
    // on (see sync/failure_memory.h); 0: never skipped.
    std::size_t skip_after = 3;
    // Mark unread again, on the source, the messages it marked read when
    // they were fetched (Source::marked_read_by_fetch): the only write to a
    // backup source besides a removal policy's, and only on request.
    bool undo_server_seen = false;
    // Which messages the run handles (--since, --before, --max-size); the
    // others are counted in FolderReport::filtered, never fetched, never
    // gone, never deleted.
    MessageFilter filter;
    // The run's download allowance, shared by the workers (none: no limit).
    // What does not fit is counted in FolderReport::deferred; the folder
    // keeps no change token, so the next run lists and fetches it.
    ByteBudget* budget = nullptr;
};

struct FolderOutcome {
    FolderReport report;
    std::optional<Failure> failure; // its scope says whether to go on
    std::string caveat;             // how the source was read, if the user should know
};

FolderOutcome backup_folder(Source& source, Store& store, const FolderInfo& folder,
                            const BackupOptions& options, Progress& progress);

// True when the folder list alone shows `folder` unchanged since the last
// complete run (FolderInfo::change_token): backup_folder() then sends the
// source nothing for it, so no connection need be opened for it.
bool listed_unchanged(Store& store, const FolderInfo& folder, const BackupOptions& options);
// How many of `folder`'s messages its listed count shows to be new: the
// count less what the archive holds (messages deleted on the server only
// make it lower). 0 without a count, or with a filter, which may leave
// new messages out.
std::size_t listed_new_at_least(Store& store, const FolderInfo& folder,
                                const BackupOptions& options);

} // namespace mf
