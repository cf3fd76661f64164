#include "backends/imap/locate.h"

#include "backends/imap/fetch.h"

#include <algorithm>
#include <map>

namespace mf::imap {

std::optional<std::string> locate_command(const std::string& message_id, std::uint32_t from) {
    std::string range = "UID SEARCH UID " + std::to_string(from) + ":* ";
    // RFC 3501 section 6.4.4: HEADER matches a field that contains the
    // string (the angle brackets make a substring of another id unlikely),
    // and an empty string matches every message that has the field.
    if (message_id.empty()) return range + "NOT HEADER Message-ID \"\"";
    if (needs_literal(message_id)) return std::nullopt;
    return range + "HEADER Message-ID " + quote_string(message_id);
}

std::vector<std::uint32_t> pair_found(std::vector<std::uint32_t> found, std::size_t group,
                                      const std::set<std::uint32_t>& known, std::uint32_t from) {
    // "n:*" names the highest UID even when it is below n (RFC 3501
    // section 6.4.8), so an older message may be among those found.
    std::erase_if(found, [&](std::uint32_t uid) { return uid < from || known.contains(uid); });
    std::sort(found.begin(), found.end());
    found.erase(std::unique(found.begin(), found.end()), found.end());
    if (found.size() != group) found.clear();
    return found;
}

void UidLocator::opened(std::uint32_t next) {
    m_next = std::max<std::uint32_t>(next, 1);
    m_known.clear();
    m_waiting.clear();
}

void UidLocator::add(const RemoteMessage& message, std::string message_id) {
    m_waiting.push_back({message, std::move(message_id)});
}

namespace {

// "* SEARCH 4 7" (RFC 3501 section 7.2.5): the UIDs, appended to `out`.
Status collect_search(const Response& r, std::vector<std::uint32_t>& out) {
    if (r.items.empty() || !is_atom(r.items[0], "SEARCH")) return {};
    for (std::size_t i = 1; i < r.items.size(); ++i)
        if (auto uid = to_u32(r.items[i])) out.push_back(*uid);
    return {};
}

} // namespace

// The searches are sent together and their answers read in order: a
// server runs commands whose results would be ambiguous (untagged SEARCH
// responses) to completion in the order given (RFC 3501 section 5.5).
Status UidLocator::locate(Session& session, const LocatedFn& located) {
    std::map<std::string, std::vector<const Waiting*>> groups; // Message-ID -> in append order
    for (const auto& w : m_waiting)
        groups[w.message_id].push_back(&w);
    std::vector<std::pair<std::string, const std::vector<const Waiting*>*>> sent; // tag, group
    for (const auto& [id, group] : groups) {
        auto command = locate_command(id, m_next);
        if (!command) continue;
        auto tag = session.send(*command);
        if (!tag) return std::unexpected(tag.error());
        sent.emplace_back(*tag, &group);
    }
    Status first;
    for (const auto& [tag, group] : sent) {
        std::vector<std::uint32_t> found;
        auto r = session.read_tagged(
            [&](const Response& resp) -> Status { return collect_search(resp, found); });
        if (!r) return std::unexpected(r.error());
        if (r->tag != tag || r->status != "OK") continue;
        auto uids = pair_found(std::move(found), group->size(), m_known, m_next);
        for (std::size_t i = 0; i < uids.size(); ++i) {
            m_known.insert(uids[i]);
            if (auto s = located((*group)[i]->message, uids[i]); !s && first) first = s;
        }
    }
    m_waiting.clear();
    return first;
}

} // namespace mf::imap
