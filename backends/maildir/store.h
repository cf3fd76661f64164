// A Maildir archive: ARCHIVE/<folder path>/{cur,new,tmp}, one Maildir per
// folder, nested folders in subdirectories (Dovecot's LAYOUT=fs), INBOX at
// ARCHIVE/INBOX. The archive's own files live in ARCHIVE/.mailferry/.
//
// Every message file is named <unique>,U=<id>,W=<size>,V=<validity>:2,<flags>
// so the archive describes itself: the state database is rebuilt from the
// names if it is lost, and files a crashed run left unrecorded are adopted.
#pragma once

#include "backends/archive/state_db.h"
#include "sync/store.h"

#include <memory>
#include <string>

namespace mf::maildir {

class MaildirStore : public Store {
  public:
    // `db` outlives the store. Nothing is created on disk until a message
    // is delivered, so a dry run leaves no trace.
    MaildirStore(std::string root, archive::StateDb& db, bool read_only = false);
    Result<std::unique_ptr<FolderStore>> open_folder(const FolderInfo& folder,
                                                     std::uint32_t validity) override;
    Result<FolderMemo> memo(const FolderInfo& folder) override;
    Status record_failures(const FolderInfo& folder, const std::vector<MessageProblem>& failed,
                           const std::vector<std::string>& cleared) override;

  private:
    std::string m_root;
    archive::StateDb& m_db;
    bool m_read_only;
};

} // namespace mf::maildir
