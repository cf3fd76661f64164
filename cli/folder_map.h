// Which folders a command works on (--folder and --exclude globs) and what
// they are called on the target (--map SRC=DST).
#pragma once

#include "sync/model.h"
#include "sync/result.h"

#include <string>
#include <utility>
#include <vector>

namespace mf::cli {

bool matches_any(const std::vector<std::string>& globs, const std::string& name);

// Selectable folders whose '/'-joined name matches `include` (all if empty)
// and none of `exclude`.
std::vector<FolderInfo> select_folders(const std::vector<FolderInfo>& all, const std::vector<std::string>& include,
                                       const std::vector<std::string>& exclude);

class FolderMap {
  public:
    static Result<FolderMap> parse(const std::vector<std::string>& specs);
    // "SRC" -> "DST", and "SRC/child" -> "DST/child"; otherwise unchanged.
    FolderInfo apply(const FolderInfo& folder) const;

  private:
    std::vector<std::pair<std::vector<std::string>, std::vector<std::string>>> m_rules;
};

} // namespace mf::cli
