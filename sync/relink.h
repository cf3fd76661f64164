// Messages moved on the source from one folder to another (issue 20): the
// archive holds them already, in the folder they came from. Found by their
// identity (Message-ID, size and INTERNALDATE, which a move keeps), they are
// linked by the store (a hard link in Maildir) instead of being downloaded
// and stored a second time. So are messages a source shows in several
// folders under one identity of its own (Gmail's labels: RemoteMessage::
// identity), found by that alone.
#pragma once

#include "sync/plan.h"
#include "sync/progress.h"
#include "sync/source.h"
#include "sync/store.h"

namespace mf {

// First links the plan's new ids whose identity another folder holds
// (FolderStore::link_same); then looks only at the other new ids whose size
// and date a message held in another folder shares (the store answers from an index, so a usual run
// asks the source nothing more); asks the source for those ids' keys in one
// go and has the store link each match. Linked ids leave plan.fetch and are
// counted in report.linked. With Apply::look (a dry run) nothing changes
// but the plan and the count.
Status link_moved(Source& source, FolderStore& store, const Snapshot& snap, BackupPlan& plan,
                  FolderReport& report, Progress& progress, Apply mode);

} // namespace mf
