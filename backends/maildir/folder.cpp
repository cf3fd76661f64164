#include "backends/maildir/folder.h"

#include <sys/stat.h>

namespace mf::maildir {

std::string directory_stamp(const std::string& dir) {
    std::string out;
    for (const char* sub : {"/cur", "/new"}) {
        struct stat st;
        if (::stat((dir + sub).c_str(), &st) != 0) return {};
        out += std::to_string(st.st_mtim.tv_sec) + '.' + std::to_string(st.st_mtim.tv_nsec) + ' ';
    }
    return out;
}

// The part of a name that never changes (flags and our fields follow it).
std::string_view base_view(std::string_view name) {
    return name.substr(0, name.find_first_of(",:!"));
}

std::string base_of(std::string_view name) {
    return std::string(base_view(name));
}

std::optional<std::uint32_t> validity_of(std::string_view unique) {
    auto at = unique.find(",V=");
    if (at == std::string_view::npos) return std::nullopt;
    std::string_view digits = unique.substr(at + 3);
    digits = digits.substr(0, digits.find(','));
    if (digits.empty() || digits.size() > 10) return std::nullopt;
    std::uint64_t v = 0;
    for (char c : digits) {
        if (c < '0' || c > '9') return std::nullopt;
        v = v * 10 + static_cast<std::uint64_t>(c - '0');
    }
    if (v > 0xffffffffu) return std::nullopt;
    return static_cast<std::uint32_t>(v);
}

MaildirFolder::MaildirFolder(std::string root, const std::string& rel, archive::StateDb& db,
                             archive::FolderRecord record, std::uint32_t source_validity,
                             bool read_only)
    : m_root(std::move(root)), m_dir(m_root + '/' + rel), m_db(db), m_record(record),
      m_validity(record.known ? record.validity : source_validity), m_read_only(read_only) {}

MaildirFolder::~MaildirFolder() {
    abandon();
}

Status MaildirFolder::ensure_dirs() {
    if (m_dirs_ready) return {};
    for (const char* sub : {"/cur", "/new", "/tmp"}) {
        if (auto s = fs::make_dirs(m_dir + sub); !s) return s;
    }
    m_dirs_ready = true;
    return {};
}

Status MaildirFolder::save_keywords() {
    if (!m_keywords.modified()) return {};
    if (auto s = ensure_dirs(); !s) return s;
    auto s = fs::replace_file(m_dir + "/dovecot-keywords", m_keywords.serialize());
    if (s) m_keywords.parse(m_keywords.serialize()); // clears modified()
    return s;
}

} // namespace mf::maildir
