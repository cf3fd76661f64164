// A server that marks messages read when they are fetched, even with
// BODY.PEEK[] on a folder opened with EXAMINE (iCloud does: issue 18), which
// RFC 3501 6.4.5 and 6.3.2 forbid. The archive keeps the read state the
// folder's listing showed; the run says how many the server marked; and on
// request (--undo-server-seen) the server's marks are taken back, exactly
// those and nothing else.
#include "backends/imap/source.h"

#include "backends/imap/uid_set.h"

#include <algorithm>

namespace mf::imap {

void ImapSource::remember_unseen(const std::vector<RemoteMessage>& listed) {
    m_unseen.clear();
    for (const auto& m : listed)
        if (!m.flags.has(flag_seen))
            if (auto uid = parse_uid(m.id)) m_unseen.push_back(*uid);
    std::sort(m_unseen.begin(), m_unseen.end());
}

void ImapSource::keep_listed_unseen(std::uint32_t uid, Flags& flags) {
    if (!flags.has(flag_seen) || !std::binary_search(m_unseen.begin(), m_unseen.end(), uid)) return;
    flags.system = static_cast<std::uint8_t>(flags.system & ~flag_seen);
    m_marked_read.push_back(uid);
}

std::vector<std::string> ImapSource::marked_read_by_fetch() const {
    std::vector<std::string> out;
    out.reserve(m_marked_read.size());
    for (auto uid : m_marked_read)
        out.push_back(std::to_string(uid));
    return out;
}

// SELECT, then UID STORE -FLAGS.SILENT (\Seen) for `ids` alone: a message
// the user read meanwhile on another client may lose its read mark too, which
// is why this runs only on request. Under another UIDVALIDITY the UIDs would
// name other messages: nothing is stored then.
Status ImapSource::undo_marked_read(const std::vector<std::string>& ids) {
    if (ids.empty()) return {};
    auto selected = select(m_open);
    if (!selected) return std::unexpected(selected.error());
    if (selected->validity != m_open_validity)
        return fail(ErrorKind::protocol, Scope::folder,
                    m_session->host() + " changed the UIDVALIDITY of " + m_open.display() +
                        " during the run; its messages were not marked unread again");
    for (const auto& set : uid_sets(to_uids(ids), k_max_uid_set_chars)) {
        auto r = m_session->run_ok("UID STORE " + set + " -FLAGS.SILENT (\\Seen)",
                                   "marking messages of " + m_open.display() + " unread again",
                                   [](const Response&) -> Status { return {}; });
        if (!r) return std::unexpected(r.error());
    }
    return {};
}

} // namespace mf::imap
