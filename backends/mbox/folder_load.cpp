#include "backends/mbox/folder.h"

#include "backends/mbox/file_io.h"
#include "sync/sorted_index.h"

#include <algorithm>
#include <cerrno>
#include <fcntl.h>
#include <unistd.h>

namespace mf::mbox {

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
    std::vector<std::string> stale;           // rows the index lacks
    std::vector<archive::StoredMessage> puts; // rows to add or correct
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
                                         static_cast<SourceState>(row.source_state),
                                         std::move(row.identity), std::move(row.labels)});
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

} // namespace mf::mbox
