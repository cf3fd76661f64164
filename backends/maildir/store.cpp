#include "backends/maildir/store.h"

#include "backends/archive/change_token.h"
#include "backends/archive/folder_memo.h"
#include "backends/archive/folder_path.h"
#include "backends/maildir/folder.h"

namespace mf::maildir {

MaildirStore::MaildirStore(std::string root, archive::StateDb& db, bool read_only)
    : m_root(std::move(root)), m_db(db), m_read_only(read_only) {}

Result<FolderMemo> MaildirStore::memo(const FolderInfo& folder) {
    std::string rel = archive::relative_folder_path(folder.path);
    if (auto s = m_db.keep_name(folder.path); !s) return std::unexpected(s.error());
    return archive::folder_memo(m_db, rel, directory_stamp(m_root + '/' + rel));
}

Status MaildirStore::record_failures(const FolderInfo& folder,
                                     const std::vector<MessageProblem>& failed,
                                     const std::vector<std::string>& cleared) {
    return m_db.record_failures(archive::relative_folder_path(folder.path), failed, cleared);
}

Result<std::unique_ptr<FolderStore>> MaildirStore::open_folder(const FolderInfo& folder,
                                                               std::uint32_t validity) {
    std::string rel = archive::relative_folder_path(folder.path);
    if (rel.empty()) return fail(ErrorKind::protocol, Scope::folder, "a folder with an empty name");
    auto record = m_db.folder(folder.path);
    if (!record) return std::unexpected(record.error());
    return std::unique_ptr<FolderStore>(
        std::make_unique<MaildirFolder>(m_root, rel, m_db, *record, validity, m_read_only));
}

} // namespace mf::maildir
