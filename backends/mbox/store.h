// An mbox archive: one mboxrd file per folder, ARCHIVE/<folder path>.mbox
// (folder "Work" is Work.mbox, its child "Work/Projects" is Work/Projects.mbox,
// INBOX is INBOX.mbox), with an index beside each: <file>.mbox.mfindex.
//
// The mbox holds the messages (From_ line with the INTERNALDATE, ">From "
// quoting, LF line ends; see mboxrd.h); bytes once written are never edited.
// The index is the mbox equivalent of the Maildir file names: it makes the
// archive self-describing, so a lost state database is rebuilt from it.
//
// The index format is described in index.h.
#pragma once

#include "backends/archive/state_db.h"
#include "sync/store.h"

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace mf::mbox {

class MboxStore : public Store {
  public:
    // `db` outlives the store. Nothing is created on disk until a message
    // is delivered, so a dry run leaves no trace.
    MboxStore(std::string root, archive::StateDb& db, bool read_only = false);
    Result<std::unique_ptr<FolderStore>> open_folder(const FolderInfo& folder,
                                                     std::uint32_t validity) override;
    Result<FolderMemo> memo(const FolderInfo& folder) override;
    Status record_failures(const FolderInfo& folder, const std::vector<MessageProblem>& failed,
                           const std::vector<std::string>& cleared) override;

  private:
    // Read-only: where a folder of an archive older than kept names is,
    // which StoreSource names by its shortened path (no escaping leads
    // back there). Read once, on the first folder opened.
    Result<std::string> path_of(const FolderInfo& folder);

    std::string m_root;
    archive::StateDb& m_db;
    bool m_read_only;
    std::optional<std::map<std::vector<std::string>, std::string>> m_lost;
};

// Size and modification time of a folder's mbox and index: recorded with
// the change token, so that a token counts only while both files are as the
// run that recorded it left them (a mail reader may have rewritten the mbox).
std::string file_stamp(const std::string& mbox_path);

} // namespace mf::mbox
