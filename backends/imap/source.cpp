#include "backends/imap/source.h"

#include "backends/common/headers.h"
#include "backends/imap/fetch.h"
#include "backends/imap/mutf7.h"
#include "backends/imap/target.h"
#include "sync/memory.h"

#include <algorithm>
#include <charconv>
#include <set>
#include <unordered_set>
#include <utility>

namespace mf::imap {

namespace {

constexpr std::size_t k_max_set_chars = 4000; // keeps command lines well under server limits
// Folders up to this size are listed at once: their listing is small, and
// every part costs a round trip between fetches (40 ms on a slow link).
constexpr std::size_t k_min_parted = 4096;

std::vector<std::string> split_name(const std::string& name, char separator) {
    std::vector<std::string> parts;
    if (separator == 0) return {name};
    std::size_t start = 0;
    for (;;) {
        auto at = name.find(separator, start);
        parts.push_back(name.substr(start, at - start));
        if (at == std::string::npos) break;
        start = at + 1;
    }
    return parts;
}

// The special-use attributes of RFC 6154 (and \\Important, RFC 8457), as
// the RFCs spell them, whatever case the server used.
constexpr std::string_view k_special_uses[] = {"\\All",     "\\Archive", "\\Drafts", "\\Flagged",
                                               "\\Important", "\\Junk",    "\\Sent",   "\\Trash"};

void take_attribute(const Value& a, ListedFolder& f) {
    if (is_atom(a, "\\NOSELECT") || is_atom(a, "\\NONEXISTENT")) f.info.selectable = false;
    for (auto use : k_special_uses) {
        if (!is_atom(a, use)) continue;
        if (!f.info.special_use.empty()) f.info.special_use += ' ';
        f.info.special_use += use;
    }
}

// One "* LIST (attrs) sep name" response, or nullopt if it is not one.
// Names are modified UTF-7 unless UTF8=ACCEPT is enabled: then they are
// UTF-8 (RFC 6855 3), and an "&" in one is just an "&".
std::optional<ListedFolder> parse_list(const Response& r, bool utf8_names) {
    if (r.items.size() != 4 || !is_atom(r.items[0], "LIST") || r.items[1].type != Value::Type::list)
        return std::nullopt;
    ListedFolder f;
    for (const auto& a : r.items[1].items) take_attribute(a, f);
    if (r.items[2].type == Value::Type::string && r.items[2].text.size() == 1)
        f.separator = r.items[2].text[0];
    auto raw = as_string(r.items[3]);
    if (!raw) return std::nullopt;
    f.raw_name = *raw;
    auto decoded = utf8_names ? (valid_utf8(f.raw_name) ? std::optional(f.raw_name) : std::nullopt)
                              : decode_mutf7(f.raw_name);
    f.name_valid = decoded.has_value();
    f.info.path = split_name(decoded.value_or(f.raw_name), f.separator);
    // INBOX is case-insensitive (RFC 3501 5.1): one spelling in the archive.
    if (iequals(f.info.path[0], "INBOX")) f.info.path[0] = "INBOX";
    return f;
}

std::optional<std::uint32_t> parse_uid(std::string_view id) {
    std::uint32_t v = 0;
    auto [p, ec] = std::from_chars(id.data(), id.data() + id.size(), v);
    if (ec != std::errc() || p != id.data() + id.size() || v == 0) return std::nullopt;
    return v;
}

std::vector<std::uint32_t> to_uids(std::span<const std::string> ids) {
    std::vector<std::uint32_t> out;
    out.reserve(ids.size());
    for (const auto& id : ids)
        if (auto u = parse_uid(id)) out.push_back(*u);
    return out;
}

// Gathers what the untagged answers to UID FETCH (UID FLAGS RFC822.SIZE
// INTERNALDATE) say of each message. With `only`, a FETCH for a UID not in
// it is left alone (another command's answer, or a flag change).
class Listing {
  public:
    Listing(std::vector<RemoteMessage>& out, std::uint32_t exists, std::string host,
            const std::vector<std::uint32_t>* only = nullptr)
        : m_out(out), m_start(out.size()), m_exists(exists), m_host(std::move(host)), m_only(only) {
        if (!m_only) return;
        m_sized.assign(m_only->size(), false);
        m_sizeless.assign(m_only->size(), false);
    }

