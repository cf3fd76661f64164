// The state database's records beside the archive's messages: messages that
// failed in earlier runs (the engine's failure memory) and the push state
// (which source message is which target UID).
#include "backends/archive/state_db.h"
#include "backends/archive/state_db_impl.h"
#include "backends/common/crashpoint.h"

namespace mf::archive {

Result<std::vector<MessageFailure>> StateDb::failures(const std::string& rel_path) {
    Stmt s(*m_impl->cache,
           "SELECT x.id, x.runs, x.what FROM message_failures x JOIN folders f ON x.folder = f.key "
           "WHERE f.path=?");
    if (!s.ok()) return std::unexpected(m_impl->error("reading failed messages"));
    s.bind(1, rel_path);
    std::vector<MessageFailure> out;
    int rc;
    while ((rc = s.step()) == SQLITE_ROW)
        out.push_back(MessageFailure{s.text(0), static_cast<std::size_t>(s.integer(1)), s.text(2)});
    if (rc != SQLITE_DONE) return std::unexpected(m_impl->error("reading failed messages"));
    return out;
}

Status StateDb::record_failures(const std::string& rel_path,
                                const std::vector<MessageProblem>& failed,
                                const std::vector<std::string>& cleared) {
    if (failed.empty() && cleared.empty()) return {};
    auto record = folder(rel_path);
    if (!record) return std::unexpected(record.error());
    if (auto s = begin(); !s) return s;
    Status s;
    for (const auto& m : failed) {
        Stmt up(*m_impl->cache,
                "INSERT INTO message_failures VALUES (?,?,1,?) "
                "ON CONFLICT (folder, id) DO UPDATE SET runs = runs + 1, what = excluded.what");
        up.bind(1, record->key).bind(2, m.id).bind(3, m.what);
        if (s) s = m_impl->run(up, "recording a failed message");
    }
    for (const auto& id : cleared) {
        Stmt del(*m_impl->cache, "DELETE FROM message_failures WHERE folder=? AND id=?");
        del.bind(1, record->key).bind(2, id);
        if (s) s = m_impl->run(del, "forgetting a failed message");
    }
    if (s) s = commit();
    if (!s) rollback();
    return s;
}

Result<StateDb::PushFolder> StateDb::push_load(const std::string& folder) {
    PushFolder out;
    Stmt f(*m_impl->cache,
           "SELECT source_validity, target_validity FROM push_folders WHERE folder=?");
    if (!f.ok()) return std::unexpected(m_impl->error("reading push state"));
    f.bind(1, folder);
    if (f.step() == SQLITE_ROW) {
        out.known = true;
        out.source_validity = static_cast<std::uint32_t>(f.integer(0));
        out.target_validity = static_cast<std::uint32_t>(f.integer(1));
    }
    Stmt m(*m_impl->cache, "SELECT source_id, uid FROM push_map WHERE folder=?");
    if (!m.ok()) return std::unexpected(m_impl->error("reading push state"));
    m.bind(1, folder);
    int rc;
    while ((rc = m.step()) == SQLITE_ROW)
        out.entries.emplace_back(m.text(0), static_cast<std::uint32_t>(m.integer(1)));
    if (rc != SQLITE_DONE) return std::unexpected(m_impl->error("reading push state"));
    return out;
}

Status StateDb::push_reset(const std::string& folder, std::uint32_t source_validity,
                           std::uint32_t target_validity) {
    if (auto s = begin(); !s) return s;
    Stmt d(*m_impl->cache, "DELETE FROM push_map WHERE folder=?");
    d.bind(1, folder);
    Status s = m_impl->run(d, "resetting push state");
    Stmt f(*m_impl->cache, "INSERT OR REPLACE INTO push_folders VALUES (?,?,?)");
    f.bind(1, folder)
        .bind(2, static_cast<std::int64_t>(source_validity))
        .bind(3, static_cast<std::int64_t>(target_validity));
    if (s) s = m_impl->run(f, "resetting push state");
    if (s) s = commit();
    if (!s) rollback();
    return s;
}

Status StateDb::push_record(const std::string& folder, const std::string& id, std::uint32_t uid) {
    Stmt s(*m_impl->cache, "INSERT OR REPLACE INTO push_map VALUES (?,?,?)");
    s.bind(1, folder).bind(2, id).bind(3, static_cast<std::int64_t>(uid));
    auto r = m_impl->run(s, "recording a copied message");
    if (r) test::durable_step("push mapping recorded");
    return r;
}

Status StateDb::push_forget(const std::string& folder, const std::string& id) {
    Stmt s(*m_impl->cache, "DELETE FROM push_map WHERE folder=? AND source_id=?");
    s.bind(1, folder).bind(2, id);
    return m_impl->run(s, "forgetting a copied message");
}

} // namespace mf::archive
