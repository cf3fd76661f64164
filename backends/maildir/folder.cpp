#include "backends/maildir/folder.h"

#include "backends/archive/change_token.h"
#include "backends/common/crashpoint.h"
#include "backends/maildir/read_back.h"
#include "sync/sorted_index.h"

#include <cerrno>
#include <chrono>
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <sstream>
#include <unordered_set>

namespace mf::maildir {

namespace {

// Most messages are written whole in one write(); the buffer, one per
// connection, stays small for the memory budget.
constexpr std::size_t k_write_buffer = 32 * 1024;

// Reads the header block of a message file to find its Message-ID: needed
// only for files adopted without a database row.
std::string message_id_of(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    mail::HeaderScanner scanner;
    char buf[8192];
    while (!scanner.done() && in.read(buf, sizeof buf).gcount() > 0)
        scanner.feed(std::string_view(buf, static_cast<std::size_t>(in.gcount())));
    return scanner.message_id();
}

std::int64_t mtime_of(const std::string& path) {
    struct stat st;
    return ::stat(path.c_str(), &st) == 0 ? static_cast<std::int64_t>(st.st_mtime) : 0;
}

} // namespace

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
std::string_view base_view(std::string_view name) { return name.substr(0, name.find_first_of(",:!")); }

std::string base_of(std::string_view name) { return std::string(base_view(name)); }

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

MaildirFolder::MaildirFolder(std::string dir, archive::StateDb& db, archive::FolderRecord record,
                             std::uint32_t source_validity, bool read_only)
    : m_dir(std::move(dir)), m_db(db), m_record(record),
      m_validity(record.known ? record.validity : source_validity), m_read_only(read_only) {}

MaildirFolder::~MaildirFolder() { abandon(); }

Status MaildirFolder::ensure_dirs() {
    if (m_dirs_ready) return {};
    for (const char* sub : {"/cur", "/new", "/tmp"}) {
        if (auto s = fs::make_dirs(m_dir + sub); !s) return s;
    }
    m_dirs_ready = true;
    return {};
}

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
        base_length[i] = static_cast<std::uint8_t>(std::min<std::size_t>(base_view(files[i].name()).size(), 255));
    order = sorted_index(files.size(), [&](std::uint32_t i) { return base(i); });
}

// The first file with that base (two files sharing one happen only by hand).
std::optional<std::size_t> MaildirFolder::Scan::find(std::string_view wanted) const {
    auto it = lower_bound_in(order, wanted, [&](std::uint32_t i) { return base(i); });
    if (it == order.end() || base(*it) != wanted) return std::nullopt;
    return *it;
}

Result<FolderState> MaildirFolder::load() { return load_rows(true); }

// The database is exact here (the caller's token says the folder is as the
// last complete run left it): one indexed lookup a listed message, and no
// directory listing unless a flag change needs a file (locate()).
Result<std::vector<HeldMessage>> MaildirFolder::held_among(const std::vector<RemoteMessage>& listed) {
    m_keywords.parse(fs::read_small_file(m_dir + "/dovecot-keywords"));
    if (auto s = clean_tmp(); !s) return std::unexpected(s.error());
    return m_db.held_among(m_record.key, listed);
}

Result<FolderState> MaildirFolder::load_brief() { return load_rows(false); }