    Status take(const Response& r) {
        if (r.items.size() == 2 && is_atom(r.items[1], "EXISTS")) m_exists = to_u32(r.items[0]).value_or(m_exists);
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
        m_out.push_back(std::move(m));
        return {};
    }
    // The folder's message count as the last EXISTS and EXPUNGE left it.
    std::uint32_t exists() const { return m_exists; }
    Status check(const FolderInfo& folder) const {
        std::size_t unreadable = m_unreadable;
        for (std::size_t i = 0; i < m_sizeless.size(); ++i)
            if (m_sizeless[i] && !m_sized[i]) ++unreadable;
        if (unreadable == 0) return {};
        return fail(ErrorKind::protocol, Scope::folder,
                    m_host + " listed " + std::to_string(unreadable) + " message(s) of " + folder.display() +
                        " in a form that cannot be read (bad UID or size); folder not backed up");
    }

  private:
    std::optional<std::size_t> position(std::uint32_t uid) const {
        auto it = std::lower_bound(m_only->begin(), m_only->end(), uid);
        if (it == m_only->end() || *it != uid) return std::nullopt;
        return static_cast<std::size_t>(it - m_only->begin());
    }

    std::vector<RemoteMessage>& m_out;
    std::size_t m_start;
    std::uint32_t m_exists;
    std::string m_host;
    const std::vector<std::uint32_t>* m_only;
    std::vector<bool> m_sized, m_sizeless; // with `only`: by position, lines with / without RFC822.SIZE
    std::size_t m_unreadable = 0;
};

// A NO to a body FETCH may be about one message of the set (Yahoo's
// NO [UNAVAILABLE] for a message it cannot serve, issue 18): the engine
// narrows it down. A BAD stays what check_ok() made it.
// A throttling answer (Office 365's [THROTTLED] with a suggested back-off,
// Gmail's [THROTTLED] or [LIMIT]) is about the session, not the messages:
// the engine backs off and logs in again rather than narrowing it down.
Status message_scoped(Status s) {
    if (s || s.error().scope != Scope::folder) return s;
    const std::string& what = s.error().what;
    const bool throttled = s.error().retry_after || what.find("[THROTTLED]") != std::string::npos ||
                           what.find("[LIMIT]") != std::string::npos;
    s.error().scope = throttled ? Scope::session : Scope::message;
    return s;
}

// A failure while a command's answer was still being read (the sink could
// not store a message, the connection broke): whatever its cause, the rest
// of the answer is unread, so the session cannot serve another folder.
std::unexpected<Failure> unfinished(Failure f) {
    if (f.scope != Scope::account) f.scope = Scope::session;
    return std::unexpected(std::move(f));
}

// A listing command for `set` (a UID set).
std::string listing_command(const std::string& set, const std::string& modifier = {}) {
    return "UID FETCH " + set + " (UID FLAGS RFC822.SIZE INTERNALDATE)" + modifier;
}

// Limits a listing to the messages whose mod-sequence is above `modseq`:
// new or re-flagged since (RFC 7162, the CHANGEDSINCE FETCH modifier).
std::string changed_since(std::uint64_t modseq) { return " (CHANGEDSINCE " + std::to_string(modseq) + ")"; }

std::string examine_command(const std::string& mailbox, bool condstore) {
    return "EXAMINE " + mailbox + (condstore ? " (CONDSTORE)" : "");
}

} // namespace

// Streams BODY[] literals into the sink; everything else stays in the tree.
class ImapSource::BodyHandler : public LiteralHandler {
  public:
    explicit BodyHandler(MessageSink& sink) : m_sink(sink) {}
    bool claim(std::string_view preceding, std::uint64_t size) override {
        if (!iequals(preceding.substr(0, 6), "BODY[]")) return false;
        // A second BODY[] in one FETCH answer (found by fuzz_imap_source):
        // the first is dropped, never left open under the second.
        if (m_open) m_sink.abandon();
        m_status = m_sink.begin(size);
        m_open = true;
        m_size = size;
        return true;
    }
    Status chunk(std::string_view bytes) override {
        if (!m_status) return m_status;
        m_status = m_sink.write(bytes);
        return m_status;
    }
    Status end() override { return m_status; }

    bool open() const { return m_open; }
    std::uint64_t size() const { return m_size; }
    void closed() { m_open = false; }
    // The read failed inside or after a literal: drop the partial message.
    void abandon() {
        if (m_open) m_sink.abandon();
        m_open = false;
    }

