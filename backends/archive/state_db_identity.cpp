// The state database's look-ups across folders by a message's identity
// (size, date, Message-ID): for messages moved on the source, which the
// stores link rather than download again (sync/relink.h). Both queries use
// the messages_by_identity index. A source that names a message the same in
// every folder (Gmail's X-GM-MSGID: RemoteMessage::identity) is looked up by
// that instead, through messages_by_source_identity.
#include "backends/archive/state_db.h"
#include "backends/archive/state_db_impl.h"

#include <map>

namespace mf::archive {

Result<bool> StateDb::held_elsewhere_like(std::int64_t folder, std::uint64_t size,
                                          std::int64_t date) {
    Stmt s(*m_impl->cache, "SELECT 1 FROM messages WHERE size=? AND date=? AND folder<>? LIMIT 1");
    if (!s.ok()) return std::unexpected(m_impl->error("looking up a message"));
    s.bind(1, static_cast<std::int64_t>(size)).bind(2, date).bind(3, folder);
    int rc = s.step();
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return std::unexpected(m_impl->error("looking up a message"));
    return rc == SQLITE_ROW;
}

Result<std::vector<StateDb::HeldCopy>> StateDb::held_elsewhere(std::int64_t folder,
                                                               std::uint64_t size,
                                                               std::int64_t date,
                                                               const std::string& message_id) {
    Stmt s(*m_impl->cache,
           "SELECT f.path, m.location FROM messages m JOIN folders f ON m.folder = f.key "
           "WHERE m.size=? AND m.date=? AND m.message_id=? AND m.folder<>? LIMIT 4");
    if (!s.ok()) return std::unexpected(m_impl->error("looking up a message"));
    s.bind(1, static_cast<std::int64_t>(size)).bind(2, date).bind(3, message_id).bind(4, folder);
    std::vector<HeldCopy> out;
    int rc;
    while ((rc = s.step()) == SQLITE_ROW)
        out.push_back(HeldCopy{s.text(0), s.text(1)});
    if (rc != SQLITE_DONE) return std::unexpected(m_impl->error("looking up a message"));
    return out;
}

Result<std::vector<StateDb::HeldCopy>> StateDb::held_elsewhere(std::int64_t folder,
                                                               const std::string& identity) {
    Stmt s(*m_impl->cache,
           "SELECT f.path, m.location, m.message_id FROM messages m JOIN folders f "
           "ON m.folder = f.key WHERE m.identity=? AND m.identity<>'' AND m.folder<>? LIMIT 4");
    if (!s.ok()) return std::unexpected(m_impl->error("looking up a message"));
    s.bind(1, identity).bind(2, folder);
    std::vector<HeldCopy> out;
    int rc;
    while ((rc = s.step()) == SQLITE_ROW)
        out.push_back(HeldCopy{s.text(0), s.text(1), s.text(2)});
    if (rc != SQLITE_DONE) return std::unexpected(m_impl->error("looking up a message"));
    return out;
}

// One row per message (the labels of any of its copies still on the
// source: a run updates them all), then counted per label.
Result<std::vector<std::pair<std::string, std::size_t>>> StateDb::label_counts() {
    std::vector<std::pair<std::string, std::size_t>> out;
    if (!m_impl->has_identity) return out; // an archive from before labels, read-only
    Stmt s(*m_impl->cache, "SELECT labels FROM messages WHERE identity<>'' AND source_state=0 "
                           "GROUP BY identity");
    if (!s.ok()) return std::unexpected(m_impl->error("reading labels"));
    std::map<std::string, std::size_t> counts;
    int rc;
    while ((rc = s.step()) == SQLITE_ROW)
        for (auto& label : split_labels(s.text(0)))
            ++counts[std::move(label)];
    if (rc != SQLITE_DONE) return std::unexpected(m_impl->error("reading labels"));
    out.assign(counts.begin(), counts.end());
    return out;
}

} // namespace mf::archive
