// Every folder the server lists, and every folder the archive holds, ends
// up in a run's report: the folders a run works on report themselves; these
// are the others, each with the reason it was left out.
#pragma once

#include "backends/archive/state_db.h"
#include "sync/model.h"
#include "sync/progress.h"

#include <string>
#include <vector>

namespace mf::cli {

// Folders of `all` that select_folders() leaves out: not a mailbox
// (\Noselect: holds folders only) or not matching the filters.
std::vector<FolderReport> left_out(const std::vector<FolderInfo>& all,
                                   const std::vector<std::string>& include,
                                   const std::vector<std::string>& exclude);

// Folders the archive holds messages of that the server no longer lists
// (and that the filters would have selected): kept in the archive.
std::vector<FolderReport> gone_from_server(const std::vector<archive::StateDb::FolderSummary>& held,
                                           const std::vector<FolderInfo>& all,
                                           const std::vector<std::string>& include,
                                           const std::vector<std::string>& exclude);

// Moves the folders of `selected` with one of `uses` (parse_special_uses) out of it, each as a
// report of its own that says why (never left out silently).
std::vector<FolderReport> take_special_uses(std::vector<FolderInfo>& selected,
                                            const std::vector<std::string>& uses);

// A folder of the archive by its '/'-joined name (the full one, where the
// state kept it for a shortened directory).
std::string folder_name(const archive::StateDb::FolderSummary& folder);

// A warning for each folder with messages whose shortened directory name is
// all the archive holds of its name (archives from before names were kept).
void warn_of_lost_names(archive::StateDb& db);

} // namespace mf::cli
