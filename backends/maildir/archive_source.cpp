#include "backends/maildir/archive_source.h"

#include "backends/archive/folder_path.h"
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

// Depth-first walk: each directory with a cur/ is a folder.
void walk(const std::string& dir, std::vector<std::string>& components, std::vector<FolderInfo>& out) {
    for (const auto& name : subdirs(dir)) {
        components.push_back(archive::unescape_component(name).value_or(name));
        std::string path = dir + '/' + name;
        if (is_dir(path + "/cur")) out.push_back(FolderInfo{components, true});
        walk(path, components, out);
        components.pop_back();
    }
}

// CRLF size of a file with LF line ends: what the server counted.
std::uint64_t crlf_size_of(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    char buf[65536];
    std::uint64_t n = 0;
    char prev = 0;
    while (in.read(buf, sizeof buf).gcount() > 0) {
        auto got = static_cast<std::size_t>(in.gcount());
        for (std::size_t i = 0; i < got; ++i) {
            n += (buf[i] == '\n' && prev != '\r') ? 2 : 1;
            prev = buf[i];
        }
    }
    return n;
}

} // namespace

ArchiveSource::ArchiveSource(std::string root) : m_root(std::move(root)) {}

Result<std::vector<FolderInfo>> ArchiveSource::list_folders() {
    if (!is_dir(m_root)) return fail(ErrorKind::usage, Scope::run, "no archive at " + m_root);
    std::vector<FolderInfo> out;
    std::vector<std::string> components;
    walk(m_root, components, out);
    return out;
}

Result<Snapshot> ArchiveSource::open(const FolderInfo& folder) {
    std::string dir = m_root + '/' + archive::relative_folder_path(folder.path);
    KeywordTable keywords;
    keywords.parse(fs::read_small_file(dir + "/dovecot-keywords"));
    Snapshot snap;
    snap.validity = 1; // an archive's file names never change meaning
    m_files.clear();
    for (const char* sub : {"cur", "new"}) {
        std::string path = dir + '/' + sub;
        DIR* d = ::opendir(path.c_str());
        if (!d) continue;
        while (dirent* e = ::readdir(d)) {
            std::string name = e->d_name;
            auto parsed = parse_name(name);
            if (!parsed) continue;
            File f{path + '/' + name, {}};
            struct stat st;
            if (::stat(f.path.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) continue;
            f.message.id = base_of(name);
            f.message.flags = info_to_flags(parsed->info_flags, keywords);
            f.message.internal_date = st.st_mtime;
            f.message.size = parsed->crlf_size.value_or(0);
            if (!parsed->crlf_size) f.message.size = crlf_size_of(f.path);
            snap.messages.push_back(f.message);
            m_files.emplace(f.message.id, std::move(f));
        }
        ::closedir(d);
    }
    std::sort(snap.messages.begin(), snap.messages.end(),
              [](const auto& a, const auto& b) { return a.id < b.id; });
    return snap;
}

Status ArchiveSource::fetch(std::span<const std::string> ids, MessageSink& sink) {
    for (const auto& id : ids) {
        auto it = m_files.find(id);
        if (it == m_files.end()) continue; // deleted meanwhile
        if (auto s = stream_message_file(it->second.path, it->second.message, sink); !s) return s;
    }
    return {};
}

Result<std::vector<MessageKey>> ArchiveSource::keys(const std::vector<std::string>& ids) {
    std::vector<MessageKey> out;
    for (const auto& id : ids) {
        auto it = m_files.find(id);
        if (it == m_files.end()) continue;
        std::ifstream in(it->second.path, std::ios::binary);
        mail::HeaderScanner h;
        char buf[8192];
        while (!h.done() && in.read(buf, sizeof buf).gcount() > 0)
            h.feed(std::string_view(buf, static_cast<std::size_t>(in.gcount())));
        h.finish();
        out.push_back({id, h.message_id(), it->second.message.size});
    }
    return out;
}

Status ArchiveSource::remove(const std::vector<std::string>&) {
    return fail(ErrorKind::usage, Scope::run, "mailferry never deletes from an archive it restores from");
}

} // namespace mf::maildir