  private:
    MessageSink& m_sink;
    Status m_status;
    bool m_open = false;
    std::uint64_t m_size = 0;
};

Result<std::string> mailbox_argument(std::string_view raw_name) {
    if (raw_name.find('\0') != std::string_view::npos)
        return fail(ErrorKind::protocol, Scope::folder, "folder name contains NUL, which no IMAP string can carry");
    // A quoted string carries 7-bit text without CR or LF (RFC 3501 9,
    // QUOTED-CHAR); a server that lists a name with raw 8-bit bytes answers
    // BAD to it quoted, so such a name goes back as the server sent it: a
    // literal, which carries any octet but NUL.
    return needs_literal(raw_name) ? literal_argument(raw_name) : quote_string(raw_name);
}

std::vector<std::string> uid_sets(std::vector<std::uint32_t> uids, std::size_t max_chars) {
    std::sort(uids.begin(), uids.end());
    uids.erase(std::unique(uids.begin(), uids.end()), uids.end());
    std::vector<std::string> sets;
    std::string current;
    for (std::size_t i = 0; i < uids.size();) {
        std::size_t j = i;
        while (j + 1 < uids.size() && uids[j + 1] == uids[j] + 1) ++j;
        std::string range = std::to_string(uids[i]);
        if (j > i) range += ':' + std::to_string(uids[j]);
        if (!current.empty() && current.size() + range.size() + 1 > max_chars) {
            sets.push_back(std::move(current));
            current.clear();
        }
        if (!current.empty()) current += ',';
        current += range;
        i = j + 1;
    }
    if (!current.empty()) sets.push_back(std::move(current));
    return sets;
}

std::optional<StatusData> parse_status(const Response& r) {
    if (r.items.size() != 3 || !is_atom(r.items[0], "STATUS") || r.items[2].type != Value::Type::list)
        return std::nullopt;
    auto name = as_string(r.items[1]);
    if (!name) return std::nullopt;
    StatusData d{std::move(*name), {}, {}, {}, {}};
    const auto& attrs = r.items[2].items;
    for (std::size_t i = 0; i + 1 < attrs.size(); i += 2) {
        const Value& v = attrs[i + 1];
        if (is_atom(attrs[i], "MESSAGES")) d.messages = to_u32(v);
        else if (is_atom(attrs[i], "UIDNEXT")) d.uidnext = to_u32(v);
        else if (is_atom(attrs[i], "UIDVALIDITY")) d.uidvalidity = to_u32(v);
        else if (is_atom(attrs[i], "HIGHESTMODSEQ")) d.highestmodseq = to_u64(v);
    }
    return d;
}

std::string condstore_token(std::uint32_t validity, std::optional<std::uint32_t> uidnext,
                            std::optional<std::uint64_t> modseq, std::uint32_t exists) {
    if (!modseq || *modseq == 0 || !uidnext) return {};
    return "imap-condstore " + std::to_string(validity) + ' ' + std::to_string(*uidnext) + ' ' +
           std::to_string(*modseq) + ' ' + std::to_string(exists);
}

// Names as UTF-8 where the server offers it (RFC 6855): a server that
// keeps names in UTF-8 then needs no modified UTF-7 either way. Before the
// first LIST, since names are spelt one way or the other from then on.
Result<bool> enable_utf8(Session& session) { return session.enable("UTF8=ACCEPT"); }

std::string status_token(const StatusData& d) {
    if (!d.uidvalidity || !d.messages) return {};
    return condstore_token(*d.uidvalidity, d.uidnext, d.highestmodseq, *d.messages);
}

// With CONDSTORE, LIST-STATUS also gives what a change token is made of
// (RFC 7162 makes HIGHESTMODSEQ a STATUS data item): a folder unchanged
// since the last run then needs no EXAMINE, and a run with nothing new is
// LOGIN and LIST however many folders the account has.
Result<std::vector<ListedFolder>> list_all(Session& session, bool with_counts) {
    std::vector<ListedFolder> out;
    std::map<std::string, StatusData> statuses; // by the server's spelling
    auto on_untagged = [&](const Response& resp) -> Status {
        if (auto f = parse_list(resp, session.enabled("UTF8=ACCEPT"))) out.push_back(std::move(*f));
        else if (auto d = parse_status(resp)) statuses[d->name] = std::move(*d);
        return {};
    };
    const std::string plain = "LIST \"\" \"*\"";
    bool listed = false;
    if (with_counts && session.has("LIST-STATUS")) {
        // The tokens and the counts are a nicety: refused, the counts alone,
        // then a plain LIST.
        std::vector<std::string> forms;
        if (session.has("CONDSTORE")) forms.push_back(" RETURN (STATUS (MESSAGES UIDNEXT UIDVALIDITY HIGHESTMODSEQ))");
        forms.push_back(" RETURN (STATUS (MESSAGES))");
        for (const auto& items : forms) {
            auto r = session.run(plain + items, on_untagged);
            if (!r) return std::unexpected(r.error());
            listed = r->status == "OK";
            if (listed) break;
            out.clear();
            statuses.clear();
        }
    }
    if (!listed) {
        auto r = session.run_ok(plain, "LIST", on_untagged);
        if (!r) return std::unexpected(r.error());
    }
    for (auto& f : out) {
        auto d = statuses.find(f.raw_name);
        if (d == statuses.end()) continue;
        f.info.messages = d->second.messages;
        f.info.change_token = status_token(d->second);
    }
    return out;
}

ImapSource::ImapSource(std::unique_ptr<Session> session) : m_session(std::move(session)) {}

Result<std::vector<FolderInfo>> ImapSource::list_folders() {
    if (auto utf8 = enable_utf8(*m_session); !utf8) return std::unexpected(utf8.error());
    auto listed = list_all(*m_session, true);
    if (!listed) return std::unexpected(listed.error());
    std::vector<FolderInfo> out;
    m_raw_names.clear();
    for (auto& f : *listed) {
        m_raw_names[f.info.path] = f.raw_name;
        out.push_back(std::move(f.info));
    }
    return out;
}

// What the answer to EXAMINE says of the folder.
class ImapSource::ExamineAnswer {
  public:
    Status take(const Response& r) {
        if (r.status == "OK" && r.code.size() >= 2) {
            if (is_atom(r.code[0], "UIDVALIDITY")) m_validity = to_u32(r.code[1]);
            if (is_atom(r.code[0], "UIDNEXT")) m_uidnext = to_u32(r.code[1]);
            if (is_atom(r.code[0], "HIGHESTMODSEQ")) m_modseq = to_u64(r.code[1]);
        }
        if (r.items.size() == 2 && is_atom(r.items[1], "EXISTS")) m_exists = to_u32(r.items[0]).value_or(0);
        return {};
    }
    Result<Examined> result(const Session& session, const Response& tagged, const FolderInfo& folder) const {
        if (auto s = session.check_ok(tagged, "opening " + folder.display()); !s) return std::unexpected(s.error());
        if (!m_validity)
            return fail(ErrorKind::protocol, Scope::folder, session.host() + " gave no UIDVALIDITY for " + folder.display());
        return Examined{*m_validity, m_exists, m_uidnext, m_modseq};
    }

