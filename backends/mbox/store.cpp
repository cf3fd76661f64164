#include "backends/mbox/store.h"

#include "backends/archive/change_token.h"
#include "backends/archive/folder_memo.h"
#include "backends/archive/folder_path.h"
#include "backends/mbox/folder.h"

#include <sys/stat.h>

namespace mf::mbox {

MboxStore::MboxStore(std::string root, archive::StateDb& db, bool read_only)
    : m_root(std::move(root)), m_db(db), m_read_only(read_only) {}

std::string file_stamp(const std::string& mbox_path) {
    std::string out;
    for (const std::string& path : {mbox_path, mbox_path + ".mfindex"}) {
        struct stat st;
        if (::stat(path.c_str(), &st) != 0) return {};
        out += std::to_string(st.st_size) + '@' + std::to_string(st.st_mtim.tv_sec) + '.' +
               std::to_string(st.st_mtim.tv_nsec) + ' ';
    }
    return out;
}

Result<FolderMemo> MboxStore::memo(const FolderInfo& folder) {
    std::string rel = archive::relative_folder_path(folder.path);
    if (auto s = m_db.keep_name(folder.path); !s) return std::unexpected(s.error());
    return archive::folder_memo(m_db, rel, file_stamp(m_root + '/' + rel + ".mbox"));
}

Status MboxStore::record_failures(const FolderInfo& folder,
                                  const std::vector<MessageProblem>& failed,
                                  const std::vector<std::string>& cleared) {
    return m_db.record_failures(archive::relative_folder_path(folder.path), failed, cleared);
}

Result<std::string> MboxStore::path_of(const FolderInfo& folder) {
    std::string rel = archive::relative_folder_path(folder.path);
    if (!m_read_only) return rel;
    if (!m_lost) {
        auto summaries = m_db.summaries();
        if (!summaries) return std::unexpected(summaries.error());
        m_lost.emplace();
        for (auto& f : *summaries)
            if (f.name_lost) m_lost->emplace(std::move(f.name), f.path);
    }
    auto lost = m_lost->find(folder.path);
    return lost == m_lost->end() ? rel : lost->second;
}

Result<std::unique_ptr<FolderStore>> MboxStore::open_folder(const FolderInfo& folder,
                                                            std::uint32_t validity) {
    auto path = path_of(folder);
    if (!path) return std::unexpected(path.error());
    const std::string& rel = *path;
    if (rel.empty()) return fail(ErrorKind::protocol, Scope::folder, "a folder with an empty name");
    auto record = rel == archive::relative_folder_path(folder.path) ? m_db.folder(folder.path)
                                                                    : m_db.folder(rel);
    if (!record) return std::unexpected(record.error());
    return std::unique_ptr<FolderStore>(std::make_unique<MboxFolder>(
        m_root + '/' + rel + ".mbox", m_db, *record, validity, m_read_only));
}

} // namespace mf::mbox
