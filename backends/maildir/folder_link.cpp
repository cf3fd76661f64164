// A message moved on the source from another folder whose file the archive
// holds: the file is hard-linked into this folder's cur/ under a new name
// (sync/relink.h), not downloaded again.
#include "backends/maildir/folder.h"

#include "backends/common/crashpoint.h"

#include <cerrno>
#include <dirent.h>
#include <unistd.h>

namespace mf::maildir {

namespace {

// Failures of link(2) that say "not here", not "broken": the file system
// cannot link (another device, no hard links, too many links), or the
// held file went away (removed by a mirror run meanwhile). The message is
// then fetched as any other.
bool fetch_instead(int err) {
    return err == EXDEV || err == EPERM || err == EMLINK || err == ENOENT || err == ENOTSUP ||
           err == EOPNOTSUPP || err == EACCES;
}

// A Maildir's files by base name.
std::unordered_map<std::string, std::string> files_by_base(const std::string& dir) {
    std::unordered_map<std::string, std::string> out;
    for (const char* sub : {"cur", "new"}) {
        DIR* d = ::opendir((dir + '/' + sub).c_str());
        if (!d) continue;
        while (dirent* e = ::readdir(d)) {
            std::string_view name = e->d_name;
            if (!name.starts_with('.'))
                out.emplace(base_of(name), std::string(sub) + '/' + std::string(name));
        }
        ::closedir(d);
    }
    return out;
}

} // namespace

Result<std::vector<std::string>>
MaildirFolder::held_elsewhere_like(const std::vector<RemoteMessage>& listed) {
    std::vector<std::string> out;
    for (const auto& m : listed) {
        // An unknown date or size matches too much to be worth a question.
        if (m.size == 0 || m.internal_date == 0) continue;
        auto found = m_db.held_elsewhere_like(m_record.key, m.size, m.internal_date);
        if (!found) return std::unexpected(found.error());
        if (*found) out.push_back(m.id);
    }
    return out;
}

std::string MaildirFolder::held_copy_path(const archive::StateDb::HeldCopy& copy) {
    const std::string dir = m_root + '/' + copy.folder_path;
    auto it = m_elsewhere.find(dir);
    if (it == m_elsewhere.end()) it = m_elsewhere.emplace(dir, files_by_base(dir)).first;
    auto file = it->second.find(copy.location);
    return file == it->second.end() ? std::string() : dir + '/' + file->second;
}

// Crash safety is a delivery's: the link is made in cur/ under a name of
// this folder's validity and the message's id, and recorded at commit after
// cur/ is synced. A crash before the record leaves a whole file that the
// next load() adopts, as after a crash between rename and commit.
Result<bool> MaildirFolder::link_held(const RemoteMessage& message, const std::string& message_id,
                                      Apply mode) {
    auto copies =
        m_db.held_elsewhere(m_record.key, message.size, message.internal_date, message_id);
    if (!copies) return std::unexpected(copies.error());
    return link_to_copy(message, *copies, message_id, mode);
}

// The identity says it is the same message: its Message-ID is the copy's.
Result<bool> MaildirFolder::link_same(const RemoteMessage& message, Apply mode) {
    if (message.identity.empty()) return false;
    auto copies = m_db.held_elsewhere(m_record.key, message.identity);
    if (!copies) return std::unexpected(copies.error());
    for (const auto& copy : *copies) {
        auto linked = link_to_copy(message, {copy}, copy.message_id, mode);
        if (!linked || *linked) return linked;
    }
    return false;
}

Result<bool> MaildirFolder::link_to_copy(const RemoteMessage& message,
                                         const std::vector<archive::StateDb::HeldCopy>& copies,
                                         const std::string& message_id, Apply mode) {
    for (const auto& copy : copies) {
        const std::string from = held_copy_path(copy);
        if (from.empty()) continue; // the row outlived its file: the next load forgets it
        if (mode == Apply::look) return true;
        if (auto s = ensure_dirs(); !s) return std::unexpected(s.error());
        std::string name = file_name(message.id, message.size, message.flags);
        const std::string to = m_dir + "/cur/" + name;
        if (::link(from.c_str(), to.c_str()) != 0) {
            if (fetch_instead(errno)) continue;
            return std::unexpected(fs::io_error("cannot link " + from + " as", to, errno));
        }
        test::durable_step("maildir file linked from another folder");
        archive::StoredMessage row{message.id,
                                   base_of(name),
                                   message.flags,
                                   message.size,
                                   message_id,
                                   message.internal_date,
                                   0,
                                   message.identity,
                                   message.labels};
        // Already in cur/: commit only syncs the directory and records it.
        m_pending.push_back(Pending{"", std::move(name), std::move(row), "cur", {}});
        return true;
    }
    return false;
}

} // namespace mf::maildir