  private:
    std::optional<std::uint32_t> m_validity, m_uidnext;
    std::optional<std::uint64_t> m_modseq;
    std::uint32_t m_exists = 0;
};

// Parts only for a large folder (each costs a round trip between fetches),
// and only with ESEARCH.
bool ImapSource::in_parts(std::size_t part_size, std::uint32_t exists) const {
    return part_size > 0 && exists > std::max(part_size, k_min_parted) && m_session->has("ESEARCH");
}

// EXAMINE, never SELECT: a read-only open cannot change \Recent or \Seen.
// With CONDSTORE the server also gives HIGHESTMODSEQ, which changes with
// every flag change, expunge or arrival (RFC 7162 3.1.1).
Result<ImapSource::Examined> ImapSource::examine(const FolderInfo& folder) {
    auto raw = m_raw_names.find(folder.path);
    if (raw == m_raw_names.end())
        return fail(ErrorKind::not_found, Scope::folder, "no folder " + folder.display() + " on the server");
    auto arg = mailbox_argument(raw->second);
    if (!arg) return std::unexpected(arg.error());
    ExamineAnswer answer;
    auto examined = m_session->run(examine_command(*arg, m_session->has("CONDSTORE")),
                                   [&](const Response& r) { return answer.take(r); });
    if (!examined) return std::unexpected(examined.error());
    return answer.result(*m_session, *examined, folder);
}

// Saves the round trip between EXAMINE and the listing. Should EXAMINE fail,
// a server that said NO has no folder selected and refuses the listing
// (RFC 3501 6.3.1), but one that said BAD may still have the previous folder
// selected and list that one. Both answers are always read, so the session
// stays in step; after a failed EXAMINE nothing of the listing's answer is
// used, not even its status.
Result<ImapSource::Examined> ImapSource::examine_and_list(const FolderInfo& folder, const std::string& listing) {
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
                    m_session->host() + " answered out of order (tag " + r->tag + ") while opening " +
                        folder.display());
    };
    ExamineAnswer answer;
    auto examined = m_session->read_tagged([&](const Response& r) { return answer.take(r); });
    if (auto s = in_order(examined, *examine_tag); !s) return std::unexpected(s.error());
    auto e = answer.result(*m_session, *examined, folder);
    Prelisted pre{listing, {}, {}, 0};
    // As list() does: EXISTS comes from the server, never trusted for an allocation.
    if (e && listing == listing_command("1:*")) pre.messages.reserve(std::min<std::uint32_t>(e->exists, 100000));
    Listing lines(pre.messages, e ? e->exists : 0, m_session->host());
    auto listed = m_session->read_tagged([&](const Response& r) { return e ? lines.take(r) : Status{}; });
    if (auto s = in_order(listed, *listing_tag); !s) return std::unexpected(s.error());
    if (!e) return e;
    pre.status = m_session->check_ok(*listed, "listing " + folder.display());
    if (pre.status) pre.status = lines.check(folder);
    pre.exists = lines.exists();
    m_prelisted = std::move(pre);
    return e;
}

