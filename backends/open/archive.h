// The composition root of the archive formats: which store for which
// format. It sits above backends/maildir and backends/mbox, which sit above
// backends/archive (state database, lock, paths); nothing below includes it.
//
// An archive on disk: the folder a user names on the command line. Opening
// it takes the lock, opens the state database and checks that the archive
// holds what this run expects (the same account, the same format), so two
// accounts or two formats never mix in one archive.
//
//   ARCHIVE/                 0700
//     .mailferry/state.db    SQLite state (WAL)
//     .mailferry/lock        flock(2) while a run is going
//     INBOX/ Work/ ...       the folders (Maildir), or INBOX.mbox ... (mbox)
#pragma once

#include "backends/archive/lock.h"
#include "backends/archive/state_db.h"
#include "sync/store.h"

#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace mf::archive {

enum class Format { maildir, mbox };

// The one spelling of each format: --format, job files and the state
// database's "format" all use it.
const char* format_name(Format format);
std::optional<Format> parse_format(std::string_view name);

enum class Mode {
    // A backup: the archive is created if missing, locked and written.
    write,
    // A backup that changes nothing: locked if it exists, and a missing
    // archive reads as empty; what the run records goes to a private copy of
    // the state and is thrown away.
    dry_run,
    // Verify and restore: the archive must exist; it is locked (no backup
    // writes it meanwhile) and nothing is written. Its stores still read
    // through a private copy of the state: loading a folder reconciles the
    // database with the files, and those writes must go somewhere.
    read_only,
    // Export: like read_only, but the archive is not locked, so an export
    // works while a backup writes the archive (and never holds one up). It
    // reads what the state database and the files record as committed:
    // mbox bytes past the last indexed message are not read.
    read_unlocked,
};

struct ArchiveOptions {
    std::string root;
    // The format expected; nullopt: the one the archive holds (Maildir for
    // a new one).
    std::optional<Format> format;
    std::string source; // the account, e.g. "imaps://user@host:993"
    Mode mode = Mode::write;
};

class Archive {
  public:
    static Result<std::unique_ptr<Archive>> open(const ArchiveOptions& options);
    Store& store() { return *m_store; }
    // Records the account and format in the archive, if it has none yet.
    // Called once a login to the account succeeded, never before: a run
    // that fails to log in must not bind the archive to a mistake.
    Status bind();
    // Records how this run went for a folder (for `mailferry status`).
    Status note_run(const FolderInfo& folder, const std::string& error);
    // Opens an existing archive's state database to read it only: no lock,
    // no store, no copy (SQLite read-only). For status and for a few facts.
    static Result<std::unique_ptr<StateDb>> read_state(const std::string& root);
    Format format() const { return *m_options.format; }
    StateDb& db() { return *m_db; }
    // Another handle on this open archive, for a worker thread: its own
    // database connection and store, under this handle's lock (it takes
    // none). Must not outlive this handle.
    Result<std::unique_ptr<Archive>> another() const;

  private:
    Archive() = default;
    Status open_db_and_store(bool existed);
    Status resolve_format();
    ArchiveOptions m_options;
    std::optional<ArchiveLock> m_lock;
    std::unique_ptr<StateDb> m_db;
    std::unique_ptr<Store> m_store;
};

} // namespace mf::archive