Result<FolderState> MaildirFolder::load_rows(bool with_message_ids) {
    m_keywords.parse(fs::read_small_file(m_dir + "/dovecot-keywords"));
    if (auto s = scan(); !s) return std::unexpected(s.error());
    const auto& files = m_scan.files;
    FolderState state;
    state.known = m_record.known;
    state.validity = m_validity;
    state.held.reserve(files.size()); // no doubling: at 50 000 messages that is 6 MB
    std::vector<bool> matched(files.size());
    std::vector<std::string> stale;
    // Row by row: a folder of 50 000 messages is not held twice.
    auto rows = m_db.each_message(m_record.key, [&](archive::StoredMessage&& row) {
        auto index = m_scan.find(row.location);
        if (!index || matched[*index]) { // deleted by hand: forget it, fetch again
            stale.push_back(std::move(row.id));
            return;
        }
        matched[*index] = true;
        auto parsed = parse_name(files[*index].name());
        Flags flags = parsed ? info_to_flags(parsed->info_flags, m_keywords) : row.flags;
        // Keywords beyond the 26 letters live only in the database.
        for (const auto& k : row.flags.keywords)
            if (!m_keywords.letter_for(k, false)) flags.keywords.push_back(k);
        normalize(flags);
        state.held.push_back(HeldMessage{std::move(row.id), std::move(flags), row.size, std::move(row.message_id),
                                         row.date, static_cast<SourceState>(row.source_state)});
    }, with_message_ids);
    if (!rows) return std::unexpected(rows.error());
    auto adopted = adopt_unrecorded(matched, state);
    if (!adopted) return std::unexpected(adopted.error());
    // Read-only (verify, a restore's source), what was found is used as
    // found and the database is left as it is.
    if (!m_read_only && (!stale.empty() || !adopted->empty() || (!m_record.known && !state.held.empty()))) {
        if (auto s = m_db.begin(); !s) return std::unexpected(s.error());
        Status s;
        for (const auto& id : stale)
            if (s) s = m_db.remove(m_record.key, id);
        for (const auto& row : *adopted)
            if (s) s = m_db.put(m_record.key, row);
        if (s && !m_record.known) s = m_db.set_validity(m_record.key, m_validity);
        if (s) s = m_db.commit();
        if (!s) {
            m_db.rollback();
            return std::unexpected(s.error());
        }
    }
    if (!m_record.known && !state.held.empty()) {
        m_record = {m_record.key, true, m_validity};
        state.known = true;
    }
    return state;
}

// Files the database does not know: adopt those named for this folder's
// current validity (a crash came between rename and commit, or the database
// was lost). Others stay in the archive, unmatched. A file named by an id's
// digest cannot be adopted here, its id being unknown: it waits in
// m_by_digest for finish() to see that id.
Result<std::vector<archive::StoredMessage>> MaildirFolder::adopt_unrecorded(const std::vector<bool>& matched,
                                                                             FolderState& state) {
    std::vector<archive::StoredMessage> adopted;
    m_by_digest.clear();
    std::unordered_set<std::string> held_ids; // filled at the first candidate: crashes are rare
    for (std::size_t i = 0; i < m_scan.files.size(); ++i) {
        if (matched[i]) continue;
        const OnDisk& file = m_scan.files[i];
        auto parsed = parse_name(file.name());
        if (!parsed || validity_of(parsed->unique) != m_validity) continue;
        if (parsed->id_digest) m_by_digest.emplace(*parsed->id_digest, file); // a twin: first kept
        if (!parsed->id) continue;
        if (held_ids.empty())
            for (const auto& h : state.held) held_ids.insert(h.id);
        if (!held_ids.insert(*parsed->id).second) continue; // a duplicate file: keep, don't track
        archive::StoredMessage row{*parsed->id, base_of(file.name()), info_to_flags(parsed->info_flags, m_keywords),
                                   parsed->crlf_size.value_or(0), message_id_of(path_of(file)),
                                   mtime_of(path_of(file)), 0};
        state.held.push_back(HeldMessage{row.id, row.flags, row.size, row.message_id, row.date});
        adopted.push_back(std::move(row));
    }
    return adopted;
}

std::string MaildirFolder::file_name(const std::string& id, std::uint64_t size, const Flags& flags) {
    using namespace std::chrono;
    auto now = system_clock::now().time_since_epoch();
    auto secs = duration_cast<seconds>(now).count();
    auto micros = duration_cast<microseconds>(now).count() % 1000000;
    std::string unique =
        make_bounded_unique_part(secs, micros, m_pid, ++m_counter, id, size);
    return unique + ",V=" + std::to_string(m_validity) + ":2," + flags_to_info(flags, m_keywords);
}

Status MaildirFolder::save_keywords() {
    if (!m_keywords.modified()) return {};
    if (auto s = ensure_dirs(); !s) return s;
    auto s = fs::replace_file(m_dir + "/dovecot-keywords", m_keywords.serialize());
    if (s) m_keywords.parse(m_keywords.serialize()); // clears modified()
    return s;
}