std::string ImapSource::predicted_listing(const FolderInfo& folder, const OpenRequest& request) const {
    auto listed = parse_token(folder.change_token);
    if (!listed) return {};
    if (request.known_token.empty()) {
        // No archive to compare with: the whole folder, unless it comes in
        // parts (then ESEARCH first).
        if (in_parts(request.part_size, listed->exists)) return {};
        return listed->exists > 0 ? listing_command("1:*") : std::string();
    }
    auto known = parse_token(request.known_token);
    // What list_changes() asks for when only changes need listing.
    if (known && known->validity == listed->validity && known->uidnext > 0 &&
        listed->uidnext >= known->uidnext && listed->modseq > known->modseq)
        return listing_command("1:*", changed_since(known->modseq));
    return {};
}

Status ImapSource::list_range(const FolderInfo& folder, const std::string& uids, const std::string& modifier,
                              Snapshot& snap, std::uint32_t exists, std::uint32_t* exists_after) {
    const std::string command = listing_command(uids, modifier);
    if (auto pre = std::exchange(m_prelisted, std::nullopt); pre && pre->command == command) {
        if (!pre->status) return pre->status;
        if (exists_after) *exists_after = pre->exists;
        if (snap.messages.empty()) snap.messages = std::move(pre->messages); // no second copy held
        else
            snap.messages.insert(snap.messages.end(), std::make_move_iterator(pre->messages.begin()),
                                 std::make_move_iterator(pre->messages.end()));
        return {};
    }
    Listing listing(snap.messages, exists, m_session->host());
    auto listed = m_session->run_ok(command, "listing " + folder.display(),
                                    [&](const Response& r) { return listing.take(r); });
    if (!listed) return std::unexpected(listed.error());
    if (exists_after) *exists_after = listing.exists();
    return listing.check(folder);
}

namespace {

// A server may repeat a FETCH for one UID (flag updates): keep the last.
void sort_by_uid(std::vector<RemoteMessage>& messages) {
    std::stable_sort(messages.begin(), messages.end(),
                     [](const auto& a, const auto& b) { return parse_uid(a.id) < parse_uid(b.id); });
    auto last = std::unique(messages.rbegin(), messages.rend(), [](const auto& a, const auto& b) { return a.id == b.id; });
    messages.erase(messages.begin(), last.base());
}

} // namespace

Status ImapSource::list(const FolderInfo& folder, Snapshot& snap, std::uint32_t exists) {
    if (exists == 0) return {};
    // EXISTS comes from the server: never trust it for an allocation. A
    // listing already received behind EXAMINE is taken as it is.
    if (!m_prelisted || m_prelisted->command != listing_command("1:*"))
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
        if (auto s = list_range(folder, "1:" + std::to_string(oldest - 1), "", snap, exists); !s) return s;
        sort_by_uid(snap.messages);
        if (snap.messages.size() == before) break;
    }
    if (snap.messages.size() < exists)
        return short_listing(folder, snap.messages.size(), std::to_string(exists) + " EXISTS announced");
    if (snap.messages.size() >= want) return {};
    // Short of the folder list's count only: mail deleted since that LIST
    // would explain it, so the server is asked again. STATUS on the folder
    // being examined is frowned on (RFC 3501 6.3.10), hence only here.
    auto arg = mailbox_argument(m_raw_names.at(folder.path));
    if (!arg) return std::unexpected(arg.error());
    std::optional<std::uint32_t> messages;
    auto r = m_session->run_ok("STATUS " + *arg + " (MESSAGES)", "asking " + folder.display() + " for its count",
                               [&](const Response& resp) -> Status {
        if (auto d = parse_status(resp)) messages = d->messages;
        return {};
    });
    if (!r) return std::unexpected(r.error());
    if (messages && *messages > snap.messages.size())
        return short_listing(folder, snap.messages.size(), std::to_string(*messages) + " STATUS gives");
    return {};
}

std::unexpected<Failure> ImapSource::short_listing(const FolderInfo& folder, std::size_t listed,
                                                   const std::string& count) const {
    return fail(ErrorKind::protocol, Scope::folder,
                m_session->host() + " listed " + std::to_string(listed) + " of the " + count + " messages of " +
                    folder.display() +
                    "; folder not backed up (the server shows only part of it: Yahoo, for one, shows only the "
                    "newest 10 000 messages of a folder)");
}

