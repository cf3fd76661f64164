#include "backends/mbox/folder.h"

#include "backends/archive/change_token.h"
#include "backends/mbox/store.h"

#include <cerrno>
#include <unistd.h>

namespace mf::mbox {

Status MboxFolder::set_flags(const std::string& id, const Flags& flags) {
    auto held = holds(id);
    if (!held) return std::unexpected(held.error());
    if (!*held) return {};
    Flags normal = flags;
    normalize(normal);
    m_flag_changes.emplace_back(id, std::move(normal));
    return {};
}

Status MboxFolder::set_labels(const std::string& id, const std::string& identity,
                              const std::vector<std::string>& labels) {
    m_label_changes.push_back({id, identity, labels});
    return {};
}

Status MboxFolder::set_source_state(const std::string& id, SourceState state) {
    m_state_changes.emplace_back(id, state);
    return {};
}

Status MboxFolder::set_change_token(const std::string& token) {
    m_change_token = token;
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
    if (m_pending.empty() && m_flag_changes.empty() && m_state_changes.empty() &&
        m_label_changes.empty() && m_record.known && !m_change_token)
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
        m_label_changes.clear();
        return s;
    }
    if (!m_pending.empty())
        m_committed_new = true; // not added to m_held: find_held() reads the index
    for (const auto& [id, flags] : m_flag_changes)
        if (auto it = m_held.find(id); it != m_held.end()) it->second.flags = flags;

    if (auto b = m_db.begin(); !b) s = b;
    for (const auto& p : m_pending)
        if (s) s = m_db.put(m_record.key, p.row);
    for (const auto& [id, flags] : m_flag_changes)
        if (s) s = m_db.set_flags(m_record.key, id, flags);
    for (const auto& [id, st] : m_state_changes)
        if (s) s = m_db.set_source_state(m_record.key, id, static_cast<std::uint8_t>(st));
    for (const auto& c : m_label_changes)
        if (s) s = m_db.set_labels(m_record.key, c.id, c.identity, c.labels);
    if (s && !m_record.known) s = m_db.set_validity(m_record.key, m_validity);
    // Any change in this batch makes the old token stale; a new one is only
    // given once the whole folder is held, stamped after the last write.
    if (s)
        s = m_db.set_change_token(m_record.key,
                                  archive::stamped_token(m_change_token, file_stamp(m_path)));
    if (s) s = m_db.commit();
    m_pending.clear();
    m_flag_changes.clear();
    m_state_changes.clear();
    m_label_changes.clear();
    m_change_token.reset();
    if (!s) {
        m_db.rollback();
        return s;
    }
    m_record.known = true;
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
    if (auto s = m_db.rekey(m_record.key, renames, validity,
                            [&](const std::string& id) { return m_held.contains(id); });
        !s)
        return s;
    std::unordered_map<std::string, Held> renamed;
    for (const auto& [old_id, new_id] : renames)
        if (auto it = m_held.find(old_id); it != m_held.end()) renamed[new_id] = it->second;
    m_held = std::move(renamed);
    m_record = {m_record.key, true, validity};
    m_validity = validity;
    return {};
}

} // namespace mf::mbox
