// The archive's state: what mailferry knows it holds, per folder. One SQLite
// database per archive (ARCHIVE/.mailferry/state.db).
//
// The database is a cache of the truth on disk, not the truth itself: every
// message file carries its source id in its name, so the stores adopt files
// the database does not know yet (a crash between rename and commit) and
// forget rows whose file is gone. That is why WAL with synchronous=NORMAL is
// enough: a commit lost to a power cut is rebuilt from the files next run.
#pragma once

#include "sync/flags.h"
#include "sync/model.h"
#include "sync/result.h"

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace mf::archive {

struct StoredMessage {
    std::string id;       // source id (IMAP UID, POP3 UIDL)
    std::string location; // store-specific: Maildir base name, mbox offset
    Flags flags;
    std::uint64_t size = 0; // the source's size (CRLF octets)
    std::string message_id;
    std::int64_t date = 0;
    std::uint8_t source_state = 0;        // SourceState
    std::string identity = {};            // RemoteMessage::identity ("" none)
    std::vector<std::string> labels = {}; // RemoteMessage::labels
};

struct FolderRecord {
    std::int64_t key = 0;
    bool known = false; // a validity was recorded before
    std::uint32_t validity = 0;
};

class StateDb {
  public:
    static Result<std::unique_ptr<StateDb>> open(const std::string& path);
    // A private in-memory copy of the database at `path` (for --dry-run:
    // whatever the run records is thrown away, the file is not touched).
    static Result<std::unique_ptr<StateDb>> open_copy(const std::string& path);
    // The database at `path` opened read-only (SQLITE_OPEN_READONLY), as it
    // is: for reading a few facts without copying it. Any write fails.
    static Result<std::unique_ptr<StateDb>> open_read_only(const std::string& path);
    ~StateDb();
    StateDb(const StateDb&) = delete;
    StateDb& operator=(const StateDb&) = delete;

    // Archive-wide facts: "source" (the account backed up here, e.g.
    // "imaps://user@host:993"), "format" (maildir or mbox), "personal_prefix"
    // (archive/personal_prefix.h). "" if unset.
    Result<std::string> meta(const std::string& key);
    Status set_meta(const std::string& key, const std::string& value);

    Result<FolderRecord> folder(const std::string& rel_path);
    // The same by the folder's name, which is kept (folder_names) when its
    // directory's name had to be shortened: the path alone cannot give it
    // back (archive/folder_path.h). Read-only, nothing is recorded.
    Result<FolderRecord> folder(const std::vector<std::string>& name);
    // Only the keeping of the name: for a folder a backup finds unchanged
    // and does not open (archives from before names were kept get it then).
    Status keep_name(const std::vector<std::string>& name);
    Status set_validity(std::int64_t folder, std::uint32_t validity);
    // The source's change token and the number of messages held.
    Result<std::pair<std::string, std::size_t>> memo(const std::string& rel_path);
    // Messages of the folder that failed in earlier runs (Store::record_failures).
    Result<std::vector<MessageFailure>> failures(const std::string& rel_path);
    Status record_failures(const std::string& rel_path, const std::vector<MessageProblem>& failed,
                           const std::vector<std::string>& cleared);
    Status set_change_token(std::int64_t folder, const std::string& token);
    // One held message (without its Message-ID); nothing if it is not held.
    Result<std::optional<StoredMessage>> message(std::int64_t folder, const std::string& id);
    // Those of `listed` that are held, as the engine sees them (flags as
    // recorded, no Message-ID): for a store whose files match the database.
    Result<std::vector<HeldMessage>> held_among(std::int64_t folder,
                                                const std::vector<RemoteMessage>& listed);
    // Where one message is held (StoredMessage::location); "" if it is not.
    Result<std::string> location(std::int64_t folder, const std::string& id);
    // A message held in another folder, where a moved one may be found
    // (sync/relink.h): the folder's relative path and the row's location.
    struct HeldCopy {
        std::string folder_path;
        std::string location;
        std::string message_id = {}; // held_elsewhere by identity only
    };
    // Whether a folder other than `folder` holds a message of this size and
    // date: the cheap test before the source is asked for a Message-ID.
    Result<bool> held_elsewhere_like(std::int64_t folder, std::uint64_t size, std::int64_t date);
    // Held messages of other folders with this size, date and Message-ID
    // (not empty); a few at most.
    Result<std::vector<HeldCopy>> held_elsewhere(std::int64_t folder, std::uint64_t size,
                                                 std::int64_t date, const std::string& message_id);
    // Held messages of other folders with this identity (RemoteMessage::
    // identity, not empty); a few at most. Uses messages_by_source_identity.
    Result<std::vector<HeldCopy>> held_elsewhere(std::int64_t folder, const std::string& identity);
    // How many distinct messages (by identity) the source showed with each
    // label at the last run, of those it still had: label -> count, sorted.
    Result<std::vector<std::pair<std::string, std::size_t>>> label_counts();
    Status note_run(std::int64_t folder, std::int64_t when, const std::string& error);
    Result<std::vector<StoredMessage>> messages(std::int64_t folder);
    // The same one row at a time, for folders too large to hold twice; `fn`
    // must not use this database. Without `with_message_id` the Message-ID
    // column is not read (left empty): a large folder's Message-IDs are then
    // never in memory.
    Status each_message(std::int64_t folder, const std::function<void(StoredMessage&&)>& fn,
                        bool with_message_id = true);

    struct FolderSummary {
        std::string path;              // relative path in the archive (escaped)
        std::vector<std::string> name; // the folder's name, as the source named it
        // The path is shortened and the full name was never recorded (an
        // archive written before names were kept): `name` is then spelled
        // as the path is.
        bool name_lost = false;
        bool known = false;
        std::uint32_t validity = 0;
        std::size_t messages = 0;
        std::int64_t last_run = 0, last_success = 0; // epoch seconds, 0 = never
        std::string last_error;
    };
    Result<std::vector<FolderSummary>> summaries();

    Status begin();
    Status commit();
    void rollback();
    Status put(std::int64_t folder, const StoredMessage& message);
    Status set_flags(std::int64_t folder, const std::string& id, const Flags& flags);
    Status set_source_state(std::int64_t folder, const std::string& id, std::uint8_t state);
    // A held message's identity and labels as the source shows them now.
    Status set_labels(std::int64_t folder, const std::string& id, const std::string& identity,
                      const std::vector<std::string>& labels);
    Status remove(std::int64_t folder, const std::string& id);
    Status remove_all(std::int64_t folder);
    // The folder's rows under new ids, in one transaction with its new
    // validity: each (old, new) of `renames` whose old row exists and that
    // `keep` accepts; every other row is dropped.
    Status rekey(std::int64_t folder,
                 const std::vector<std::pair<std::string, std::string>>& renames,
                 std::uint32_t validity, const std::function<bool(const std::string&)>& keep);

    // Pushes (migrate, restore, mirror): per source folder, the validities
    // on both sides and source id -> target UID.
    struct PushFolder {
        bool known = false;
        std::uint32_t source_validity = 0, target_validity = 0;
        std::vector<std::pair<std::string, std::uint32_t>> entries;
    };
    Result<PushFolder> push_load(const std::string& folder);
    Status push_reset(const std::string& folder, std::uint32_t source_validity,
                      std::uint32_t target_validity);
    Status push_record(const std::string& folder, const std::string& id, std::uint32_t uid);
    Status push_forget(const std::string& folder, const std::string& id);

    struct Impl;

  private:
    explicit StateDb(std::unique_ptr<Impl> impl);
    std::unique_ptr<Impl> m_impl;
};

// Keywords travel through the database as one space-separated string.
std::string join_keywords(const std::vector<std::string>& keywords);
std::vector<std::string> split_keywords(std::string_view text);
// Labels may hold spaces: one a line.
std::string join_labels(const std::vector<std::string>& labels);
std::vector<std::string> split_labels(std::string_view text);

} // namespace mf::archive