Status MaildirFolder::begin(std::uint64_t) {
    abandon();
    if (auto s = ensure_dirs(); !s) return s;
    if (!m_batch_dir) {
        const std::string tmp = m_dir + "/tmp";
        m_batch_dir = fs::Fd(::open(tmp.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
        if (!m_batch_dir) return std::unexpected(fs::io_error("cannot open", tmp, errno));
    }
    if (!m_unnamed_ok)
        m_unnamed_ok = fs::UnnamedFile::usable_in(m_dir + "/tmp", m_dir + "/tmp/" + std::to_string(m_pid) + ".probe.mailferry");
    if (*m_unnamed_ok) m_unnamed = fs::UnnamedFile::create(m_dir + "/tmp");
    if (!m_unnamed) {
        m_tmp_name = std::to_string(m_pid) + '.' + std::to_string(++m_counter) + ".mailferry";
        std::string path = m_dir + "/tmp/" + m_tmp_name;
        m_fd = fs::Fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600));
        if (!m_fd) {
            auto f = fs::io_error("cannot create", path, errno);
            m_tmp_name.clear();
            return std::unexpected(f);
        }
    }
    m_crlf = mail::CrlfToLf{};
    m_headers = mail::HeaderScanner{};
    m_buffer.clear();
    return {};
}

Status MaildirFolder::flush_buffer() {
    auto s = fs::write_all(out_fd(), m_buffer, out_path());
    m_buffer.clear();
    return s;
}

Status MaildirFolder::write(std::string_view chunk) {
    if (!m_headers.done()) m_headers.feed(chunk);
    m_crlf.feed(chunk, m_buffer);
    if (m_buffer.size() >= k_write_buffer) return flush_buffer();
    return {};
}

Status MaildirFolder::finish(const RemoteMessage& message) {
    m_crlf.finish(m_buffer);
    if (auto s = flush_buffer(); !s) return s;
    // The file's mtime is the message's INTERNALDATE (Dovecot's convention),
    // so a restore can give the date back.
    if (message.internal_date > 0) {
        timespec times[2] = {{message.internal_date, 0}, {message.internal_date, 0}};
        ::futimens(out_fd(), times);
    }
    m_fd.reset(); // an unnamed file stays open until it is named (commit)
    if (!m_headers.done()) m_headers.finish();
    if (auto adopted = adopt_by_digest(message)) {
        // The copy just written was never durable nor named: drop it.
        abandon();
        m_pending.push_back(std::move(*adopted));
        return {};
    }
    std::string final_name = file_name(message.id, message.size, message.flags);
    archive::StoredMessage row{message.id, base_of(final_name), message.flags, message.size,
                               m_headers.message_id(), message.internal_date, 0};
    m_pending.push_back(Pending{m_tmp_name, std::move(final_name), std::move(row), "cur", std::move(m_unnamed)});
    m_tmp_name.clear();
    return {};
}

// A message whose id is too long for a name arrives while a file named by
// that id's digest, with the same size, waits unrecorded (a crash between
// rename and commit, or a lost database): that file is this message, and it
// is recorded instead of a second copy. The message was downloaded again,
// since load() could not know its id; a duplicate would be worse. A size
// that differs means the server changed the message: both copies are kept.
std::optional<MaildirFolder::Pending> MaildirFolder::adopt_by_digest(const RemoteMessage& message) {
    if (m_by_digest.empty()) return std::nullopt;
    const std::string field = id_field(message.id);
    if (!field.starts_with(k_digest_marker)) return std::nullopt;
    if (auto held = m_db.location(m_record.key, message.id); !held || !held->empty()) return std::nullopt;
    auto it = m_by_digest.find(field.substr(k_digest_marker.size()));
    if (it == m_by_digest.end()) return std::nullopt;
    auto parsed = parse_name(it->second.name());
    if (!parsed || parsed->crlf_size != message.size) return std::nullopt;
    const OnDisk file = it->second;
    m_by_digest.erase(it);
    archive::StoredMessage row{message.id, base_of(file.name()),
                               info_to_flags(parsed->info_flags, m_keywords), message.size,
                               m_headers.message_id(), mtime_of(path_of(file)), 0};
    return Pending{"", std::string(file.name()), std::move(row), std::string(file.subdir()), {}};
}

void MaildirFolder::abandon() {
    m_unnamed.close(); // an unnamed file vanishes with its descriptor
    if (m_tmp_name.empty()) return;
    m_fd.reset();
    ::unlink((m_dir + "/tmp/" + m_tmp_name).c_str());
    m_tmp_name.clear();
}

