// How the engine tells the outside world what it is doing. The command line
// draws progress bars or log lines from these calls; the engine never prints.
#pragma once

#include "sync/model.h"

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace mf {

struct FolderReport {
    std::string folder;
    // A push: the folder's name as the target names it.
    std::string target_folder;
    std::size_t found = 0;    // messages on the source
    std::size_t held = 0;     // already in the archive before this run
    std::size_t filtered = 0; // on the source, left out by --since, --before or --max-size
    std::size_t planned = 0;  // to fetch, as planned (what a dry run reports)
    std::size_t fetched = 0;  // newly stored and committed
    std::size_t failed = 0;   // planned but not stored because of an error
    std::size_t vanished = 0; // planned, but expunged on the source meanwhile
    std::size_t flags_updated = 0;
    std::size_t gone = 0;              // in the archive, no longer on the source (kept)
    std::size_t removed_by_others = 0; // gone since the last run, not deleted by mailferry
    std::size_t deleted = 0;           // deleted from the source by this run (by request)
    std::size_t planned_deletions = 0;
    std::size_t rematched = 0;   // held, matched by identity under new ids (not fetched)
    std::size_t linked = 0;      // moved from another held folder: linked, not fetched
                                 // (a push: labelled, or on the target already, not uploaded)
    std::size_t elsewhere = 0;   // a push of a primary label only: left to another folder
    std::size_t marked_read = 0; // marked read by the source when fetched (archived as unread)
    std::size_t marked_unread_again = 0; // of those, marked unread on the source again (on request)
    std::uint64_t bytes = 0;             // bytes fetched
    // Listed, not held, and left for the next run: the byte budget
    // (--max-bytes, a daily allowance) ran out. Not failed, not vanished.
    std::size_t deferred = 0;
    std::uint64_t deferred_bytes = 0;
    bool revalidated = false;
    bool unchanged = false;     // the source said nothing changed: not listed
    bool not_attempted = false; // the run stopped before this folder (error says why)
    std::size_t sessions = 1;   // sessions the folder took (more after a lost connection)
    std::vector<MessageProblem>
        failed_messages; // each failed message, named (also counted in `failed`)
    std::vector<MessageProblem>
        skipped_messages; // failed in too many runs: not tried (BackupOptions::skip_after)
    std::vector<MessageProblem> changed_messages; // bytes changed as asked (what: how)
    std::string error;                            // "" when the folder completed
    // Not worked on, and why (not a mailbox, excluded, gone from the
    // server); such a report carries no counts and no error.
    std::string left_out;
};

// How progress lines name a folder: "INBOX", or for a push the source
// folder and where it goes, "INBOX → Old/INBOX".
std::string folder_label(const FolderReport& report);

// One line naming the first few failed messages with the server's words:
// "2 messages could not be <verb>: id 7: ...; id 31: ...".
std::string describe_failed(const std::vector<MessageProblem>& failed, std::string_view verb);

class Progress {
  public:
    virtual ~Progress() = default;
    // `messages` to copy, of `bytes`; for a folder listed in parts the
    // bytes are estimated from the first part (`estimated`).
    virtual void folder_started(const std::string& folder, std::size_t messages,
                                std::uint64_t bytes, bool estimated) = 0;
    virtual void message_done(std::uint64_t bytes) = 0;
    virtual void folder_finished(const FolderReport& report) = 0;
    virtual void note(const std::string& line) = 0; // engine decisions, for --verbose
};

// Tells `progress` that copying `folder` starts: `messages` of `bytes` as
// planned, or for a folder listed in parts (snap.more), the whole folder,
// with the bytes estimated from the first part (nothing is held of such a
// folder, so all of it is to be copied).
void start_folder(Progress& progress, const std::string& folder, const Snapshot& snap,
                  std::size_t messages, std::uint64_t bytes);

} // namespace mf
