// Planning a push (migrate, restore, mirror): which source messages to copy,
// which are already on the target (by the recorded mapping, or recognised
// by Message-ID and size, then by Message-ID and INTERNALDATE where the
// target reports another size, or for messages without one by size and date),
// which flags to set, and for a mirror which target messages to delete.
#pragma once

#include "sync/model.h"
#include "sync/source.h"
#include "sync/target.h"

#include <optional>
#include <string>
#include <vector>

namespace mf {

struct PushPlan {
    std::vector<std::string> copy;                            // source ids
    std::vector<std::pair<std::string, std::uint32_t>> adopt; // recognised on the target: record
    std::vector<std::pair<std::uint32_t, Flags>> flags;       // target UID -> source flags
    std::vector<std::uint32_t> remove; // mirror: target UIDs not in the source
    std::vector<std::string> forget;   // mapped, but gone from the target
    std::size_t already = 0;           // on both sides already
    std::size_t filtered = 0;          // left out by the filter
    std::uint64_t copy_bytes = 0;
};

struct PushOptions {
    bool mirror = false; // set flags and delete extras, not just add
    // Messages it leaves out are neither copied nor re-flagged; their
    // copies on the target are kept, even by a mirror.
    MessageFilter filter = {};
};

// `keys` holds Message-IDs of source messages that are not mapped (asked for
// only when the target has unmapped messages). Target messages' message_id
// must be filled for UIDs not in the mapping.
PushPlan plan_push(const Snapshot& source, const std::vector<MessageKey>& keys,
                   const TargetFolder& target, const PushMapping& mapping,
                   const PushOptions& options);

// True when unmapped target messages exist, so matching by content is needed.
std::vector<std::uint32_t> unmapped_target_uids(const TargetFolder& target,
                                                const PushMapping& mapping);
std::vector<std::string> unmapped_source_ids(const Snapshot& source, const PushMapping& mapping,
                                             const TargetFolder& target);

// The mass-deletion guard of a mirror: refuses when a run would delete more
// than `max_share` of a target folder holding more than `small` messages, or
// everything in it when the source folder is empty. Returns the reason.
std::optional<std::string> mirror_guard(std::size_t target_count, std::size_t deletions,
                                        std::size_t source_count, double max_share,
                                        std::size_t small = 5);

} // namespace mf
