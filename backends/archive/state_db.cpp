#include "backends/archive/state_db.h"

#include "backends/archive/state_db_impl.h"

#include "backends/archive/folder_path.h"

#include "backends/common/crashpoint.h"

#include <sqlite3.h>

#include <optional>
#include <unordered_map>

#include <utility>

namespace mf::archive {

namespace {

constexpr const char* k_schema = R"sql(
PRAGMA journal_mode=WAL;
PRAGMA synchronous=NORMAL;
PRAGMA cache_size=-512;
PRAGMA recursive_triggers=ON;
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS folders (
  key INTEGER PRIMARY KEY,
  path TEXT NOT NULL UNIQUE,
  validity INTEGER,
  last_run INTEGER,
  last_success INTEGER,
  last_error TEXT,
  change_token TEXT
);
CREATE TABLE IF NOT EXISTS messages (
  folder INTEGER NOT NULL,
  id TEXT NOT NULL,
  location TEXT NOT NULL,
  flags INTEGER NOT NULL,
  keywords TEXT NOT NULL,
  size INTEGER NOT NULL,
  message_id TEXT NOT NULL,
  date INTEGER NOT NULL,
  source_state INTEGER NOT NULL,
  identity TEXT NOT NULL DEFAULT '',
  labels TEXT NOT NULL DEFAULT '',
  PRIMARY KEY (folder, id)
) WITHOUT ROWID;
-- Finds a held message by identity in any folder (a message moved on the
-- source: sync/relink.h), one lookup per new message, never a scan.
CREATE INDEX IF NOT EXISTS messages_by_identity ON messages (size, date, message_id);
CREATE TABLE IF NOT EXISTS push_folders (
  folder TEXT PRIMARY KEY,
  source_validity INTEGER NOT NULL,
  target_validity INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS push_map (
  folder TEXT NOT NULL,
  source_id TEXT NOT NULL,
  uid INTEGER NOT NULL,
  PRIMARY KEY (folder, source_id)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS message_failures (
  folder INTEGER NOT NULL,
  id TEXT NOT NULL,
  runs INTEGER NOT NULL,
  what TEXT NOT NULL,
  PRIMARY KEY (folder, id)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS folder_names (
  path TEXT PRIMARY KEY,
  name TEXT NOT NULL
) WITHOUT ROWID;
INSERT OR IGNORE INTO meta VALUES ('schema', '1');
)sql";

// Archives from before a column: it is added in place, empty for the rows
// they hold (the next run fills it from the source's listing).
constexpr const char* k_added_columns[][2] = {
    {"identity", "TEXT NOT NULL DEFAULT ''"},
    {"labels", "TEXT NOT NULL DEFAULT ''"},
};

// After the added columns: an index on one of them cannot be made before.
constexpr const char* k_identity_index =
    "CREATE INDEX IF NOT EXISTS messages_by_source_identity ON messages (identity) "
    "WHERE identity <> ''";

// How many messages each folder holds, kept by triggers so that a no-op
// run reads one row a folder instead of counting the folder's rows (a
// million-message folder's whole table). Filled once for an archive from
// before it, inside one write transaction, so a second connection opening
// at the same time waits and then finds it filled. recursive_triggers (in
// k_schema) makes the row an INSERT OR REPLACE deletes fire its trigger.
constexpr const char* k_counts = R"sql(
BEGIN IMMEDIATE;
CREATE TABLE IF NOT EXISTS folder_counts (folder INTEGER PRIMARY KEY, held INTEGER NOT NULL);
INSERT INTO folder_counts SELECT folder, count(*) FROM messages
  WHERE NOT EXISTS (SELECT 1 FROM folder_counts) GROUP BY folder;
CREATE TRIGGER IF NOT EXISTS messages_counted_in AFTER INSERT ON messages BEGIN
  INSERT INTO folder_counts VALUES (NEW.folder, 1) ON CONFLICT(folder) DO UPDATE SET held = held + 1;
END;
CREATE TRIGGER IF NOT EXISTS messages_counted_out AFTER DELETE ON messages BEGIN
  UPDATE folder_counts SET held = held - 1 WHERE folder = OLD.folder;
END;
CREATE TRIGGER IF NOT EXISTS messages_counted_moved AFTER UPDATE OF folder ON messages BEGIN
  UPDATE folder_counts SET held = held - 1 WHERE folder = OLD.folder;
  INSERT INTO folder_counts VALUES (NEW.folder, 1) ON CONFLICT(folder) DO UPDATE SET held = held + 1;
END;
COMMIT;
)sql";

// The number of messages a folder (f.key) holds, as a column of a query:
// from folder_counts, or counted where a read-only archive predates it. The
// statement cache keys on the text's address, hence whole literals.
#define MF_COUNTED "COALESCE((SELECT held FROM folder_counts c WHERE c.folder = f.key), 0)"
#define MF_COUNTING "(SELECT count(*) FROM messages m WHERE m.folder = f.key)"
constexpr const char* k_memo[2] = {
    "SELECT f.change_token, " MF_COUNTING " FROM folders f WHERE f.path=?",
    "SELECT f.change_token, " MF_COUNTED " FROM folders f WHERE f.path=?"};
#define MF_SUMMARY(held, name, from)                                                               \
    "SELECT f.path, f.validity, " held ", f.last_run, f.last_success, f.last_error, " name         \
    " FROM folders f " from "ORDER BY f.path"
#define MF_NAMED "LEFT JOIN folder_names n ON n.path = f.path "
constexpr const char* k_summaries[2][2] = {
    {MF_SUMMARY(MF_COUNTING, "NULL", ""), MF_SUMMARY(MF_COUNTING, "n.name", MF_NAMED)},
    {MF_SUMMARY(MF_COUNTED, "NULL", ""), MF_SUMMARY(MF_COUNTED, "n.name", MF_NAMED)}};
#undef MF_SUMMARY
#undef MF_NAMED
#undef MF_COUNTED
#undef MF_COUNTING

} // namespace

bool StateDb::Impl::has_column(const std::string& table, const std::string& column) {
    Stmt s(*cache, "SELECT 1 FROM pragma_table_info(?) WHERE name=?");
    s.bind(1, table).bind(2, column);
    return s.ok() && s.step() == SQLITE_ROW;
}

Status StateDb::Impl::migrate() {
    for (const auto& [name, type] : k_added_columns)
        if (!has_column("messages", name))
            if (auto s = exec(
                    ("ALTER TABLE messages ADD COLUMN " + std::string(name) + ' ' + type).c_str(),
                    "adding a column");
                !s)
                return s;
    has_identity = true;
    if (auto s = exec(k_identity_index, "cannot set up the schema"); !s) return s;
    // The table comes with its triggers, in one transaction: made once.
    if (!has_table("folder_counts"))
        if (auto s = exec(k_counts, "cannot set up the folder counts"); !s) {
            (void)exec("ROLLBACK", "rolling back");
            return s;
        }
    has_counts = true;
    return {};
}

StateDb::StateDb(std::unique_ptr<Impl> impl) : m_impl(std::move(impl)) {}
StateDb::~StateDb() = default;

Result<std::unique_ptr<StateDb>> StateDb::open(const std::string& path) {
    auto impl = std::make_unique<Impl>();
    impl->path = path;
    int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX;
    if (sqlite3_open_v2(path.c_str(), &impl->db, flags, nullptr) != SQLITE_OK)
        return std::unexpected(impl->error("cannot open"));
    sqlite3_busy_timeout(impl->db, 5000);
    impl->cache.emplace().attach(impl->db);
    if (auto s = impl->exec(k_schema, "cannot set up the schema"); !s)
        return std::unexpected(s.error());
    if (auto s = impl->migrate(); !s) return std::unexpected(s.error());
    return std::unique_ptr<StateDb>(new StateDb(std::move(impl)));
}

// No schema set-up: it writes (the journal mode, the tables), and every
// archive's database got its tables when its first backup opened it.
Result<std::unique_ptr<StateDb>> StateDb::open_read_only(const std::string& path) {
    auto impl = std::make_unique<Impl>();
    impl->path = path;
    impl->read_only = true;
    if (sqlite3_open_v2(path.c_str(), &impl->db, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX,
                        nullptr) != SQLITE_OK)
        return std::unexpected(impl->error("cannot open to read"));
    sqlite3_busy_timeout(impl->db, 5000);
    impl->cache.emplace().attach(impl->db);
    impl->has_names = impl->has_table("folder_names");
    impl->has_identity = impl->has_column("messages", "identity");
    impl->has_counts = impl->has_table("folder_counts");
    return std::unique_ptr<StateDb>(new StateDb(std::move(impl)));
}

Result<std::unique_ptr<StateDb>> StateDb::open_copy(const std::string& path) {
    auto mem = open(":memory:");
    if (!mem) return mem;
    sqlite3* file = nullptr;
    if (sqlite3_open_v2(path.c_str(), &file, SQLITE_OPEN_READONLY, nullptr) != SQLITE_OK) {
        sqlite3_close(file);
        return fail(ErrorKind::local_io, Scope::account,
                    "state database " + path + ": cannot open to read");
    }
    sqlite3_backup* copy = sqlite3_backup_init((*mem)->m_impl->db, "main", file, "main");
    int rc = copy ? sqlite3_backup_step(copy, -1) : SQLITE_ERROR;
    sqlite3_backup_finish(copy);
    sqlite3_close(file);
    if (rc != SQLITE_DONE)
        return fail(ErrorKind::local_io, Scope::account,
                    "state database " + path + ": cannot read");
    // The copy has the file's schema: an archive older than a table gets it.
    if (auto s = (*mem)->m_impl->exec(k_schema, "cannot set up the schema"); !s)
        return std::unexpected(s.error());
    if (auto s = (*mem)->m_impl->migrate(); !s) return std::unexpected(s.error());
    return mem;
}

Result<std::string> StateDb::meta(const std::string& key) {
    Stmt s(*m_impl->cache, "SELECT value FROM meta WHERE key=?");
    if (!s.ok()) return std::unexpected(m_impl->error("reading " + key));
    s.bind(1, key);
    return s.step() == SQLITE_ROW ? s.text(0) : std::string();
}

Status StateDb::set_meta(const std::string& key, const std::string& value) {
    Stmt s(*m_impl->cache, "INSERT OR REPLACE INTO meta VALUES (?, ?)");
    s.bind(1, key).bind(2, value);
    return m_impl->run(s, "recording the archive's facts");
}

// Read-only, a folder the state never recorded is one with nothing recorded:
// key 0 matches no row (SQLite's keys start at 1).
Result<FolderRecord> StateDb::folder(const std::string& rel_path) {
    if (!m_impl->read_only) {
        Stmt ins(*m_impl->cache, "INSERT OR IGNORE INTO folders (path) VALUES (?)");
        ins.bind(1, rel_path);
        if (auto r = m_impl->run(ins, "adding a folder"); !r) return std::unexpected(r.error());
    }
    Stmt s(*m_impl->cache, "SELECT key, validity FROM folders WHERE path=?");
    s.bind(1, rel_path);
    if (!s.ok()) return std::unexpected(m_impl->error("reading a folder"));
    int step = s.step();
    if (step != SQLITE_ROW && !(m_impl->read_only && step == SQLITE_DONE))
        return std::unexpected(m_impl->error("reading a folder"));
    if (step == SQLITE_DONE) return FolderRecord{};
    FolderRecord rec;
    rec.key = s.integer(0);
    rec.known = !s.is_null(1);
    rec.validity = static_cast<std::uint32_t>(s.integer(1));
    return rec;
}

// The full name is kept only where the directory's is shortened: every
// other folder's name is its path, unescaped.
Result<FolderRecord> StateDb::folder(const std::vector<std::string>& name) {
    auto record = folder(relative_folder_path(name));
    if (!record) return record;
    if (auto s = keep_name(name); !s) return std::unexpected(s.error());
    return record;
}

Status StateDb::keep_name(const std::vector<std::string>& name) {
    std::string rel = relative_folder_path(name);
    std::string full = full_folder_path(name);
    if (m_impl->read_only || full == rel) return {};
    Stmt s(*m_impl->cache, "INSERT OR REPLACE INTO folder_names VALUES (?, ?)");
    s.bind(1, rel).bind(2, full);
    return m_impl->run(s, "recording a folder's name");
}

Status StateDb::set_validity(std::int64_t folder, std::uint32_t validity) {
    Stmt s(*m_impl->cache, "UPDATE folders SET validity=? WHERE key=?");
    s.bind(1, static_cast<std::int64_t>(validity)).bind(2, folder);
    return m_impl->run(s, "recording UIDVALIDITY");
}

Result<std::pair<std::string, std::size_t>> StateDb::memo(const std::string& rel_path) {
    Stmt s(*m_impl->cache, k_memo[m_impl->has_counts]);
    if (!s.ok()) return std::unexpected(m_impl->error("reading a folder"));
    s.bind(1, rel_path);
    if (s.step() != SQLITE_ROW) return std::pair<std::string, std::size_t>{};
    return std::pair<std::string, std::size_t>{s.text(0), static_cast<std::size_t>(s.integer(1))};
}

Result<std::string> StateDb::location(std::int64_t folder, const std::string& id) {
    Stmt s(*m_impl->cache, "SELECT location FROM messages WHERE folder=? AND id=?");
    if (!s.ok()) return std::unexpected(m_impl->error("reading a message"));
    s.bind(1, folder).bind(2, id);
    int rc = s.step();
    if (rc == SQLITE_ROW) return s.text(0);
    if (rc != SQLITE_DONE) return std::unexpected(m_impl->error("reading a message"));
    return std::string();
}

Status StateDb::set_change_token(std::int64_t folder, const std::string& token) {
    Stmt s(*m_impl->cache, "UPDATE folders SET change_token=? WHERE key=?");
    s.bind(1, token).bind(2, folder);
    return m_impl->run(s, "recording the change token");
}

Status StateDb::note_run(std::int64_t folder, std::int64_t when, const std::string& error) {
    Stmt s(*m_impl->cache,
           error.empty()
               ? "UPDATE folders SET last_run=?1, last_success=?1, last_error=NULL WHERE key=?2"
               : "UPDATE folders SET last_run=?1, last_error=?3 WHERE key=?2");
    s.bind(1, when).bind(2, folder);
    if (!error.empty()) s.bind(3, error);
    return m_impl->run(s, "recording the run");
}

Result<std::vector<StoredMessage>> StateDb::messages(std::int64_t folder) {
    std::vector<StoredMessage> out;
    auto s = each_message(folder, [&](StoredMessage&& m) { out.push_back(std::move(m)); });
    if (!s) return std::unexpected(s.error());
    return out;
}

namespace {

// Columns: id, location, flags, keywords, size, message_id, date,
// source_state, identity, labels.
StoredMessage read_row(Stmt& s) {
    StoredMessage m;
    m.id = s.text(0);
    m.location = s.text(1);
    m.flags.system = static_cast<std::uint8_t>(s.integer(2));
    m.flags.keywords = split_keywords(s.text(3));
    m.size = static_cast<std::uint64_t>(s.integer(4));
    m.message_id = s.text(5);
    m.date = s.integer(6);
    m.source_state = static_cast<std::uint8_t>(s.integer(7));
    m.identity = s.text(8);
    m.labels = split_labels(s.text(9));
    return m;
}

} // namespace

Status StateDb::each_message(std::int64_t folder, const std::function<void(StoredMessage&&)>& fn,
                             bool with_message_id) {
    // An archive older than the identity column, opened read-only, lacks it.
    static const char* const k_sql[2][2] = {
        {"SELECT id, location, flags, keywords, size, '', date, source_state, '', '' "
         "FROM messages WHERE folder=?",
         "SELECT id, location, flags, keywords, size, message_id, date, source_state, '', '' "
         "FROM messages WHERE folder=?"},
        {"SELECT id, location, flags, keywords, size, '', date, source_state, identity, labels "
         "FROM messages WHERE folder=?",
         "SELECT id, location, flags, keywords, size, message_id, date, source_state, identity, "
         "labels FROM messages WHERE folder=?"}};
    Stmt s(*m_impl->cache, k_sql[m_impl->has_identity][with_message_id]);
    if (!s.ok()) return std::unexpected(m_impl->error("reading messages"));
    s.bind(1, folder);
    int rc;
    while ((rc = s.step()) == SQLITE_ROW)
        fn(read_row(s));
    if (rc != SQLITE_DONE) return std::unexpected(m_impl->error("reading messages"));
    return {};
}

Result<std::vector<HeldMessage>> StateDb::held_among(std::int64_t folder,
                                                     const std::vector<RemoteMessage>& listed) {
    std::vector<HeldMessage> held;
    for (const auto& m : listed) {
        auto row = message(folder, m.id);
        if (!row) return std::unexpected(row.error());
        if (!*row) continue;
        auto& r = **row;
        normalize(r.flags);
        held.push_back(HeldMessage{std::move(r.id),
                                   std::move(r.flags),
                                   r.size,
                                   {},
                                   r.date,
                                   static_cast<SourceState>(r.source_state),
                                   std::move(r.identity),
                                   std::move(r.labels)});
    }
    return held;
}

Result<std::optional<StoredMessage>> StateDb::message(std::int64_t folder, const std::string& id) {
    Stmt s(*m_impl->cache,
           m_impl->has_identity
               ? "SELECT id, location, flags, keywords, size, '', date, source_state, identity, "
                 "labels FROM messages WHERE folder=? AND id=?"
               : "SELECT id, location, flags, keywords, size, '', date, source_state, '', '' "
                 "FROM messages WHERE folder=? AND id=?");
    if (!s.ok()) return std::unexpected(m_impl->error("reading a message"));
    s.bind(1, folder).bind(2, id);
    int rc = s.step();
    if (rc == SQLITE_ROW) return std::optional<StoredMessage>(read_row(s));
    if (rc != SQLITE_DONE) return std::unexpected(m_impl->error("reading a message"));
    return std::optional<StoredMessage>();
}

Result<std::vector<StateDb::FolderSummary>> StateDb::summaries() {
    // An archive older than the names table, opened read-only, lacks it.
    Stmt s(*m_impl->cache, k_summaries[m_impl->has_counts][m_impl->has_names]);
    if (!s.ok()) return std::unexpected(m_impl->error("reading folders"));
    std::vector<FolderSummary> out;
    int rc;
    while ((rc = s.step()) == SQLITE_ROW) {
        FolderSummary f;
        f.path = s.text(0);
        f.known = !s.is_null(1);
        f.validity = static_cast<std::uint32_t>(s.integer(1));
        f.messages = static_cast<std::size_t>(s.integer(2));
        f.last_run = s.integer(3);
        f.last_success = s.integer(4);
        f.last_error = s.text(5);
        auto full = parse_full_folder_path(s.text(6));
        f.name = full ? std::move(*full) : folder_name_of(f.path, &f.name_lost);
        out.push_back(std::move(f));
    }
    if (rc != SQLITE_DONE) return std::unexpected(m_impl->error("reading folders"));
    return out;
}

Status StateDb::begin() {
    return m_impl->exec("BEGIN IMMEDIATE", "starting a transaction");
}
Status StateDb::commit() {
    auto s = m_impl->exec("COMMIT", "committing");
    if (s) test::durable_step("state committed");
    return s;
}
void StateDb::rollback() {
    sqlite3_exec(m_impl->db, "ROLLBACK", nullptr, nullptr, nullptr);
}

Status StateDb::put(std::int64_t folder, const StoredMessage& m) {
    Stmt s(*m_impl->cache,
           "INSERT OR REPLACE INTO messages (folder, id, location, flags, keywords, size, "
           "message_id, date, source_state, identity, labels) VALUES (?,?,?,?,?,?,?,?,?,?,?)");
    s.bind(1, folder).bind(2, m.id).bind(3, m.location).bind(4, m.flags.system);
    s.bind(5, join_keywords(m.flags.keywords)).bind(6, static_cast<std::int64_t>(m.size));
    s.bind(7, m.message_id).bind(8, m.date).bind(9, m.source_state);
    s.bind(10, m.identity).bind(11, join_labels(m.labels));
    return m_impl->run(s, "recording a message");
}

Status StateDb::set_flags(std::int64_t folder, const std::string& id, const Flags& flags) {
    Stmt s(*m_impl->cache, "UPDATE messages SET flags=?, keywords=? WHERE folder=? AND id=?");
    s.bind(1, flags.system).bind(2, join_keywords(flags.keywords)).bind(3, folder).bind(4, id);
    return m_impl->run(s, "recording flags");
}

Status StateDb::set_source_state(std::int64_t folder, const std::string& id, std::uint8_t state) {
    Stmt s(*m_impl->cache, "UPDATE messages SET source_state=? WHERE folder=? AND id=?");
    s.bind(1, state).bind(2, folder).bind(3, id);
    return m_impl->run(s, "recording the source's state");
}

Status StateDb::set_labels(std::int64_t folder, const std::string& id, const std::string& identity,
                           const std::vector<std::string>& labels) {
    Stmt s(*m_impl->cache, "UPDATE messages SET identity=?, labels=? WHERE folder=? AND id=?");
    s.bind(1, identity).bind(2, join_labels(labels)).bind(3, folder).bind(4, id);
    return m_impl->run(s, "recording labels");
}

Status StateDb::remove(std::int64_t folder, const std::string& id) {
    Stmt s(*m_impl->cache, "DELETE FROM messages WHERE folder=? AND id=?");
    s.bind(1, folder).bind(2, id);
    return m_impl->run(s, "forgetting a message");
}

Status StateDb::remove_all(std::int64_t folder) {
    Stmt s(*m_impl->cache, "DELETE FROM messages WHERE folder=?");
    s.bind(1, folder);
    return m_impl->run(s, "forgetting a folder's messages");
}

Status StateDb::rekey(std::int64_t folder,
                      const std::vector<std::pair<std::string, std::string>>& renames,
                      std::uint32_t validity, const std::function<bool(const std::string&)>& keep) {
    auto rows = messages(folder);
    if (!rows) return std::unexpected(rows.error());
    std::unordered_map<std::string, StoredMessage*> by_id;
    for (auto& r : *rows)
        by_id[r.id] = &r;
    if (auto s = begin(); !s) return s;
    Status s = remove_all(folder);
    for (const auto& [old_id, new_id] : renames) {
        auto it = by_id.find(old_id);
        if (!s || it == by_id.end() || !keep(old_id)) continue;
        StoredMessage row = *it->second;
        row.id = new_id;
        s = put(folder, row);
    }
    if (s) s = set_validity(folder, validity);
    if (s) s = commit();
    if (!s) rollback();
    return s;
}

namespace {

std::string join_on(const std::vector<std::string>& words, char separator) {
    std::string out;
    for (const auto& w : words) {
        if (!out.empty()) out += separator;
        out += w;
    }
    return out;
}

// Empty words are dropped.
std::vector<std::string> split_on(std::string_view text, char separator) {
    std::vector<std::string> out;
    while (!text.empty()) {
        auto at = text.find(separator);
        if (at != 0) out.emplace_back(text.substr(0, at));
        if (at == std::string_view::npos) break;
        text.remove_prefix(at + 1);
    }
    return out;
}

} // namespace

std::string join_keywords(const std::vector<std::string>& keywords) {
    return join_on(keywords, ' ');
}

std::vector<std::string> split_keywords(std::string_view text) {
    return split_on(text, ' ');
}

std::string join_labels(const std::vector<std::string>& labels) {
    return join_on(labels, '\n');
}

std::vector<std::string> split_labels(std::string_view text) {
    return split_on(text, '\n');
}

} // namespace mf::archive
