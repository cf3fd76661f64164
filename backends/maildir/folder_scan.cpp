#include "backends/maildir/folder.h"

#include "backends/maildir/read_back.h"
#include "sync/sorted_index.h"

#include <cerrno>
#include <dirent.h>

#include <algorithm>

namespace mf::maildir {

// Lists cur/ and new/ by base name, and removes what a crashed run of ours
// left in tmp/.
Status MaildirFolder::scan() {
    m_scan = Scan{};
    Scan& found = m_scan;
    for (const char* sub : {"cur", "new"}) {
        std::string path = m_dir + '/' + sub;
        DIR* d = ::opendir(path.c_str());
        if (!d) {
            if (errno == ENOENT) continue;
            return std::unexpected(fs::io_error("cannot read directory", path, errno));
        }
        while (dirent* e = ::readdir(d)) {
            std::string_view name = e->d_name;
            if (!name.starts_with('.')) found.files.emplace_back(sub, name);
        }
        ::closedir(d);
    }
    found.index();
    m_scanned = true;
    return clean_tmp();
}

// What a crashed run of ours left in tmp/ was never durable nor recorded:
// safe to drop. Other programs' files there are left alone.
Status MaildirFolder::clean_tmp() {
    m_dirs_ready = fs::exists(m_dir + "/tmp");
    if (m_read_only || !m_dirs_ready) return {};
    std::string path = m_dir + "/tmp";
    DIR* d = ::opendir(path.c_str());
    if (!d) return std::unexpected(fs::io_error("cannot read directory", path, errno));
    while (dirent* e = ::readdir(d)) {
        std::string_view name = e->d_name;
        if (!name.starts_with('.') && name.find(".mailferry") != std::string_view::npos)
            ::unlink((path + '/' + std::string(name)).c_str());
    }
    ::closedir(d);
    return {};
}

void MaildirFolder::Scan::index() {
    removed.assign(files.size(), false);
    base_length.resize(files.size());
    for (std::size_t i = 0; i < files.size(); ++i)
        base_length[i] = static_cast<std::uint8_t>(
            std::min<std::size_t>(base_view(files[i].name()).size(), 255));
    order = sorted_index(files.size(), [&](std::uint32_t i) { return base(i); });
}

// The first file with that base (two files sharing one happen only by hand).
std::optional<std::size_t> MaildirFolder::Scan::find(std::string_view wanted) const {
    auto it = lower_bound_in(order, wanted, [&](std::uint32_t i) { return base(i); });
    if (it == order.end() || base(*it) != wanted) return std::nullopt;
    return *it;
}

// The file of a held message, by its base name from the database: in
// load()'s listing, or for a message committed since, by a directory scan.
Result<std::optional<MaildirFolder::OnDisk>>
MaildirFolder::locate(const std::string& id, std::optional<std::size_t>* scan_index) {
    auto base = m_db.location(m_record.key, id);
    if (!base) return std::unexpected(base.error());
    if (base->empty()) return std::optional<OnDisk>();
    // After held_among() the folder was not listed: list it now, once, rather
    // than read the directory again for every file to find.
    if (!m_scanned)
        if (auto s = scan(); !s) return std::unexpected(s.error());
    if (auto i = m_scan.find(*base); i && !m_scan.removed[*i]) {
        if (scan_index) *scan_index = i;
        return m_scan.files[*i];
    }
    return find_base(*base);
}

std::optional<MaildirFolder::OnDisk> MaildirFolder::find_base(std::string_view base) const {
    return find_base_in(m_dir, base);
}

std::optional<MaildirFolder::OnDisk> MaildirFolder::find_base_in(const std::string& dir,
                                                                 std::string_view base) {
    for (const char* sub : {"cur", "new"}) {
        DIR* d = ::opendir((dir + '/' + sub).c_str());
        if (!d) continue;
        std::optional<OnDisk> found;
        while (dirent* e = ::readdir(d))
            if (base_view(e->d_name) == base) {
                found = OnDisk(sub, e->d_name);
                break;
            }
        ::closedir(d);
        if (found) return found;
    }
    return std::nullopt;
}

Status MaildirFolder::read(const std::string& id, MessageSink& sink) {
    auto located = locate(id);
    if (!located) return std::unexpected(located.error());
    if (!*located)
        return fail(ErrorKind::not_found, Scope::message, "message " + id + " is not held");
    RemoteMessage m;
    m.id = id;
    return stream_message_file(path_of(**located), m, sink);
}

} // namespace mf::maildir