// Lists only what changed since `known`, when nothing was expunged since:
// the messages that arrived since, and older ones whose flags changed
// (CHANGEDSINCE, RFC 7162). A daily run over a folder of 100 000
// messages then lists tens, not 100 000. Leaves snap.listing whole when the
// folder must be listed whole.
Status ImapSource::list_changes(const FolderInfo& folder, const Known& known, const Examined& now, Snapshot& snap) {
    // Both only grow (RFC 3501 2.3.1.1, RFC 7162 3.1.1); a server where
    // they did not is listed whole.
    if (*now.uidnext < known.uidnext || *now.modseq < known.modseq || known.uidnext == 0) return {};
    if (*now.modseq > known.modseq) {
        // A message added since has a mod-sequence above the old
        // HIGHESTMODSEQ (RFC 7162 3.1.1): one CHANGEDSINCE over the whole
        // folder names the new messages and the re-flagged old ones in one
        // round trip.
        if (auto s = list_range(folder, "1:*", changed_since(known.modseq), snap, now.exists); !s) return s;
    } else if (*now.uidnext > known.uidnext) {
        // New mail under an unchanged HIGHESTMODSEQ breaks RFC 7162: list it by UID.
        if (auto s = list_range(folder, std::to_string(known.uidnext) + ":*", "", snap, now.exists); !s) return s;
        // "N:*" names the last message even when its UID is below N.
        std::erase_if(snap.messages, [&](const auto& m) { return parse_uid(m.id) < known.uidnext; });
    }
    sort_by_uid(snap.messages); // and drops repeats, which must not count twice
    // Every message below the old UIDNEXT is still there only if the count
    // says so: those plus the new ones make EXISTS. Mail that arrived (UIDNEXT
    // moved) with none of it listed, gone since or left out by a server that
    // breaks RFC 7162, is not left to the count either: listed whole.
    auto added = std::count_if(snap.messages.begin(), snap.messages.end(),
                               [&](const auto& m) { return parse_uid(m.id) >= known.uidnext; });
    if (std::size_t{known.exists} + static_cast<std::size_t>(added) != now.exists ||
        (*now.uidnext > known.uidnext && added == 0)) {
        snap.messages.clear();
        return {};
    }
    snap.listing = ListingKind::delta;
    snap.total = now.exists;
    return {};
}

std::optional<ImapSource::Known> ImapSource::parse_token(const std::string& token) {
    Known k;
    std::string_view rest = token;
    if (!rest.starts_with("imap-condstore ")) return std::nullopt;
    rest.remove_prefix(15);
    auto next = [&](auto& value) {
        auto [p, ec] = std::from_chars(rest.data(), rest.data() + rest.size(), value);
        if (ec != std::errc()) return false;
        rest.remove_prefix(static_cast<std::size_t>(p - rest.data()));
        if (!rest.empty() && rest.front() == ' ') rest.remove_prefix(1);
        return true;
    };
    if (!next(k.validity) || !next(k.uidnext) || !next(k.modseq) || !next(k.exists) || !rest.empty())
        return std::nullopt;
    return k;
}

// UID SEARCH with ESEARCH (RFC 4731) names every UID of the folder in a few
// bytes ("1:20000"); then UID FETCH lists them a part at a time. UIDs, not
// sequence numbers, name the parts: an expunge between parts shifts no part.
Status ImapSource::list_in_parts(const FolderInfo& folder, const Examined& now, std::size_t part_size,
                                 Snapshot& snap) {
    m_parts = Parts{};
    m_parts.folder = folder;
    m_parts.size = part_size;
    m_parts.exists = now.exists;
    std::optional<std::string> set;
    auto searched = m_session->run_ok("UID SEARCH RETURN (ALL) ALL", "listing " + folder.display(),
                                      [&](const Response& r) -> Status {
        if (r.items.empty() || !is_atom(r.items[0], "ESEARCH")) return {};
        for (std::size_t i = 1; i + 1 < r.items.size(); ++i)
            if (is_atom(r.items[i], "ALL")) set = as_string(r.items[i + 1]);
        return {};
    });
    if (!searched) return std::unexpected(searched.error());
    // Never more UIDs than the folder announced (with some slack).
    if (set) m_parts.uids = uid_ranges(*set, std::size_t{now.exists} + 1000);
    for (const auto& [lo, hi] : m_parts.uids) m_parts.total += std::size_t{hi} - lo + 1;
    if (m_parts.total != now.exists || m_parts.uids.empty()) {
        // No answer, an unreadable one, or one that disagrees with EXISTS (an
        // expunge meanwhile, or a broken server): list the folder whole,
        // never trust a part-listing to have named every message. A listing
        // sent behind EXAMINE is older than that disagreement: listed afresh.
        m_parts = Parts{};
        m_prelisted.reset();
        return list(folder, snap, now.exists);
    }
    snap.total = now.exists;
    snap.listing = ListingKind::parts;
    return list_next_part(snap);
}

