// Carries out a push plan for one folder: copies missing messages from the
// source to the target (streamed, appended with flags and date), records
// each source -> target mapping as soon as the target confirmed it, and for
// a mirror sets flags and deletes extras behind the mass-deletion guard.
#pragma once

#include "sync/backup.h"
#include "sync/push_plan.h"
#include "sync/target.h"

#include <chrono>
#include <map>
#include <mutex>
#include <string>
#include <vector>

namespace mf {

// Messages a folder's copy failed on in one session, kept for the rest of
// the run: when that session is lost and the engine resumes the folder on a
// new one, they are not sent again but reported as failed. Exchange closes
// the connection as it refuses a message over its size limit (target.cpp),
// so sending it again would cost a session each time and then the folder.
// Shared by the run's workers; the next run tries each message once more.
class RunRefusals {
  public:
    void add(const std::string& folder, const std::vector<MessageProblem>& failed);
    std::vector<MessageProblem> of(const std::string& folder) const;

  private:
    mutable std::mutex m_mutex;
    std::map<std::string, std::vector<MessageProblem>> m_failed;
};

// Where a message the source holds in several folders (Gmail's labels) goes.
enum class Labels : std::uint8_t {
    all,     // into each of its folders; once, labelled, where the target shares messages
    primary, // into the first of its folders pushed (the caller orders them): the primary label
};

struct PushRunOptions {
    bool dry_run = false;
    bool mirror = false;
    double max_delete_share = 0.5; // mirror guard, see mirror_guard()
    bool force = false;            // override the guard
    std::size_t fetch_chunk = 2000;
    // Into an empty target, a large source folder is listed, planned and
    // copied this many messages at a time (see OpenRequest::part_size), so a
    // restore of 100 000 messages never holds the whole listing.
    std::size_t list_part = 1024;
    // After an interrupted run: how long the target must stay unchanged
    // before it is compared with the source (see settle_target).
    std::chrono::milliseconds settle_quiet{500};
    std::chrono::milliseconds settle_limit{10000};
    RunRefusals* refusals = nullptr; // the run's; null: a lost session's failures are tried again
    MessageFilter filter;            // see BackupOptions::filter
    Labels labels = Labels::all;
    // The run's download allowance, shared by the workers (none: no limit),
    // drawn by the listed sizes before each copy batch. What does not fit
    // is counted in FolderReport::deferred and copied by the next run.
    ByteBudget* budget = nullptr;
};

FolderOutcome push_folder(Source& source, Target& target, PushState& state, const FolderInfo& from,
                          const FolderInfo& to, const PushRunOptions& options, Progress& progress);

} // namespace mf
