#include "backends/open/archive.h"

#include "backends/archive/folder_path.h"
#include "backends/common/fs.h"
#include "backends/maildir/store.h"
#include "backends/mbox/store.h"

#include <cerrno>
#include <ctime>
#include <sys/stat.h>
#include <unistd.h>

namespace mf::archive {

namespace {

Failure usage(std::string what) {
    return Failure{ErrorKind::usage, Scope::account, std::move(what)};
}

Failure not_an_archive(const std::string& root) {
    return usage(root + " is not a mailferry archive (no .mailferry/state.db)");
}

// The archive must hold one account in one format; a mismatch is refused
// before anything is written. An archive that has not recorded them yet
// (no run has logged in) is anyone's.
Status check_identity(StateDb& db, const ArchiveOptions& o) {
    auto source = db.meta("source");
    if (!source) return std::unexpected(source.error());
    if (!source->empty() && *source != o.source)
        return std::unexpected(usage("the archive " + o.root + " holds a backup of " + *source +
                                     ", not of " + o.source + "; use another archive folder"));
    auto format = db.meta("format");
    if (!format) return std::unexpected(format.error());
    if (!format->empty() && *format != format_name(*o.format))
        return std::unexpected(usage("the archive " + o.root + " is in " + *format +
                                     " format, not " + format_name(*o.format) + "; use --format " +
                                     *format + " or leave --format out"));
    return {};
}

// Whether the state database is there. One that cannot be looked at (a
// folder on the way that refuses this user) is not a missing one: the
// failure names the path, its owner and mode, and the user (issue 21).
Result<bool> has_state(const std::string& db_path) {
    struct stat st;
    if (::lstat(db_path.c_str(), &st) == 0) return true;
    if (errno == ENOENT || errno == ENOTDIR) return false; // ENOTDIR: said when creating it
    return std::unexpected(fs::io_error("cannot read", db_path, errno));
}

// SQLite only says "unable to open database file"; the user who cannot
// write the database or create its -wal and -shm beside it is told why.
Status check_access(const std::string& db_path, Mode mode) {
    const bool writes = mode == Mode::write;
    const std::string dir = db_path.substr(0, db_path.rfind('/'));
    if (::access(db_path.c_str(), writes ? R_OK | W_OK : R_OK) != 0)
        return std::unexpected(
            fs::io_error(writes ? "cannot write" : "cannot read", db_path, errno));
    if (writes && ::access(dir.c_str(), W_OK | X_OK) != 0)
        return std::unexpected(fs::io_error("cannot write in", dir, errno));
    return {};
}

} // namespace

Status Archive::note_run(const FolderInfo& folder, const std::string& error) {
    auto record = m_db->folder(relative_folder_path(folder.path));
    if (!record) return std::unexpected(record.error());
    return m_db->note_run(record->key, static_cast<std::int64_t>(std::time(nullptr)), error);
}

Result<std::unique_ptr<StateDb>> Archive::read_state(const std::string& root) {
    std::string path = root + "/.mailferry/state.db";
    auto exists = has_state(path);
    if (!exists) return std::unexpected(exists.error());
    if (!*exists) return std::unexpected(not_an_archive(root));
    if (auto s = check_access(path, Mode::read_only); !s) return std::unexpected(s.error());
    return StateDb::open_read_only(path);
}

// Called once the source's login succeeded: a run that failed before (a
// wrong host, password or port) leaves an archive no account owns, which
// the corrected command adopts (issue 21).
Status Archive::bind() {
    if (m_options.mode != Mode::write) return {};
    auto source = m_db->meta("source");
    if (!source) return std::unexpected(source.error());
    if (source->empty())
        if (auto s = m_db->set_meta("source", m_options.source); !s) return s;
    auto format = m_db->meta("format");
    if (!format) return std::unexpected(format.error());
    if (format->empty())
        if (auto s = m_db->set_meta("format", format_name(*m_options.format)); !s) return s;
    return {};
}

const char* format_name(Format format) {
    return format == Format::maildir ? "maildir" : "mbox";
}

std::optional<Format> parse_format(std::string_view name) {
    if (name == "maildir") return Format::maildir;
    if (name == "mbox") return Format::mbox;
    return std::nullopt;
}

// Asked for none: the format the archive remembers (an archive that has not
// recorded one yet was never backed up into: Maildir, the default).
Status Archive::resolve_format() {
    if (m_options.format) return {};
    auto name = m_db->meta("format");
    if (!name) return std::unexpected(name.error());
    m_options.format = parse_format(*name).value_or(Format::maildir);
    return {};
}

// A dry run plans against a throwaway copy of the state (or an empty one for
// a new archive): nothing it records is kept. A read-only open reads the
// database itself, opened read-only, and records nothing.
Status Archive::open_db_and_store(bool existed) {
    const ArchiveOptions& o = m_options;
    const bool writes = o.mode == Mode::write;
    std::string path = o.root + "/.mailferry/state.db";
    auto db = writes                    ? StateDb::open(path)
              : o.mode != Mode::dry_run ? StateDb::open_read_only(path)
              : existed                 ? StateDb::open_copy(path)
                                        : StateDb::open(":memory:");
    if (!db) return std::unexpected(db.error());
    m_db = std::move(*db);
    if (auto s = resolve_format(); !s) return s;
    if (*o.format == Format::maildir)
        m_store = std::make_unique<maildir::MaildirStore>(o.root, *m_db, !writes);
    else
        m_store = std::make_unique<mbox::MboxStore>(o.root, *m_db, !writes);
    return {};
}

Result<std::unique_ptr<Archive>> Archive::open(const ArchiveOptions& o) {
    std::unique_ptr<Archive> a(new Archive());
    a->m_options = o;
    std::string meta = o.root + "/.mailferry";
    auto exists = has_state(meta + "/state.db");
    if (!exists) return std::unexpected(exists.error());
    const bool reads_only = o.mode == Mode::read_only || o.mode == Mode::read_unlocked;
    if (reads_only && !*exists) return std::unexpected(not_an_archive(o.root));
    if (*exists)
        if (auto s = check_access(meta + "/state.db", o.mode); !s)
            return std::unexpected(s.error());
    if (o.mode == Mode::write) {
        if (auto s = fs::make_dirs(meta); !s) return std::unexpected(s.error());
    }
    if (fs::exists(meta) && o.mode != Mode::read_unlocked) {
        auto lock = ArchiveLock::acquire(meta);
        if (!lock) return std::unexpected(lock.error());
        a->m_lock.emplace(std::move(*lock));
    }
    if (auto s = a->open_db_and_store(*exists); !s) return std::unexpected(s.error());
    if (auto s = check_identity(*a->m_db, a->m_options); !s) return std::unexpected(s.error());
    return a;
}

Result<std::unique_ptr<Archive>> Archive::another() const {
    std::unique_ptr<Archive> a(new Archive());
    a->m_options = m_options;
    if (auto s = a->open_db_and_store(fs::exists(m_options.root + "/.mailferry/state.db")); !s)
        return std::unexpected(s.error());
    return a;
}

} // namespace mf::archive
