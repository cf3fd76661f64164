// Planning is separate from doing (ninja's Plan vs Builder): plan_backup()
// compares what the source has with what the archive holds and decides,
// without any I/O, what to fetch and which flags to update.
#pragma once

#include "sync/model.h"
#include "sync/source.h"

#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace mf {

// A held message whose identity or labels the source shows otherwise now.
struct LabelUpdate {
    std::string id, identity;
    std::vector<std::string> labels;
};

struct BackupPlan {
    std::vector<std::string> fetch;                   // on the source, not held
    std::vector<std::pair<std::string, Flags>> flags; // held, flags differ
    std::vector<LabelUpdate> labels;                  // held, Snapshot::has_labels, labels differ
    std::vector<std::string> gone;                    // held, no longer on the source
    std::vector<std::string>
        newly_gone; // gone, and on the source at the last run: someone removed them
    std::vector<std::string> reappeared; // on the source again although recorded as gone
    std::size_t held = 0;                // on the source and held
    std::size_t filtered = 0;            // listed, but left out by the filter
    std::uint64_t fetch_bytes = 0;
};

// True when the archive's copy of the folder belongs to another validity
// epoch, so ids cannot be compared and messages must be matched by content.
bool needs_revalidation(const Snapshot& remote, const FolderState& local);

// Messages the filter leaves out are neither fetched nor re-flagged, and
// never gone: a held one stays held whatever the filter hides.
BackupPlan plan_backup(const Snapshot& remote, const FolderState& local,
                       const MessageFilter& filter = {});

// What may be deleted from the source after a backup. Only messages that are
// on the source and held durably qualify; with `older_than`, only those whose
// date is known and older than the cutoff (an unknown date never qualifies).
struct RemovalPolicy {
    bool after_download = false;
    std::optional<std::int64_t> older_than; // epoch seconds cutoff
    bool active() const { return after_download || older_than.has_value(); }
};

// A message the filter leaves out is never deleted: the run did not handle it.
std::vector<std::string> plan_removals(const Snapshot& remote, const std::vector<HeldMessage>& held,
                                       const RemovalPolicy& policy,
                                       const MessageFilter& filter = {});

// Pairs held messages with remote ones by Message-ID and size (old id, new
// id). Each message is used at most once, so distinct messages that share a
// Message-ID are both kept; messages without a Message-ID are not matched.
std::vector<std::pair<std::string, std::string>>
match_by_key(const std::vector<HeldMessage>& held, const std::vector<MessageKey>& remote);

} // namespace mf
