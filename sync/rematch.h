// Messages the archive holds that come back to the server under new ids of
// the same validity: after a restore into the account, or another tool's
// upload (issue 20). Matched by their identity (sync/identity.h) among the
// messages of the same size and INTERNALDATE, they are renamed in the
// archive instead of being downloaded and stored a second time.
#pragma once

#include "sync/plan.h"
#include "sync/progress.h"
#include "sync/source.h"
#include "sync/store.h"

namespace mf {

// Looks only where the plan has both held messages the listing no longer
// names and new ids of the same size and date (so a usual run asks the source
// nothing more); asks the source for those ids' keys in one go, renames the
// matches, and plans again. `state` and `plan` are updated. With
// Apply::look (a dry run) nothing is renamed: the matches only leave the plan.
Status rematch_returned(Source& source, FolderStore& store, const Snapshot& snap,
                        FolderState& state, BackupPlan& plan, FolderReport& report,
                        Progress& progress, Apply mode);

} // namespace mf
