#include "backends/archive/folder_memo.h"

#include "backends/archive/change_token.h"

namespace mf::archive {

Result<FolderMemo> folder_memo(StateDb& db, const std::string& rel_path,
                               const std::string& stamp_now) {
    auto recorded = db.memo(rel_path);
    if (!recorded) return std::unexpected(recorded.error());
    FolderMemo memo = memo_if_unchanged(*recorded, stamp_now);
    auto failures = db.failures(rel_path);
    if (!failures) return std::unexpected(failures.error());
    memo.failures = std::move(*failures);
    return memo;
}

} // namespace mf::archive
