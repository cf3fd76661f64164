#include "backends/imap/listing.h"

#include "backends/imap/fetch.h"
#include "backends/imap/source.h"
#include "backends/imap/uid_set.h"

#include <algorithm>
#include <ctime>
#include <iterator>
#include <utility>

namespace mf::imap {

std::string gmail_items(ListingItems items) {
    return items == ListingItems::gmail ? " X-GM-MSGID X-GM-LABELS" : "";
}

std::string listing_command(const std::string& set, const std::string& modifier,
                            ListingItems items) {
    return "UID FETCH " + set + " (UID FLAGS RFC822.SIZE INTERNALDATE" + gmail_items(items) + ")" +
           modifier;
}

void take_gmail_items(const FetchData& data, RemoteMessage& m) {
    if (data.gm_msgid) m.identity = "gm:" + std::to_string(*data.gm_msgid);
    if (!data.gm_labels) return;
    m.labels = *data.gm_labels;
    // In one order, so that a rerun compares them as sets.
    std::sort(m.labels.begin(), m.labels.end());
}

std::string changed_since(std::uint64_t modseq) {
    return " (CHANGEDSINCE " + std::to_string(modseq) + ")";
}

namespace {

// An IMAP date (RFC 3501 date: "7-Dec-2026") of the UTC day `days` after
// the epoch.
std::string imap_date(std::int64_t days) {
    static const char* const k_months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                           "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    const std::time_t t = static_cast<std::time_t>(days * 86400);
    std::tm tm{};
    gmtime_r(&t, &tm);
    return std::to_string(tm.tm_mday) + "-" + k_months[tm.tm_mon] + "-" +
           std::to_string(tm.tm_year + 1900);
}

std::int64_t day_of(std::int64_t seconds) {
    return seconds >= 0 ? seconds / 86400 : -((-seconds + 86399) / 86400);
}

} // namespace

std::string search_criteria(const MessageFilter& filter) {
    std::string out;
    auto add = [&](const std::string& key) { out += (out.empty() ? "" : " ") + key; };
    // A time zone moves a date by at most a day either way.
    if (filter.since)
        add("SINCE " + imap_date(std::max<std::int64_t>(0, day_of(*filter.since) - 1)));
    if (filter.before) add("BEFORE " + imap_date(day_of(*filter.before - 1) + 2));
    if (filter.max_size) add("NOT LARGER " + std::to_string(*filter.max_size));
    return out;
}

void sort_by_uid(std::vector<RemoteMessage>& messages) {
    std::stable_sort(messages.begin(), messages.end(), [](const auto& a, const auto& b) {
        return parse_uid(a.id) < parse_uid(b.id);
    });
    auto last = std::unique(messages.rbegin(), messages.rend(),
                            [](const auto& a, const auto& b) { return a.id == b.id; });
    messages.erase(messages.begin(), last.base());
}

Listing::Listing(std::vector<RemoteMessage>& out, std::uint32_t exists, std::string host,
                 const std::vector<std::uint32_t>* only)
    : m_out(out), m_start(out.size()), m_exists(exists), m_host(std::move(host)), m_only(only) {
    if (!m_only) return;
    m_sized.assign(m_only->size(), false);
    m_sizeless.assign(m_only->size(), false);
}

Status Listing::take(const Response& r) {
    if (r.items.size() == 2 && is_atom(r.items[1], "EXISTS"))
        m_exists = to_u32(r.items[0]).value_or(m_exists);
    // An expunge meanwhile (RFC 3501 7.4.1) leaves one message fewer to list.
    if (r.items.size() == 2 && is_atom(r.items[1], "EXPUNGE") && m_exists > 0) --m_exists;
    if (r.items.size() < 2 || !is_atom(r.items[1], "FETCH")) return {};
    auto data = parse_fetch(r);
    if (m_only && data) {
        // Among another command's answers only what carries RFC822.SIZE,
        // which just the listing asks for, is a listing line; the rest
        // are that command's or flag changes (RFC 3501 7.4.2). A UID of
        // the part seen only so is a listing line without its size.
        auto at = data->uid ? position(*data->uid) : std::nullopt;
        if (!data->size) {
            if (at) m_sizeless[*at] = true;
            return {};
        }
        if (data->uid && !at) return {}; // not of this part
        if (at) m_sized[*at] = true;
    }
    // A listing line we cannot read must not make a message silently
    // disappear from the backup: the folder fails (check()), naming them.
    if (!data || !data->uid) {
        ++m_unreadable;
        return {};
    }
    // A server streaming FETCH responses without end must not grow our
    // memory without end: one per message asked for (or announced), with
    // some slack.
    const std::size_t cap = m_only ? m_only->size() : std::size_t{m_exists};
    if (m_out.size() - m_start > cap + 1000)
        return fail(ErrorKind::protocol, Scope::session,
                    m_host + " sent more FETCH responses than " +
                        (m_only ? "messages were asked for" : "its EXISTS count announced"));
    RemoteMessage m;
    m.id = std::to_string(*data->uid);
    m.size = data->size.value_or(0);
    m.internal_date = data->internal_date.value_or(0);
    m.flags = data->flags.value_or(Flags{});
    take_gmail_items(*data, m);
    m_out.push_back(std::move(m));
    return {};
}

Status Listing::check(const FolderInfo& folder) const {
    std::size_t unreadable = m_unreadable;
    for (std::size_t i = 0; i < m_sizeless.size(); ++i)
        if (m_sizeless[i] && !m_sized[i]) ++unreadable;
    if (unreadable == 0) return {};
    return fail(ErrorKind::protocol, Scope::folder,
                m_host + " listed " + std::to_string(unreadable) + " message(s) of " +
                    folder.display() +
                    " in a form that cannot be read (bad UID or size); folder not backed up");
}

std::optional<std::size_t> Listing::position(std::uint32_t uid) const {
    auto it = std::lower_bound(m_only->begin(), m_only->end(), uid);
    if (it == m_only->end() || *it != uid) return std::nullopt;
    return static_cast<std::size_t>(it - m_only->begin());
}

Status ImapSource::list_range(const FolderInfo& folder, const std::string& uids,
                              const std::string& modifier, Snapshot& snap, std::uint32_t exists,
                              std::uint32_t* exists_after) {
    const std::string command = listing_for(uids, modifier);
    if (auto pre = std::exchange(m_prelisted, std::nullopt); pre && pre->command == command) {
        if (!pre->status) return pre->status;
        if (exists_after) *exists_after = pre->exists;
        if (snap.messages.empty())
            snap.messages = std::move(pre->messages); // no second copy held
        else
            snap.messages.insert(snap.messages.end(),
                                 std::make_move_iterator(pre->messages.begin()),
                                 std::make_move_iterator(pre->messages.end()));
        return {};
    }
    return list_by(folder, command, snap, exists, exists_after);
}

Status ImapSource::list_by(const FolderInfo& folder, const std::string& command, Snapshot& snap,
                           std::uint32_t exists, std::uint32_t* exists_after) {
    Listing listing(snap.messages, exists, m_session->host());
    auto listed = m_session->run_ok(command, "listing " + folder.display(),
                                    [&](const Response& r) { return listing.take(r); });
    if (!listed) return std::unexpected(listed.error());
    if (exists_after) *exists_after = listing.exists();
    return listing.check(folder);
}

// A filtered listing: UID SEARCH finds the messages the filter may admit,
// and only those are listed. Those it did not find are left out of the
// snapshot (Snapshot::narrowed), so the engine never takes them for gone.
// With ESEARCH (RFC 4731) the answer is a compact UID set, not a number
// per message.
Status ImapSource::list_filtered(const FolderInfo& folder, const MessageFilter& filter,
                                 Snapshot& snap, std::uint32_t exists) {
    snap.total = exists;
    snap.narrowed = true;
    if (exists == 0) return {};
    std::vector<std::uint32_t> uids;
    // Never more UIDs than the folder announced (with some slack).
    const std::size_t cap = std::size_t{exists} + 1000;
    const bool esearch = m_session->has("ESEARCH");
    auto take = [&](const Response& r) -> Status {
        if (r.items.empty()) return {};
        if (esearch && is_atom(r.items[0], "ESEARCH")) {
            for (std::size_t i = 1; i + 1 < r.items.size(); ++i)
                if (is_atom(r.items[i], "ALL")) {
                    auto set = as_string(r.items[i + 1]);
                    uids = set ? expand_uid_set(*set, cap) : std::vector<std::uint32_t>{};
                    // Never taken as "nothing found": that would leave mail out.
                    if (uids.empty())
                        return fail(ErrorKind::protocol, Scope::folder,
                                    m_session->host() + " answered the search of " +
                                        folder.display() + " with a UID set that cannot be read");
                }
        } else if (is_atom(r.items[0], "SEARCH")) {
            for (std::size_t i = 1; i < r.items.size() && uids.size() <= cap; ++i)
                if (auto uid = to_u32(r.items[i])) uids.push_back(*uid);
        }
        if (uids.size() > cap)
            return fail(ErrorKind::protocol, Scope::session,
                        m_session->host() + " found more messages than its EXISTS count");
        return {};
    };
    const std::string command =
        std::string("UID SEARCH ") + (esearch ? "RETURN (ALL) " : "") + search_criteria(filter);
    auto searched = m_session->run_ok(command, "searching " + folder.display(), take);
    if (!searched) return std::unexpected(searched.error());
    for (const auto& set : uid_sets(std::move(uids), k_max_uid_set_chars))
        if (auto s = list_range(folder, set, "", snap, exists); !s) return s;
    sort_by_uid(snap.messages);
    return {};
}

Status ImapSource::list(const FolderInfo& folder, Snapshot& snap, std::uint32_t exists) {
    if (exists == 0) return {};
    // EXISTS comes from the server: never trust it for an allocation. A
    // listing already received behind EXAMINE is taken as it is.
    if (!m_prelisted || m_prelisted->command != listing_for("1:*"))
        snap.messages.reserve(std::min<std::uint32_t>(exists, 100000));
    std::uint32_t now = exists;
    if (auto s = list_range(folder, "1:*", "", snap, exists, &now); !s) return s;
    sort_by_uid(snap.messages);
    return complete(folder, snap, now);
}

// A whole listing must name every message the folder holds: EXISTS, and the
// folder list's STATUS MESSAGES where it gave that. Yahoo shows only the
// newest 10 000 messages of a larger folder unless UIDONLY (RFC 9586) is
// enabled (issue 18; rustmailer/bichon#271, djc/imap-proto#198): a short
// listing taken as the folder would leave the rest out of the backup and
// end with exit 0. Older messages are asked for by UID range, a page below
// the oldest listed at a time, while that brings more; still short, the
// folder fails, naming both counts.
Status ImapSource::complete(const FolderInfo& folder, Snapshot& snap, std::uint32_t exists) {
    const std::size_t want = std::max<std::size_t>(exists, folder.messages.value_or(0));
    while (snap.messages.size() < want && !snap.messages.empty()) {
        const auto oldest = parse_uid(snap.messages.front().id).value_or(1);
        if (oldest <= 1) break;
        const std::size_t before = snap.messages.size();
        if (auto s = list_range(folder, "1:" + std::to_string(oldest - 1), "", snap, exists); !s)
            return s;
        sort_by_uid(snap.messages);
        if (snap.messages.size() == before) break;
    }
    if (snap.messages.size() < exists)
        return short_listing(folder, snap.messages.size(),
                             std::to_string(exists) + " EXISTS announced");
    if (snap.messages.size() >= want) return {};
    // Short of the folder list's count only: mail deleted since that LIST
    // would explain it, so the server is asked again. STATUS on the folder
    // being examined is frowned on (RFC 3501 6.3.10), hence only here.
    auto arg = mailbox_argument(m_raw_names.at(folder.path));
    if (!arg) return std::unexpected(arg.error());
    std::optional<std::uint32_t> messages;
    auto r = m_session->run_ok("STATUS " + *arg + " (MESSAGES)",
                               "asking " + folder.display() + " for its count",
                               [&](const Response& resp) -> Status {
                                   if (auto d = parse_status(resp)) messages = d->messages;
                                   return {};
                               });
    if (!r) return std::unexpected(r.error());
    if (messages && *messages > snap.messages.size())
        return short_listing(folder, snap.messages.size(),
                             std::to_string(*messages) + " STATUS gives");
    return {};
}

std::unexpected<Failure> ImapSource::short_listing(const FolderInfo& folder, std::size_t listed,
                                                   const std::string& count) const {
    return fail(ErrorKind::protocol, Scope::folder,
                m_session->host() + " listed " + std::to_string(listed) + " of the " + count +
                    " messages of " + folder.display() +
                    "; folder not backed up (the server shows only part of it: Yahoo, for one, "
                    "shows only the "
                    "newest 10 000 messages of a folder)");
}

} // namespace mf::imap