std::vector<std::uint32_t> ImapSource::take_next_part(bool& more) {
    Parts& p = m_parts;
    std::vector<std::uint32_t> part;
    part.reserve(std::min(p.size, p.total - p.listed));
    if (p.listed == 0) p.next_uid = p.uids[0].first;
    while (part.size() < p.size && p.range < p.uids.size()) {
        if (p.next_uid > p.uids[p.range].second) {
            if (++p.range < p.uids.size()) p.next_uid = p.uids[p.range].first;
            continue;
        }
        part.push_back(static_cast<std::uint32_t>(p.next_uid++));
    }
    p.listed += part.size();
    more = p.listed < p.total;
    if (!more) release(p.uids);
    return part;
}

Status ImapSource::list_next_part(Snapshot& snap) {
    snap.messages.clear();
    auto part = take_next_part(snap.more);
    snap.messages.reserve(part.size());
    for (const auto& set : uid_sets(std::move(part), k_max_set_chars))
        if (auto s = list_range(m_parts.folder, set, "", snap, m_parts.exists); !s) return s;
    sort_by_uid(snap.messages);
    return {};
}

Status ImapSource::next_part(Snapshot& snap) {
    if (!snap.more) return Source::next_part(snap);
    if (!m_ahead.asked) return list_next_part(snap);
    Ahead ahead = std::exchange(m_ahead, Ahead{});
    if (ahead.failure) return std::unexpected(std::move(*ahead.failure));
    snap.messages = std::move(ahead.messages);
    snap.more = ahead.more;
    sort_by_uid(snap.messages);
    return {};
}

Result<Snapshot> ImapSource::open(const FolderInfo& folder, const OpenRequest& request) {
    // Whatever the folder opened before left unfinished is void now.
    m_parts = Parts{};
    m_ahead = Ahead{};
    m_prelisted.reset();
    const std::string predicted = predicted_listing(folder, request);
    auto e = predicted.empty() ? examine(folder) : examine_and_list(folder, predicted);
    if (!e) return std::unexpected(e.error());
    // A prediction the folder's state proved wrong is never used later.
    struct Drop {
        std::optional<Prelisted>& slot;
        ~Drop() { slot.reset(); }
    } drop{m_prelisted};
    Snapshot snap;
    snap.validity = e->validity;
    snap.change_token = token_of(*e);
    if (!request.known_token.empty() && snap.change_token == request.known_token) {
        snap.listing = ListingKind::unchanged;
        return snap;
    }
    auto known = parse_token(request.known_token);
    if (known && known->validity == e->validity && !snap.change_token.empty()) {
        if (auto s = list_changes(folder, *known, *e, snap); !s) return std::unexpected(s.error());
        if (snap.listing == ListingKind::delta) return snap;
    }
    if (in_parts(request.part_size, e->exists)) {
        if (auto s = list_in_parts(folder, *e, request.part_size, snap); !s) return std::unexpected(s.error());
        return snap;
    }
    if (auto s = list(folder, snap, e->exists); !s) return std::unexpected(s.error());
    return snap;
}

Status ImapSource::fetch(std::span<const std::string> ids, MessageSink& sink) {
    BodyHandler body(sink);
    auto uids = to_uids(ids);
    // Each asked-for UID is taken once: a duplicated or unrequested FETCH
    // from the server is dropped, never stored twice or unasked.
    std::unordered_set<std::uint32_t> wanted(uids.begin(), uids.end());
    // Called for an untagged FETCH that carried a BODY[] literal.
    auto on_body = [&](const Response& r) -> Status {
        body.closed();
        auto data = parse_fetch(r);
        if (!data || !data->uid) {
            sink.abandon();
            return fail(ErrorKind::protocol, Scope::session, m_session->host() + " sent a message body without its UID");
        }
        if (wanted.erase(*data->uid) == 0) {
            sink.abandon();
            return {};
        }
        RemoteMessage m;
        m.id = std::to_string(*data->uid);
        m.size = body.size(); // the literal's length, not a possibly wrong RFC822.SIZE
        m.internal_date = data->internal_date.value_or(0);
        m.flags = data->flags.value_or(Flags{});
        return sink.finish(m);
    };
    // UIDs the server answered for without a body (no BODY[], or BODY[]
    // NIL): each is that message's failure, not an expunge.
    std::vector<std::uint32_t> bodiless;
    auto on_other = [&](const Response& r) -> Status {
        if (auto data = parse_fetch(r); data && data->uid && wanted.contains(*data->uid))
            bodiless.push_back(*data->uid);
        return {};
    };
    const auto sets = uid_sets(uids, k_max_set_chars);
    for (std::size_t i = 0; i < sets.size(); ++i) {
        const std::string command = "UID FETCH " + sets[i] + " (UID FLAGS INTERNALDATE BODY.PEEK[])";
        Status s;
        if (i + 1 == sets.size() && parts_left() && !m_ahead.asked) {
            s = fetch_listing_ahead(command, on_body, on_other, body);
        } else {
            auto done = m_session->run(command, [&](const Response& r) -> Status {
                return body.open() ? on_body(r) : on_other(r);
            }, &body);
            if (!done) s = unfinished(done.error());
            else s = message_scoped(m_session->check_ok(*done, "fetching messages"));
        }
        if (!s) {
            body.abandon();
            return s;
        }
    }
    std::erase_if(bodiless, [&](std::uint32_t uid) { return !wanted.contains(uid); }); // a body came later
    if (!bodiless.empty())
        return fail(ErrorKind::protocol, Scope::message,
                    m_session->host() + " sent no body for UID " + std::to_string(bodiless.front()));
    return {};
}

