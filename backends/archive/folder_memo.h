// What a store tells the engine of a folder before the folder is opened.
#pragma once

#include "backends/archive/state_db.h"
#include "sync/store.h"

#include <string>

namespace mf::archive {

// The memo of the folder at `rel_path`: its change token if the archive's
// stamp is still `stamp_now` (see memo_if_unchanged), what it holds, and
// the messages that failed in earlier runs.
Result<FolderMemo> folder_memo(StateDb& db, const std::string& rel_path,
                               const std::string& stamp_now);

} // namespace mf::archive
