// Planning is separate from doing (ninja's Plan vs Builder): plan_backup()
// compares what the source has with what the archive holds and decides,
// without any I/O, what to fetch and which flags to update.
#pragma once

#include "sync/model.h"
#include "sync/source.h"

#include <string>
#include <utility>
#include <vector>

namespace mf {

struct BackupPlan {
    std::vector<std::string> fetch;                     // on the source, not held
    std::vector<std::pair<std::string, Flags>> flags;   // held, flags differ
    std::vector<std::string> gone;                      // held, no longer on the source
    std::size_t held = 0;                               // on the source and held
    std::uint64_t fetch_bytes = 0;
};

// True when the archive's copy of the folder belongs to another validity
// epoch, so ids cannot be compared and messages must be matched by content.
bool needs_revalidation(const Snapshot& remote, const FolderState& local);

BackupPlan plan_backup(const Snapshot& remote, const FolderState& local);

// Pairs held messages with remote ones by Message-ID and size (old id, new
// id). Each message is used at most once, so distinct messages that share a
// Message-ID are both kept; messages without a Message-ID are not matched.
std::vector<std::pair<std::string, std::string>>
match_by_key(const std::vector<HeldMessage>& held, const std::vector<MessageKey>& remote);

} // namespace mf