// The file of a held message, by its base name from the database: in
// load()'s listing, or for a message committed since, by a directory scan.
Result<std::optional<MaildirFolder::OnDisk>> MaildirFolder::locate(const std::string& id,
                                                                   std::optional<std::size_t>* scan_index) {
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
    for (const char* sub : {"cur", "new"}) {
        DIR* d = ::opendir((m_dir + '/' + sub).c_str());
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

Status MaildirFolder::set_flags(const std::string& id, const Flags& flags) {
    std::optional<std::size_t> index;
    auto located = locate(id, &index);
    if (!located) return std::unexpected(located.error());
    if (!*located) return {};
    const OnDisk& file = **located;
    std::string name = with_flags(std::string(file.name()), flags_to_info(flags, m_keywords));
    if (auto s = save_keywords(); !s) return s; // before any name uses a new letter
    OnDisk moved{"cur", name};
    if (path_of(moved) != path_of(file) && ::rename(path_of(file).c_str(), path_of(moved).c_str()) != 0)
        return std::unexpected(fs::io_error("cannot rename", path_of(file), errno));
    test::durable_step("maildir flags renamed");
    if (index) m_scan.files[*index] = std::move(moved); // same base: the index stays sorted
    m_flag_changes.emplace_back(id, flags);
    return {};
}

Status MaildirFolder::read(const std::string& id, MessageSink& sink) {
    auto located = locate(id);
    if (!located) return std::unexpected(located.error());
    if (!*located) return fail(ErrorKind::not_found, Scope::message, "message " + id + " is not held");
    RemoteMessage m;
    m.id = id;
    return stream_message_file(path_of(**located), m, sink);
}

// The file goes first; the row follows at commit. A crash between leaves a
// row without a file, which load() forgets: the same end state.
Status MaildirFolder::remove(const std::vector<std::string>& ids) {
    for (const auto& id : ids) {
        std::optional<std::size_t> index;
        auto located = locate(id, &index);
        if (!located) return std::unexpected(located.error());
        if (!*located) continue;
        const std::string path = path_of(**located);
        if (::unlink(path.c_str()) != 0 && errno != ENOENT)
            return std::unexpected(fs::io_error("cannot remove", path, errno));
        test::durable_step("maildir file removed (mirror)");
        if (index) m_scan.removed[*index] = true;
        m_removed.push_back(id);
    }
    return {};
}

Status MaildirFolder::set_change_token(const std::string& token) {
    m_change_token = token;
    return {};
}

Status MaildirFolder::set_source_state(const std::string& id, SourceState state) {
    m_state_changes.emplace_back(id, state);
    return {};
}

// Steps 2 to 4 of commit(): the batch's data durable, each file named in
// cur/, the names durable.
Status MaildirFolder::durable_names() {
    const std::string tmp = m_dir + "/tmp";
    auto sync = [&] { return m_batch_dir ? fs::sync_filesystem(m_batch_dir.get(), tmp) : fs::sync_filesystem_of(tmp); };
    bool linked = false;
    if (!m_pending.empty()) {
        // One syncfs makes the whole batch durable, instead of an fsync per file.
        if (auto s = sync(); !s) return s;
        test::durable_step("maildir batch synced");
        for (auto& p : m_pending) {
            if (p.adopted()) continue;
            const std::string to = m_dir + "/cur/" + p.final_name;
            if (p.unnamed) {
                if (auto s = p.unnamed.link_as(to); !s) return s;
                linked = true;
                test::durable_step("maildir file linked into cur");
            } else {
                const std::string from = m_dir + "/tmp/" + p.tmp_name;
                if (::rename(from.c_str(), to.c_str()) != 0)
                    return std::unexpected(fs::io_error("cannot rename into", to, errno));
                test::durable_step("maildir file renamed into cur");
            }
        }
    }
    // A linked file's inode changed too (its link count went from 0 to 1).
    // A journal commits that with the directory's fsync; a file system
    // without one (ext2, ext4 without journal) writes it only with the
    // inode, so then one more syncfs, which writes both.
    if (auto s = linked ? sync() : fs::fsync_path(m_dir + "/cur"); !s) return s;
    test::durable_step("maildir cur synced");
    m_batch_dir.reset(); // the next batch watches from its own first message on
    return {};
}

// Order is the whole point: data durable -> renamed into cur/ -> directory
// durable -> recorded. A crash before the rename loses only tmp/ files (the
// next run fetches again); after it, the next load() adopts the files.
Status MaildirFolder::commit() {
    // An empty folder is kept too, so a restore can give it back.
    if (auto s = ensure_dirs(); !s) return s;
    if (m_pending.empty() && m_flag_changes.empty() && m_state_changes.empty() && m_record.known &&
        !m_change_token && m_removed.empty())
        return {};
    if (auto s = save_keywords(); !s) return s;
    if (m_commit_failure) return std::unexpected(*m_commit_failure);
    if (auto s = durable_names(); !s) {
        m_commit_failure = s.error();
        return s;
    }
    for (auto& p : m_pending) {
        if (p.unnamed) {
            fs::drop_cached(p.unnamed.get());
            p.unnamed.close();
        } else if (!p.tmp_name.empty()) {
            fs::drop_cached(m_dir + "/cur/" + p.final_name);
        }
    }

    if (auto s = m_db.begin(); !s) return s;
    Status s;
    for (const auto& p : m_pending)
        if (s) s = m_db.put(m_record.key, p.row);
    for (const auto& [id, flags] : m_flag_changes)
        if (s) s = m_db.set_flags(m_record.key, id, flags);
    for (const auto& [id, st] : m_state_changes)
        if (s) s = m_db.set_source_state(m_record.key, id, static_cast<std::uint8_t>(st));
    for (const auto& id : m_removed)
        if (s) s = m_db.remove(m_record.key, id);
    // Any change in this batch makes the old token stale; a new one is only
    // given once the whole folder is held.
    if (s) s = m_db.set_change_token(m_record.key, archive::stamped_token(m_change_token, directory_stamp(m_dir)));
    if (s && !m_record.known) s = m_db.set_validity(m_record.key, m_validity);
    if (s) s = m_db.commit();
    if (!s) {
        m_db.rollback();
        return s;
    }
    m_record.known = true;
    m_pending.clear(); // not added to m_scan: locate() finds them
    m_flag_changes.clear();
    m_state_changes.clear();
    m_change_token.reset();
    m_removed.clear();
    return {};
}

// The database moves first: rows are rewritten to the new ids in one
// transaction. The files keep their base name, so they stay found; their U=
// and V= fields are then renamed to match, which only matters if the
// database is later lost (a crash before that rename costs nothing else).
Status MaildirFolder::revalidate(std::uint32_t validity,
                                 const std::vector<std::pair<std::string, std::string>>& renames) {
    auto rows = m_db.messages(m_record.key);
    if (!rows) return std::unexpected(rows.error());
    std::unordered_map<std::string, archive::StoredMessage*> by_id;
    for (auto& r : *rows) by_id[r.id] = &r;

    if (auto s = m_db.begin(); !s) return s;
    Status s = m_db.remove_all(m_record.key);
    for (const auto& [old_id, new_id] : renames) {
        auto it = by_id.find(old_id);
        if (!s || it == by_id.end()) continue;
        archive::StoredMessage row = *it->second;
        row.id = new_id;
        s = m_db.put(m_record.key, row);
    }
    if (s) s = m_db.set_validity(m_record.key, validity);
    if (s) s = m_db.commit();
    if (!s) {
        m_db.rollback();
        return s;
    }
    std::uint32_t old_validity = m_validity;
    m_record = {m_record.key, true, validity};
    m_validity = validity;
    for (const auto& [old_id, new_id] : renames) {
        auto row = by_id.find(old_id);
        if (row == by_id.end()) continue;
        auto index = m_scan.find(row->second->location);
        if (!index || m_scan.removed[*index]) continue;
        OnDisk& file = m_scan.files[*index];
        auto parsed = parse_name(file.name());
        if (!parsed || validity_of(parsed->unique) != old_validity) continue;
        std::string renamed =
            make_bounded_unique_part(0, 0, 0, 0, new_id, parsed->crlf_size.value_or(0));
        // Keep the base; replace the fields after it.
        std::string name = base_of(file.name()) + renamed.substr(renamed.find(',')) +
                           ",V=" + std::to_string(validity) + ":2," + parsed->info_flags;
        OnDisk to(file.subdir(), name);
        ::rename(path_of(file).c_str(), path_of(to).c_str());
        test::durable_step("maildir file renamed after UIDVALIDITY change");
        file = std::move(to); // same base: the index stays sorted
    }
    return fs::fsync_path(m_dir + "/cur");
}

} // namespace mf::maildir
