#include "backends/mbox/folder.h"

#include "backends/archive/change_token.h"
#include "sync/sorted_index.h"

#include <csignal>
#include <cstdlib>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <fcntl.h>
#include <sys/stat.h>
#include <thread>
#include <unistd.h>

namespace mf::mbox {

namespace {

constexpr std::size_t k_write_buffer = 64 * 1024;
// A dotlock older than this is left over from a crash (procmail and mutt
// use similar ages) and may be removed.
constexpr std::int64_t k_stale_dotlock_seconds = 5 * 60;
constexpr auto k_dotlock_wait = std::chrono::seconds(5);

std::optional<std::uint64_t> file_size(const std::string& path) {
    struct stat st;
    if (::stat(path.c_str(), &st) != 0) return std::nullopt;
    return static_cast<std::uint64_t>(st.st_size);
}

std::string parent_of(const std::string& path) {
    auto slash = path.find_last_of('/');
    return slash == std::string::npos ? "." : slash == 0 ? "/" : path.substr(0, slash);
}

Status pwrite_all(int fd, std::string_view data, std::uint64_t offset, const std::string& path) {
    while (!data.empty()) {
        ssize_t n = ::pwrite(fd, data.data(), data.size(), static_cast<off_t>(offset));
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return std::unexpected(fs::io_error("cannot write", path, errno));
        data.remove_prefix(static_cast<std::size_t>(n));
        offset += static_cast<std::uint64_t>(n);
    }
    return {};
}

// Up to `max` bytes of `fd` from `offset` (fewer at the end of the file).
std::string pread_some(int fd, std::uint64_t offset, std::size_t max) {
    std::string out(max, '\0');
    std::size_t got = 0;
    while (got < max) {
        ssize_t n = ::pread(fd, out.data() + got, max - got, static_cast<off_t>(offset + got));
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        got += static_cast<std::size_t>(n);
    }
    out.resize(got);
    return out;
}

std::int64_t now_seconds() {
    using namespace std::chrono;
    return duration_cast<seconds>(system_clock::now().time_since_epoch()).count();
}

} // namespace

MboxFolder::MboxFolder(std::string mbox_path, archive::StateDb& db, archive::FolderRecord record,
                       std::uint32_t source_validity, bool read_only)
    : m_read_only(read_only), m_path(std::move(mbox_path)), m_index_path(m_path + ".mfindex"),
      m_lock_path(m_path + ".lock"), m_db(db), m_record(record), m_source_validity(source_validity),
      m_validity(record.known ? record.validity : source_validity) {}

// Finished but uncommitted messages stay in the mbox past the last indexed
// one: the next load() cuts them away, as after a crash.
MboxFolder::~MboxFolder() {
    abandon();
    close_files();
}

// ---- Locks and files ----------------------------------------------------------

Status MboxFolder::lock_mbox(bool create) {
    if (m_fd) return {};
    if (create)
        if (auto s = fs::make_dirs(parent_of(m_path)); !s) return s;
    fs::Fd fd(::open(m_path.c_str(), O_RDWR | O_CLOEXEC | (create ? O_CREAT : 0), 0600));
    if (!fd) return std::unexpected(fs::io_error("cannot open", m_path, errno));
    // fcntl before the dotlock, as mutt does, so the two never deadlock.
    struct flock fl {};
    fl.l_type = F_WRLCK;
    fl.l_whence = SEEK_SET;
    while (::fcntl(fd.get(), F_SETLKW, &fl) != 0) {
        if (errno == EINTR) continue;
        if (errno == ENOLCK) break; // no fcntl locks on this file system: the dotlock remains
        return std::unexpected(fs::io_error("cannot lock", m_path, errno));
    }
    struct stat st;
    if (::fstat(fd.get(), &st) != 0)
        return std::unexpected(fs::io_error("cannot stat", m_path, errno));
    m_fd = std::move(fd);
    if (auto s = take_dotlock(); !s) {
        m_fd.reset();
        return s;
    }
    // Appends go at the end as found under the lock, after anything a mail
    // reader may have added since load().
    m_end = static_cast<std::uint64_t>(st.st_size);
    return {};
}

// A dotlock names its holder's PID (ours do, as procmail's and mutt's do).
// If no such process exists on this machine, the holder crashed: a killed
// mailferry must not block the next run for minutes.
static bool holder_is_gone(const std::string& lock_path) {
    std::string text = fs::read_small_file(lock_path);
    long pid = std::strtol(text.c_str(), nullptr, 10);
    if (pid <= 0) return false; // no PID: only age tells
    return ::kill(static_cast<pid_t>(pid), 0) != 0 && errno == ESRCH;
}

// The lock appears with its PID already in it: written to a side file, then
// linked into place (link fails if the lock exists). A run killed between
// an O_EXCL create and the write would leave an empty lock that only its age
// could prove stale. The side file's name is fixed: under the archive lock
// only this run writes this folder, and a leftover from a kill is replaced.
// True: taken; false: someone holds it.
Result<bool> MboxFolder::make_dotlock() {
    std::string side = m_lock_path + ".new";
    (void)::unlink(side.c_str());
    {
        fs::Fd fd(::open(side.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600));
        if (!fd) return std::unexpected(fs::io_error("cannot create", side, errno));
        if (auto s = fs::write_all(fd.get(), std::to_string(::getpid()) + '\n', side); !s) {
            (void)::unlink(side.c_str());
            return std::unexpected(s.error());
        }
    }
    int rc = ::link(side.c_str(), m_lock_path.c_str());
    int err = errno;
    (void)::unlink(side.c_str());
    if (rc == 0) return true;
    if (err == EEXIST) return false;
    return std::unexpected(fs::io_error("cannot create", m_lock_path, err));
}

Status MboxFolder::take_dotlock() {
    auto deadline = std::chrono::steady_clock::now() + k_dotlock_wait;
    for (;;) {
        auto made = make_dotlock();
        if (!made) return std::unexpected(made.error());
        if (*made) {
            m_dotlocked = true;
            return {};
        }
        struct stat st;
        if (::lstat(m_lock_path.c_str(), &st) == 0 &&
            (now_seconds() - st.st_mtime > k_stale_dotlock_seconds || holder_is_gone(m_lock_path))) {
            if (::unlink(m_lock_path.c_str()) != 0 && errno != ENOENT)
                return std::unexpected(
                    fs::io_error("cannot remove the stale lock", m_lock_path, errno));
            continue;
        }
        if (std::chrono::steady_clock::now() >= deadline)
            return fail(ErrorKind::locked, Scope::folder,
                        m_path + " is locked by another program (" + m_lock_path + ")");
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
}

// The index exists before the first byte of ours goes into the mbox: so an
// mbox without an index is never partly ours, and in a user's own mbox the B
// line says where ours begin.
Status MboxFolder::open_index() {
    if (m_index_fd) return {};
    fs::Fd fd(::open(m_index_path.c_str(), O_WRONLY | O_APPEND | O_CLOEXEC));
    if (!fd && errno == ENOENT) {
        fd = fs::Fd(
            ::open(m_index_path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_EXCL | O_CLOEXEC, 0600));
        if (!fd) return std::unexpected(fs::io_error("cannot create", m_index_path, errno));
        if (m_end > 0)
            if (auto s = fs::write_all(fd.get(), base_line(m_end), m_index_path); !s) return s;
        if (::fsync(fd.get()) != 0)
            return std::unexpected(fs::io_error("cannot fsync", m_index_path, errno));
        // Makes the new mbox and index names durable.
        if (auto s = fs::fsync_path(parent_of(m_path)); !s) return s;
    }
    if (!fd) return std::unexpected(fs::io_error("cannot open", m_index_path, errno));
    m_index_fd = std::move(fd);
    return {};
}

void MboxFolder::close_files() {
    m_index_fd.reset();
    if (m_dotlocked) ::unlink(m_lock_path.c_str());
    m_dotlocked = false;
    m_fd.reset(); // releases the fcntl lock
}

// Appends whole lines and makes them durable; on failure the index is cut
// back, so no partial line is left for the next append to run into.
Status MboxFolder::append_index(const std::string& lines) {
    struct stat st;
    if (::fstat(m_index_fd.get(), &st) != 0)
        return std::unexpected(fs::io_error("cannot stat", m_index_path, errno));
    Status s = fs::write_all(m_index_fd.get(), lines, m_index_path);
    if (s && ::fsync(m_index_fd.get()) != 0)
        s = std::unexpected(fs::io_error("cannot fsync", m_index_path, errno));
    if (!s && ::ftruncate(m_index_fd.get(), st.st_size) == 0) ::fsync(m_index_fd.get());
    return s;
}

Status MboxFolder::truncate_mbox(std::uint64_t size) {
    if (::ftruncate(m_fd.get(), static_cast<off_t>(size)) != 0)
        return std::unexpected(fs::io_error("cannot truncate", m_path, errno));
    m_end = size;
    if (::fsync(m_fd.get()) != 0)
        return std::unexpected(fs::io_error("cannot fsync", m_path, errno));
    return {};
}

// ---- load ---------------------------------------------------------------------

// Puts the files back in the state the index describes: a torn last index
// line cut away; records beyond the end of a shortened mbox forgotten (the
// index is rewritten without them, so later appends at those offsets are not
// mistaken for them); mbox bytes past the last indexed message (a crash
// before the index was written) cut away.
Status MboxFolder::repair(const IndexFile& index, const std::vector<IndexRecord>& kept,
                          bool dropped, std::uint64_t mbox_size, std::uint64_t good_end) {
    bool cut_mbox = mbox_size > good_end;
    if (!index.torn && !dropped && !cut_mbox) return {};
    if (fs::exists(m_path))
        if (auto s = lock_mbox(false); !s) return s;
    m_index_fd.reset(); // reopened by the next append, after the rewrite
    if (dropped) {
        std::string text;
        if (index.replay.base() > 0) text += base_line(std::min(index.replay.base(), mbox_size));
        for (const auto& r : kept)
            text += message_line(r);
        if (auto s = fs::replace_file(m_index_path, text); !s) return s;
    } else if (index.torn) {
        fs::Fd fd(::open(m_index_path.c_str(), O_WRONLY | O_CLOEXEC));
        if (!fd || ::ftruncate(fd.get(), static_cast<off_t>(index.complete_bytes)) != 0 ||
            ::fsync(fd.get()) != 0)
            return std::unexpected(fs::io_error("cannot repair", m_index_path, errno));
    }
    if (cut_mbox) return truncate_mbox(good_end);
    return {};
}

// The database is exact here (the caller's token says the mbox and its
// index are as the last complete run left them): no index to replay and
// nothing to repair, one indexed lookup a listed message. Appends still go
// where the lock finds the end (lock_mbox).
Result<std::vector<HeldMessage>> MboxFolder::held_among(const std::vector<RemoteMessage>& listed) {
    abandon();
    m_pending.clear();
    m_loaded = m_brief = true;
    m_validity = m_record.known ? m_record.validity : m_source_validity;
    return m_db.held_among(m_record.key, listed);
}

Result<FolderState> MboxFolder::load() {
    // Uncommitted messages are dropped, as a crash would drop them.
    abandon();
    m_pending.clear();
    m_loaded = true;
    auto index = read_index(m_index_path);
    if (!index) return std::unexpected(index.error());
    auto size = file_size(m_path);
    std::uint64_t mbox_size = size.value_or(0);

    std::vector<IndexRecord> kept;
    if (!index->exists) {
        // No index: whatever the mbox holds is the user's own, not held.
        m_end = mbox_size;
    } else {
        bool dropped = false;
        std::uint64_t good_end = std::min(index->replay.base(), mbox_size);
        kept = index->replay.take_records();
        std::erase_if(kept, [&](const IndexRecord& r) {
            if (r.end() > mbox_size) { // the mbox was shortened by hand
                dropped = true;
                return true;
            }
            good_end = std::max(good_end, r.end());
            return false;
        });
        m_end = good_end;
        if (!m_read_only)
            if (auto s = repair(*index, kept, dropped, mbox_size, good_end); !s)
                return std::unexpected(s.error());
    }
    // A revalidate() whose V lines are durable but whose database commit was
    // lost: finish it (the index is the truth).
    bool finish_rename =
        m_record.known && m_record.validity != m_source_validity &&
        index->replay.last_rename() == std::pair{m_record.validity, m_source_validity};
    m_validity = finish_rename    ? m_source_validity
                 : m_record.known ? m_record.validity
                                  : m_source_validity;
    std::erase_if(kept, [&](const IndexRecord& r) { return r.validity != m_validity; });
    return reconcile(kept, finish_rename);
}

// The index says what is held; the database follows it: rows it lacks are
// dropped, records it lacks are adopted (a crash between index and database
// commits, or a lost database), and the index's flags win.
Result<FolderState> MboxFolder::reconcile(const std::vector<IndexRecord>& records,
                                          bool finish_rename) {
    // Records by id as a sorted index, and the database streamed row by row
    // against it: a folder of 50 000 messages is not held twice.
    auto id_of = [&](std::uint32_t i) -> const std::string& { return records[i].id; };
    const auto by_id = sorted_index(records.size(), id_of);
    std::vector<bool> matched(records.size());
    auto record_of = [&](const std::string& id) -> std::optional<std::size_t> {
        auto it = lower_bound_in(by_id, id, id_of);
        for (; it != by_id.end() && records[*it].id == id; ++it)
            if (!matched[*it]) return *it;
        return std::nullopt;
    };

    FolderState state;
    state.known = m_record.known;
    state.validity = m_validity;
    state.held.reserve(records.size());
    std::vector<std::string> stale;            // rows the index lacks
    std::vector<archive::StoredMessage> puts;  // rows to add or correct
    auto streamed = m_db.each_message(m_record.key, [&](archive::StoredMessage&& row) {
        auto i = record_of(row.id);
        if (!i) {
            stale.push_back(std::move(row.id));
            return;
        }
        matched[*i] = true;
        const IndexRecord& r = records[*i];
        std::string location = std::to_string(r.offset);
        if (row.flags != r.flags || row.location != location || row.size != r.size) {
            row.flags = r.flags;
            row.location = std::move(location);
            row.size = r.size;
            puts.push_back(row);
        }
        state.held.push_back(HeldMessage{r.id, r.flags, r.size, std::move(row.message_id), row.date,
                                         static_cast<SourceState>(row.source_state)});
    });
    if (!streamed) return std::unexpected(streamed.error());
    fs::Fd reader; // the mbox, opened for the first adoption
    m_held.clear();
    m_held.reserve(records.size());
    m_committed_new = false;
    for (std::size_t i = 0; i < records.size(); ++i) {
        const IndexRecord& r = records[i];
        m_held[r.id] = Held{r.offset, r.length, r.size, r.flags};
        if (matched[i]) continue;
        archive::StoredMessage row = adopted_row(reader, r);
        state.held.push_back(HeldMessage{r.id, r.flags, r.size, row.message_id, row.date});
        puts.push_back(std::move(row));
    }
    bool record_validity = finish_rename || (!m_record.known && !state.held.empty());
    if (stale.empty() && puts.empty() && !record_validity) return state;
    // Read-only (verify, a restore's source), what was found is used as
    // found and the database is left as it is.
    if (!m_read_only) {
        if (auto s = m_db.begin(); !s) return std::unexpected(s.error());
        Status s;
        for (const auto& id : stale)
            if (s) s = m_db.remove(m_record.key, id);
        for (const auto& row : puts)
            if (s) s = m_db.put(m_record.key, row);
        if (s && record_validity) s = m_db.set_validity(m_record.key, m_validity);
        if (s) s = m_db.commit();
        if (!s) {
            m_db.rollback();
            return std::unexpected(s.error());
        }
    }
    if (record_validity) {
        m_record = {m_record.key, true, m_validity};
        state.known = true;
    }
    return state;
}

// A database row for a message known only from the index: the date comes
// from its From_ line, the Message-ID from its header block.
archive::StoredMessage MboxFolder::adopted_row(fs::Fd& fd, const IndexRecord& r) const {
    archive::StoredMessage row{r.id, std::to_string(r.offset), r.flags, r.size, "", 0, 0};
    if (!fd) fd = fs::Fd(::open(m_path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd) return row;
    mail::HeaderScanner headers;
    bool first = true;
    for (std::uint64_t at = r.offset; at < r.end() && !headers.done();) {
        std::string block = pread_some(
            fd.get(), at, static_cast<std::size_t>(std::min<std::uint64_t>(8192, r.end() - at)));
        if (block.empty()) break;
        at += block.size();
        std::string_view data = block;
        if (first) {
            first = false;
            auto nl = data.find('\n');
            if (nl == std::string_view::npos) break; // a From_ line longer than a block
            row.date = parse_from_line(data.substr(0, nl)).value_or(0);
            data.remove_prefix(nl + 1);
        }
        headers.feed(data);
    }
    headers.finish();
    row.message_id = headers.message_id();
    return row;
}

// ---- Delivery -----------------------------------------------------------------

Status MboxFolder::begin(std::uint64_t) {
    abandon();
    if (!m_loaded)
        if (auto l = load(); !l) return std::unexpected(l.error());
    if (auto s = lock_mbox(true); !s) return s;
    if (auto s = open_index(); !s) return s;
    m_writing.emplace();
    m_writing->start = m_end;
    m_writing->encoder.emplace(m_writing->buffer);
    // The date is known only at finish(); the From_ line is written now with
    // a placeholder date of the same length and completed then.
    m_writing->buffer = from_line(0);
    return {};
}

Status MboxFolder::flush_buffer() {
    Writing& w = *m_writing;
    auto s = pwrite_all(m_fd.get(), w.buffer, w.start + w.flushed, m_path);
    w.flushed += w.buffer.size();
    w.buffer.clear();
    return s;
}

Status MboxFolder::write(std::string_view chunk) {
    if (!m_writing)
        return fail(ErrorKind::local_io, Scope::message, "a message written without begin()");
    if (!m_writing->headers.done()) m_writing->headers.feed(chunk);
    // Written out before the buffer would pass k_write_buffer, not after:
    // it then never grows to twice that (four connections, four buffers).
    if (m_writing->buffer.size() + chunk.size() > k_write_buffer)
        if (auto s = flush_buffer(); !s) return s;
    m_writing->encoder->feed(chunk);
    return {};
}

Status MboxFolder::finish(const RemoteMessage& message) {
    if (!m_writing)
        return fail(ErrorKind::local_io, Scope::message, "a message finished without begin()");
    Writing& w = *m_writing;
    w.encoder->finish();
    if (!w.headers.done()) w.headers.finish();
    std::int64_t date = message.internal_date;
    if (date <= 0) date = mail::parse_rfc5322_date(w.headers.date()).value_or(0);
    std::string from = from_line(date > 0 ? date : now_seconds());
    if (from.size() != from_line(0).size()) { // cannot happen: from_line has a fixed width
        abandon();
        return fail(ErrorKind::local_io, Scope::message, "a From_ line of unexpected length");
    }
    // The message is not finished yet, so this is no edit of a stored message.
    Status s;
    if (w.flushed == 0)
        w.buffer.replace(0, from.size(), from);
    else
        s = pwrite_all(m_fd.get(), from, w.start, m_path);
    if (s) s = flush_buffer();
    if (!s) {
        abandon();
        return s;
    }
    Flags flags = message.flags;
    normalize(flags);
    IndexRecord record{m_validity,
                       message.id,
                       w.start,
                       from.size() + w.encoder->bytes_written(),
                       message.size > 0 ? message.size : w.encoder->crlf_octets(),
                       flags};
    archive::StoredMessage row{
        message.id, std::to_string(w.start), flags, record.size, w.headers.message_id(), date, 0};
    m_end = record.end();
    m_pending.push_back(Pending{std::move(record), std::move(row)});
    m_writing.reset();
    return {};
}

// The file is cut back to where the message started. Should that fail, the
// next load() cuts it back instead: the bytes are past the last indexed one.
void MboxFolder::abandon() {
    if (!m_writing) return;
    std::uint64_t start = m_writing->start;
    m_writing.reset();
    (void)truncate_mbox(start);
}

// A held message: from load()'s records, or for one committed since, from
// the index file (read again: rare, and it keeps memory flat).
Result<std::optional<MboxFolder::Held>> MboxFolder::find_held(const std::string& id) const {
    if (auto it = m_held.find(id); it != m_held.end()) return it->second;
    if (held_is_complete()) return std::optional<Held>();
    auto index = read_index(m_index_path);
    if (!index) return std::unexpected(index.error());
    for (const auto& r : index->replay.records())
        if (r.validity == m_validity && r.id == id) return Held{r.offset, r.length, r.size, r.flags};
    return std::optional<Held>();
}

// Whether a message is held, without reading the index: the database has
// every committed message (find_held() is for where its bytes are).
Result<bool> MboxFolder::holds(const std::string& id) const {
    if (m_held.contains(id)) return true;
    if (held_is_complete()) return false;
    auto location = m_db.location(m_record.key, id);
    if (!location) return std::unexpected(location.error());
    return !location->empty();
}

Status MboxFolder::set_flags(const std::string& id, const Flags& flags) {
    auto held = holds(id);
    if (!held) return std::unexpected(held.error());
    if (!*held) return {};
    Flags normal = flags;
    normalize(normal);
    m_flag_changes.emplace_back(id, std::move(normal));
    return {};
}

// Decodes the message's bytes back to CRLF. A message that did not end in a
// line break gained one in the mbox: when the decoded copy is exactly 2
// octets longer than the held size, those 2 are dropped again.
Status MboxFolder::read(const std::string& id, MessageSink& sink) {
    auto held = find_held(id);
    if (!held) return std::unexpected(held.error());
    if (!*held) return fail(ErrorKind::not_found, Scope::message, "message " + id + " is not held");
    const Held h = **held;
    fs::Fd fd(::open(m_path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd) return std::unexpected(fs::io_error("cannot read", m_path, errno));
    if (auto s = sink.begin(h.size); !s) return s;
    RemoteMessage m{id, h.size, 0, h.flags};
    std::string tail; // the last 2 decoded octets, held back
    std::uint64_t total = 0;
    Status status;
    Decoder decoder(
        {[&](std::string_view from) { m.internal_date = parse_from_line(from).value_or(0); },
         [&](std::string_view body) {
             total += body.size();
             tail += body;
             if (status && tail.size() > 2)
                 status = sink.write(std::string_view(tail).substr(0, tail.size() - 2));
             tail.erase(0, tail.size() - std::min<std::size_t>(tail.size(), 2));
         },
         nullptr});
    for (std::uint64_t at = h.offset; status && at < h.offset + h.length;) {
        std::string block = pread_some(fd.get(), at,
                                       static_cast<std::size_t>(std::min<std::uint64_t>(
                                           k_write_buffer, h.offset + h.length - at)));
        if (block.empty())
            status = fail(ErrorKind::local_io, Scope::message,
                          m_path + " is shorter than its index says");
        at += block.size();
        decoder.feed(block);
    }
    if (status) decoder.finish();
    if (status && !(total == h.size + 2 && tail == "\r\n")) status = sink.write(tail);
    if (!status) {
        sink.abandon();
        return status;
    }
    return sink.finish(m);
}

Status MboxFolder::set_source_state(const std::string& id, SourceState state) {
    m_state_changes.emplace_back(id, state);
    return {};
}

// Order is the whole point:
//   1. the batch's messages are made durable in the mbox (fsync). A crash
//      before step 2 leaves them past the last indexed message: the next
//      load() cuts them away, so no unrecorded message stays in the mbox;
//   2. their M lines and the F lines are appended to the index and made
//      durable. From here on the messages are held, even if step 3 is lost:
//      the next load() adopts what the database lacks;
//   3. the database rows are written in one transaction.
Status MboxFolder::commit() {
    // An empty folder is kept too (an empty mbox), so a restore can give it back.
    if (auto s = lock_mbox(true); !s) return s;
    if (auto s = open_index(); !s) return s;
    if (m_pending.empty() && m_flag_changes.empty() && m_state_changes.empty() && m_record.known &&
        !m_change_token)
        return {};

    std::string lines;
    for (const auto& p : m_pending)
        lines += message_line(p.record);
    for (const auto& [id, flags] : m_flag_changes)
        lines += flags_line(m_validity, id, flags);
    Status s;
    if (!m_pending.empty() && ::fsync(m_fd.get()) != 0)
        s = std::unexpected(fs::io_error("cannot fsync", m_path, errno));
    if (s && !m_pending.empty()) fs::drop_cached(m_fd.get(), m_pending.front().record.offset);
    if (s && !lines.empty()) s = append_index(lines);
    if (!s) { // nothing of the batch is held: take its bytes back out
        if (!m_pending.empty()) (void)truncate_mbox(m_pending.front().record.offset);
        m_pending.clear();
        m_flag_changes.clear();
        m_state_changes.clear();
        return s;
    }
    if (!m_pending.empty()) m_committed_new = true; // not added to m_held: find_held() reads the index
    for (const auto& [id, flags] : m_flag_changes)
        if (auto it = m_held.find(id); it != m_held.end()) it->second.flags = flags;

    if (auto b = m_db.begin(); !b) s = b;
    for (const auto& p : m_pending)
        if (s) s = m_db.put(m_record.key, p.row);
    for (const auto& [id, flags] : m_flag_changes)
        if (s) s = m_db.set_flags(m_record.key, id, flags);
    for (const auto& [id, st] : m_state_changes)
        if (s) s = m_db.set_source_state(m_record.key, id, static_cast<std::uint8_t>(st));
    if (s && !m_record.known) s = m_db.set_validity(m_record.key, m_validity);
    // Any change in this batch makes the old token stale; a new one is only
    // given once the whole folder is held, stamped after the last write.
    if (s) s = m_db.set_change_token(m_record.key, archive::stamped_token(m_change_token, file_stamp(m_path)));
    if (s) s = m_db.commit();
    m_pending.clear();
    m_flag_changes.clear();
    m_state_changes.clear();
    m_change_token.reset();
    if (!s) {
        m_db.rollback();
        return s;
    }
    m_record.known = true;
    return {};
}

Status MboxFolder::set_change_token(const std::string& token) {
    m_change_token = token;
    return {};
}

// The index moves first (V lines, durable), then the database rows are
// rewritten in one transaction. A crash between the two is finished by the
// next load(). Unmatched old messages stay in the mbox, no longer held.
Status MboxFolder::revalidate(std::uint32_t validity,
                              const std::vector<std::pair<std::string, std::string>>& renames) {
    if (!m_loaded)
        if (auto l = load(); !l) return std::unexpected(l.error());
    std::string lines;
    for (const auto& [old_id, new_id] : renames)
        if (m_held.contains(old_id)) lines += rename_line(m_validity, old_id, validity, new_id);
    if (!lines.empty()) {
        Status s = lock_mbox(true);
        if (s) s = open_index();
        if (s) s = append_index(lines);
        if (!s) return s;
    }
    auto rows = m_db.messages(m_record.key);
    if (!rows) return std::unexpected(rows.error());
    std::unordered_map<std::string, archive::StoredMessage*> by_id;
    for (auto& r : *rows)
        by_id[r.id] = &r;

    if (auto s = m_db.begin(); !s) return s;
    Status s = m_db.remove_all(m_record.key);
    for (const auto& [old_id, new_id] : renames) {
        auto it = by_id.find(old_id);
        if (!s || it == by_id.end() || !m_held.contains(old_id)) continue;
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
    std::unordered_map<std::string, Held> renamed;
    for (const auto& [old_id, new_id] : renames)
        if (auto it = m_held.find(old_id); it != m_held.end()) renamed[new_id] = it->second;
    m_held = std::move(renamed);
    m_record = {m_record.key, true, validity};
    m_validity = validity;
    return {};
}

} // namespace mf::mbox
