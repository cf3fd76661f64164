#include "backends/maildir/archive_source.h"

#include "backends/archive/folder_path.h"
#include "backends/archive/state_db.h"
#include "backends/common/crlf.h"
#include "backends/common/fs.h"
#include "backends/common/headers.h"
#include "backends/maildir/folder.h"
#include "backends/maildir/names.h"
#include "backends/maildir/read_back.h"

#include <algorithm>
#include <cerrno>
#include <dirent.h>
#include <fcntl.h>
#include <fstream>
#include <map>
#include <sstream>
#include <sys/stat.h>
#include <unistd.h>

namespace mf::maildir {

namespace {

bool is_dir(const std::string& path) {
    struct stat st;
    return ::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

std::vector<std::string> subdirs(const std::string& dir) {
    std::vector<std::string> out;
    DIR* d = ::opendir(dir.c_str());
    if (!d) return out;
    while (dirent* e = ::readdir(d)) {
        std::string name = e->d_name;
        if (name.starts_with('.') || name == "cur" || name == "new" || name == "tmp") continue;
        if (is_dir(dir + '/' + name)) out.push_back(name);
    }
    ::closedir(d);
    std::sort(out.begin(), out.end());
    return out;
}

// The archive's state database, read-only; none for a Maildir without one
// (not written by mailferry) or one that cannot be read.
std::unique_ptr<archive::StateDb> state_db_of(const std::string& root) {
    std::string path = root + "/.mailferry/state.db";
    if (::access(path.c_str(), F_OK) != 0) return nullptr;
    auto db = archive::StateDb::open_read_only(path);
    return db ? std::move(*db) : nullptr;
}

// The full names the state database kept for shortened directories, by
// relative path. None for a Maildir without one.
std::map<std::string, std::vector<std::string>> kept_names(const std::string& root) {
    std::map<std::string, std::vector<std::string>> out;
    auto db = state_db_of(root);
    if (!db) return out;
    auto summaries = db->summaries();
    if (!summaries) return out;
    for (auto& f : *summaries)
        if (!f.name_lost) out.emplace(f.path, std::move(f.name));
    return out;
}

// Each message's identity as the backup recorded it (Gmail's X-GM-MSGID),
// by the file's base name, sorted: only those that have one, so a folder not
// backed up from Gmail costs nothing. None without a state database.
std::vector<std::pair<std::string, std::string>> recorded_identities(const std::string& root,
                                                                     const std::string& rel) {
    std::vector<std::pair<std::string, std::string>> out;
    auto db = state_db_of(root);
    if (!db) return out;
    auto folder = db->folder(rel);
    if (!folder || folder->key == 0) return out;
    auto s = db->each_message(
        folder->key,
        [&](archive::StoredMessage&& m) {
            if (!m.identity.empty()) out.emplace_back(std::move(m.location), std::move(m.identity));
        },
        false);
    if (!s) out.clear(); // unreadable: the push knows these messages as without it
    std::sort(out.begin(), out.end());
    return out;
}

struct Walk {
    const std::map<std::string, std::vector<std::string>>& names;
    std::map<std::vector<std::string>, std::string>& dirs;
    std::vector<FolderInfo>& out;

    // Depth-first: each directory with a cur/ is a folder. `components` is
    // the name as the path spells it, `rel` the path.
    void operator()(const std::string& dir, const std::string& rel,
                    std::vector<std::string>& components) {
        for (const auto& name : subdirs(dir)) {
            components.push_back(archive::unescape_component(name).value_or(name));
            std::string sub = rel.empty() ? name : rel + '/' + name;
            if (is_dir(dir + '/' + name + "/cur")) add(sub, components);
            (*this)(dir + '/' + name, sub, components);
            components.pop_back();
        }
    }
    void add(const std::string& rel, const std::vector<std::string>& components) {
        auto kept = names.find(rel);
        const auto& name = kept == names.end() ? components : kept->second;
        dirs.emplace(name, rel);
        out.push_back(FolderInfo{name, true});
    }
};

// A directory entry that may be a message file: a regular file, or a link
// to one. d_type saves a stat of each file where the file system gives it.
bool maybe_file(const std::string& dir, const dirent& e) {
    if (e.d_type == DT_REG) return true;
    if (e.d_type != DT_UNKNOWN && e.d_type != DT_LNK) return false;
    struct stat st;
    return ::stat((dir + '/' + e.d_name).c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

constexpr std::size_t k_names_block = 64 * 1024;

} // namespace

ArchiveSource::ArchiveSource(std::string root) : m_root(std::move(root)) {}

Result<std::vector<FolderInfo>> ArchiveSource::list_folders() {
    if (!is_dir(m_root)) return fail(ErrorKind::usage, Scope::account, "no archive at " + m_root);
    std::vector<FolderInfo> out;
    std::vector<std::string> components;
    auto names = kept_names(m_root);
    m_dirs.clear();
    Walk{names, m_dirs, out}(m_root, "", components);
    return out;
}

std::string_view ArchiveSource::id_of(const File& file) {
    return base_view(name_of(file));
}

std::string ArchiveSource::path_of(const File& file) const {
    std::string path = m_dir;
    path += file.in_new ? "/new/" : "/cur/";
    path += name_of(file);
    return path;
}

void ArchiveSource::add_file(std::string_view name, bool in_new) {
    if (m_names.empty() || m_names_free < name.size()) {
        m_names.push_back(std::make_unique_for_overwrite<char[]>(k_names_block));
        m_names_free = k_names_block;
    }
    char* at = m_names.back().get() + (k_names_block - m_names_free);
    std::copy(name.begin(), name.end(), at);
    m_names_free -= name.size();
    m_files.push_back(File{at, static_cast<std::uint16_t>(name.size()), in_new});
}

// The date is the file's mtime; the size is W= when the name has one.
std::optional<RemoteMessage> ArchiveSource::describe(const File& file, const struct stat& st,
                                                     bool count) const {
    auto parsed = parse_name(name_of(file));
    if (!parsed) return std::nullopt;
    RemoteMessage m;
    m.id = std::string(id_of(file));
    m.flags = info_to_flags(parsed->info_flags, m_keywords);
    m.internal_date = st.st_mtime;
    m.identity = identity_of(m.id);
    if (parsed->crlf_size)
        m.size = *parsed->crlf_size;
    else if (count)
        m.size = crlf_size_of(path_of(file)).value_or(0);
    return m;
}

Result<Snapshot> ArchiveSource::list(const FolderInfo& folder) {
    // A shortened directory whose full name was never kept is found by the
    // name the walk gave it, which no escaping leads back to.
    auto dir = m_dirs.find(folder.path);
    const std::string rel =
        dir != m_dirs.end() ? dir->second : archive::relative_folder_path(folder.path);
    m_dir = m_root + '/' + rel;
    m_identities = recorded_identities(m_root, rel);
    m_keywords = KeywordTable();
    m_keywords.parse(fs::read_small_file(m_dir + "/dovecot-keywords"));
    Snapshot snap;
    snap.validity = 1; // an archive's file names never change meaning
    m_files.clear();
    m_names.clear();
    for (const char* sub : {"cur", "new"}) {
        std::string path = m_dir + '/' + sub;
        DIR* d = ::opendir(path.c_str());
        if (!d) continue;
        while (dirent* e = ::readdir(d)) {
            std::string_view name = e->d_name;
            // NAME_MAX keeps a name within File::length.
            if (parse_name(name) && maybe_file(path, *e)) add_file(name, sub[0] == 'n');
        }
        ::closedir(d);
    }
    // Sorted by id, the files alone: each message is described as it goes
    // into the snapshot, so no second list of the folder is held while
    // sorting.
    std::sort(m_files.begin(), m_files.end(),
              [](const File& a, const File& b) { return id_of(a) < id_of(b); });
    m_files.shrink_to_fit();
    m_listed = 0;
    describe_next(snap);
    return snap;
}

Result<Snapshot> ArchiveSource::open(const FolderInfo& folder, const OpenRequest& request) {
    m_part_size = request.part_size;
    auto snap = list(folder);
    if (snap && snap->more) snap->listing = ListingKind::parts;
    return snap;
}

// The next part of the listing (all of it, when not in parts).
void ArchiveSource::describe_next(Snapshot& snap) {
    std::size_t count = m_files.size() - m_listed;
    if (m_part_size > 0) count = std::min(count, m_part_size);
    snap.messages.clear();
    snap.messages.reserve(count);
    struct stat st;
    for (std::size_t i = m_listed; i < m_listed + count; ++i) {
        // Gone or changed into something else since the directory was read:
        // not part of the folder any more.
        if (::stat(path_of(m_files[i]).c_str(), &st) != 0 || !S_ISREG(st.st_mode)) continue;
        if (auto m = describe(m_files[i], st)) snap.messages.push_back(std::move(*m));
    }
    m_listed += count;
    snap.more = m_listed < m_files.size();
    snap.total = m_files.size();
}

Status ArchiveSource::next_part(Snapshot& snap) {
    describe_next(snap);
    return {};
}

const ArchiveSource::File* ArchiveSource::find(std::string_view id) const {
    auto it = std::lower_bound(m_files.begin(), m_files.end(), id,
                               [](const File& f, std::string_view v) { return id_of(f) < v; });
    if (it == m_files.end() || id_of(*it) != id) return nullptr;
    return &*it;
}

std::string ArchiveSource::identity_of(std::string_view id) const {
    auto it = std::lower_bound(m_identities.begin(), m_identities.end(), id,
                               [](const auto& e, std::string_view v) { return e.first < v; });
    if (it == m_identities.end() || it->first != id) return {};
    return it->second;
}

Status ArchiveSource::fetch(std::span<const std::string> ids, MessageSink& sink) {
    for (const auto& id : ids) {
        const File* file = find(id);
        if (!file) continue;
        std::string path = path_of(*file);
        struct stat st {};
        // Deleted or renamed since open(): it counts as vanished, as a
        // message expunged from a server during a run does. Anything else
        // that is wrong with it is for reading the file to report.
        if (::stat(path.c_str(), &st) != 0 && errno == ENOENT) continue;
        // Without W= the size is left to stream_message_file, which measures
        // the file anyway: not a third reading of it.
        auto message = describe(*file, st, false);
        if (!message) continue;
        if (auto s = stream_message_file(path, *message, sink); !s) {
            // Deleted or renamed since open(): it counts as vanished, as a
            // message expunged from a server during a run does.
            if (::access(path.c_str(), F_OK) != 0 && errno == ENOENT) continue;
            return s;
        }
    }
    return {};
}

Result<std::vector<MessageKey>> ArchiveSource::keys(const std::vector<std::string>& ids) {
    std::vector<MessageKey> out;
    for (const auto& id : ids) {
        const File* file = find(id);
        if (!file) continue;
        std::string path = path_of(*file);
        struct stat st;
        std::ifstream in(path, std::ios::binary);
        if (!in || ::stat(path.c_str(), &st) != 0) continue; // gone since open(): nothing to match
        auto message = describe(*file, st);
        if (!message) continue;
        mail::HeaderScanner h;
        char buf[8192];
        while (!h.done() && in.read(buf, sizeof buf).gcount() > 0)
            h.feed(std::string_view(buf, static_cast<std::size_t>(in.gcount())));
        h.finish();
        out.push_back({id, h.message_id(), message->size});
    }
    return out;
}

Status ArchiveSource::remove(const std::vector<std::string>&) {
    return fail(ErrorKind::usage, Scope::account,
                "mailferry never deletes from an archive it restores from");
}

} // namespace mf::maildir
