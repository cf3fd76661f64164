#include "backends/maildir/store.h"

#include "backends/archive/change_token.h"
#include "backends/archive/folder_path.h"
#include "backends/maildir/folder.h"

namespace mf::maildir {

MaildirStore::MaildirStore(std::string root, archive::StateDb& db, bool read_only)
    : m_root(std::move(root)), m_db(db), m_read_only(read_only) {}

Result<FolderMemo> MaildirStore::memo(const FolderInfo& folder) {
    std::string rel = archive::relative_folder_path(folder.path);
    auto m = m_db.memo(rel);
    if (!m) return std::unexpected(m.error());
    return archive::memo_if_unchanged(*m, directory_stamp(m_root + '/' + rel));
}

Result<std::unique_ptr<FolderStore>> MaildirStore::open_folder(const FolderInfo& folder,
                                                               std::uint32_t validity) {
    std::string rel = archive::relative_folder_path(folder.path);
    if (rel.empty()) return fail(ErrorKind::protocol, Scope::folder, "a folder with an empty name");
    auto record = m_db.folder(rel);
    if (!record) return std::unexpected(record.error());
    return std::unique_ptr<FolderStore>(
        std::make_unique<MaildirFolder>(m_root + '/' + rel, m_db, *record, validity, m_read_only));
}

} // namespace mf::maildir
