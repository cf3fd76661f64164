// Opening a folder read-only: EXAMINE, alone or with the listing open() will
// want sent right behind it when the folder list lets it be told beforehand.
#include "backends/imap/source.h"

#include "backends/imap/listing.h"

#include <algorithm>
#include <functional>
#include <utility>

namespace mf::imap {

namespace {

std::string examine_command(const std::string& mailbox, bool condstore) {
    return "EXAMINE " + mailbox + (condstore ? " (CONDSTORE)" : "");
}

} // namespace

// What the answer to EXAMINE says of the folder.
class ImapSource::ExamineAnswer {
  public:
    Status take(const Response& r) {
        if (r.status == "OK" && r.code.size() >= 2) {
            if (is_atom(r.code[0], "UIDVALIDITY")) m_validity = to_u32(r.code[1]);
            if (is_atom(r.code[0], "UIDNEXT")) m_uidnext = to_u32(r.code[1]);
            if (is_atom(r.code[0], "HIGHESTMODSEQ")) m_modseq = to_u64(r.code[1]);
        }
        if (r.items.size() == 2 && is_atom(r.items[1], "EXISTS"))
            m_exists = to_u32(r.items[0]).value_or(0);
        return {};
    }
    Result<Examined> result(const Session& session, const Response& tagged,
                            const FolderInfo& folder) const {
        if (auto s = session.check_ok(tagged, "opening " + folder.display()); !s)
            return std::unexpected(s.error());
        if (!m_validity)
            return fail(ErrorKind::protocol, Scope::folder,
                        session.host() + " gave no UIDVALIDITY for " + folder.display());
        return Examined{*m_validity, m_exists, m_uidnext, m_modseq};
    }

  private:
    std::optional<std::uint32_t> m_validity, m_uidnext;
    std::optional<std::uint64_t> m_modseq;
    std::uint32_t m_exists = 0;
};

// EXAMINE, never SELECT: a read-only open cannot change \Recent or \Seen.
// With CONDSTORE the server also gives HIGHESTMODSEQ, which changes with
// every flag change, expunge or arrival (RFC 7162 3.1.1).
Result<ImapSource::Examined> ImapSource::examine(const FolderInfo& folder) {
    return open_as(folder, [&](const std::string& arg) {
        return examine_command(arg, m_session->has("CONDSTORE"));
    });
}

// The one read-write open, for undo_marked_read() only. Never followed by
// CLOSE, which would expunge what is marked \Deleted (RFC 3501 6.4.2): the
// next EXAMINE or LOGOUT leaves the folder as it is.
Result<ImapSource::Examined> ImapSource::select(const FolderInfo& folder) {
    return open_as(folder, [](const std::string& arg) { return "SELECT " + arg; });
}

Result<ImapSource::Examined>
ImapSource::open_as(const FolderInfo& folder,
                    const std::function<std::string(const std::string&)>& command) {
    auto raw = m_raw_names.find(folder.path);
    if (raw == m_raw_names.end())
        return fail(ErrorKind::not_found, Scope::folder,
                    "no folder " + folder.display() + " on the server");
    auto arg = mailbox_argument(raw->second);
    if (!arg) return std::unexpected(arg.error());
    ExamineAnswer answer;
    auto opened = m_session->run(command(*arg), [&](const Response& r) { return answer.take(r); });
    if (!opened) return std::unexpected(opened.error());
    return answer.result(*m_session, *opened, folder);
}

// Saves the round trip between EXAMINE and the listing. Should EXAMINE fail,
// a server that said NO has no folder selected and refuses the listing
// (RFC 3501 6.3.1), but one that said BAD may still have the previous folder
// selected and list that one. Both answers are always read, so the session
// stays in step; after a failed EXAMINE nothing of the listing's answer is
// used, not even its status.
Result<ImapSource::Examined> ImapSource::examine_and_list(const FolderInfo& folder,
                                                          const std::string& listing) {
    auto raw = m_raw_names.find(folder.path);
    if (raw == m_raw_names.end()) return examine(folder);
    auto arg = mailbox_argument(raw->second);
    if (!arg) return std::unexpected(arg.error());
    const std::string command = examine_command(*arg, m_session->has("CONDSTORE"));
    // A name sent as a literal the server must first accept ("+") cannot
    // have the listing sent behind it: EXAMINE alone, then the listing.
    if (m_session->waits_for_continuation(command)) return examine(folder);
    auto examine_tag = m_session->send(command);
    if (!examine_tag) return std::unexpected(examine_tag.error());
    auto listing_tag = m_session->send(listing);
    if (!listing_tag) return std::unexpected(listing_tag.error());
    // The listing depends on EXAMINE: answered in any other order, neither
    // answer can be trusted.
    auto in_order = [&](const Result<Response>& r, const std::string& tag) -> Status {
        if (!r) return std::unexpected(r.error());
        if (r->tag == tag) return {};
        return fail(ErrorKind::protocol, Scope::session,
                    m_session->host() + " answered out of order (tag " + r->tag +
                        ") while opening " + folder.display());
    };
    ExamineAnswer answer;
    auto examined = m_session->read_tagged([&](const Response& r) { return answer.take(r); });
    if (auto s = in_order(examined, *examine_tag); !s) return std::unexpected(s.error());
    auto e = answer.result(*m_session, *examined, folder);
    Prelisted pre{listing, {}, {}, 0};
    // As list() does: EXISTS comes from the server, never trusted for an allocation.
    if (e && listing == listing_for("1:*"))
        pre.messages.reserve(std::min<std::uint32_t>(e->exists, 100000));
    Listing lines(pre.messages, e ? e->exists : 0, m_session->host());
    auto listed =
        m_session->read_tagged([&](const Response& r) { return e ? lines.take(r) : Status{}; });
    if (auto s = in_order(listed, *listing_tag); !s) return std::unexpected(s.error());
    if (!e) return e;
    pre.status = m_session->check_ok(*listed, "listing " + folder.display());
    if (pre.status) pre.status = lines.check(folder);
    pre.exists = lines.exists();
    m_prelisted = std::move(pre);
    return e;
}

std::string ImapSource::predicted_listing(const FolderInfo& folder,
                                          const OpenRequest& request) const {
    auto listed = parse_token(folder.change_token);
    if (!listed || !request.filter.empty()) return {}; // a filter searches first
    if (request.known_token.empty()) {
        // No archive to compare with: the whole folder, unless it comes in
        // parts (then ESEARCH first).
        if (in_parts(request.part_size, listed->exists)) return {};
        return listed->exists > 0 ? listing_for("1:*") : std::string();
    }
    auto known = parse_token(request.known_token);
    // What list_changes() asks for when only changes need listing.
    if (known && known->validity == listed->validity && known->uidnext > 0 && known->modseq > 0 &&
        listed->uidnext >= known->uidnext && listed->modseq > known->modseq)
        return listing_for("1:*", changed_since(known->modseq));
    return {};
}

} // namespace mf::imap