// Sends a part's body FETCH and, right behind it, the listing of the next
// part, so a folder in parts streams on without a round trip between parts
// (at 40 ms each, 100 parts of a large folder cost 4 s). The server may run
// both at once and interleave their answers (Dovecot does): an untagged
// FETCH with a body goes to the sink, any other to the next part's listing,
// which keeps only the UIDs it asked for. A failed listing is the next
// part's failure (next_part()); both tagged answers are read before this
// returns, so the session stays in step for the next command.
Status ImapSource::fetch_listing_ahead(const std::string& command, const UntaggedHandler& on_body,
                                       const UntaggedHandler& on_other, BodyHandler& body) {
    auto body_tag = m_session->send(command);
    if (!body_tag) return std::unexpected(body_tag.error());
    m_ahead = Ahead{};
    m_ahead.asked = true;
    m_ahead.uids = take_next_part(m_ahead.more);
    std::set<std::string> listing_tags;
    for (const auto& set : uid_sets(m_ahead.uids, k_max_set_chars)) {
        auto tag = m_session->send(listing_command(set));
        if (!tag) return std::unexpected(tag.error());
        listing_tags.insert(std::move(*tag));
    }
    Listing listing(m_ahead.messages, m_parts.exists, m_session->host(), &m_ahead.uids);
    // A line without a body may name a message of this part (no body for
    // it: on_other) or one of the next part's listing.
    auto on_untagged = [&](const Response& r) -> Status {
        if (body.open()) return on_body(r);
        if (auto s = on_other(r); !s) return s;
        return listing.take(r);
    };
    std::optional<Status> body_status; // set once the body FETCH is answered
    while (!body_status || !listing_tags.empty()) {
        auto r = m_session->read_tagged(on_untagged, &body);
        if (!r) return unfinished(r.error());
        if (r->tag == *body_tag && !body_status) {
            body_status = message_scoped(m_session->check_ok(*r, "fetching messages"));
        } else if (listing_tags.erase(r->tag) == 1) {
            auto s = m_session->check_ok(*r, "listing " + m_parts.folder.display());
            if (!s && !m_ahead.failure) m_ahead.failure = std::move(s.error());
        } else { // a tag never sent, or answered twice
            return fail(ErrorKind::protocol, Scope::session,
                        m_session->host() + " answered a command that was not sent (tag " + r->tag + ")");
        }
    }
    if (auto s = listing.check(m_parts.folder); !s && !m_ahead.failure) m_ahead.failure = std::move(s.error());
    return *body_status;
}

Status ImapSource::remove(const std::vector<std::string>&) {
    // A backup never deletes on an IMAP server (mirror will, with UID EXPUNGE).
    return fail(ErrorKind::usage, Scope::account, "deleting messages from an IMAP source is not supported");
}

Result<std::vector<MessageKey>> ImapSource::keys(const std::vector<std::string>& ids) {
    std::vector<MessageKey> out;
    // Only what was asked for: an unsolicited FETCH (a flag change) also
    // carries a UID (found by fuzz_imap_source).
    const auto asked = to_uids(ids);
    const std::unordered_set<std::uint32_t> wanted(asked.begin(), asked.end());
    for (const auto& set : uid_sets(to_uids(ids), k_max_set_chars)) {
        auto r = m_session->run_ok(
            "UID FETCH " + set + " (UID RFC822.SIZE BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)])",
            "reading Message-IDs", [&](const Response& resp) -> Status {
                auto data = parse_fetch(resp);
                if (!data || !data->uid || !wanted.contains(*data->uid)) return {};
                mail::HeaderScanner scanner;
                scanner.feed(data->header.value_or(""));
                scanner.finish();
                out.push_back({std::to_string(*data->uid), scanner.message_id(), data->size.value_or(0)});
                return {};
            });
        if (!r) return std::unexpected(r.error());
    }
    return out;
}

} // namespace mf::imap
