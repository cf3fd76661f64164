#include "backends/imap/source.h"

#include "backends/common/headers.h"
#include "backends/imap/fetch.h"
#include "backends/imap/mutf7.h"
#include "backends/imap/target.h"
#include "sync/memory.h"

#include <algorithm>
#include <charconv>
#include <unordered_set>

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

// One "* LIST (attrs) sep name" response, or nullopt if it is not one.
std::optional<ListedFolder> parse_list(const Response& r) {
    if (r.items.size() != 4 || !is_atom(r.items[0], "LIST") || r.items[1].type != Value::Type::list)
        return std::nullopt;
    ListedFolder f;
    for (const auto& a : r.items[1].items)
        if (is_atom(a, "\\NOSELECT") || is_atom(a, "\\NONEXISTENT")) f.info.selectable = false;
    if (r.items[2].type == Value::Type::string && r.items[2].text.size() == 1)
        f.separator = r.items[2].text[0];
    auto raw = as_string(r.items[3]);
    if (!raw) return std::nullopt;
    f.raw_name = *raw;
    auto decoded = decode_mutf7(f.raw_name);
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

// Streams BODY[] literals into the sink; everything else stays in the tree.
class BodyHandler : public LiteralHandler {
  public:
    explicit BodyHandler(MessageSink& sink) : m_sink(sink) {}
    bool claim(std::string_view preceding, std::uint64_t size) override {
        if (!iequals(preceding.substr(0, 6), "BODY[]")) return false;
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

} // namespace

Result<std::string> mailbox_argument(std::string_view raw_name) {
    if (raw_name.find_first_of(std::string_view("\r\n\0", 3)) != std::string_view::npos)
        return fail(ErrorKind::protocol, Scope::folder, "folder name contains CR, LF or NUL");
    return quote_string(raw_name);
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

std::optional<std::pair<std::string, std::uint32_t>> parse_status_messages(const Response& r) {
    if (r.items.size() != 3 || !is_atom(r.items[0], "STATUS") || r.items[2].type != Value::Type::list)
        return std::nullopt;
    auto name = as_string(r.items[1]);
    if (!name) return std::nullopt;
    const auto& attrs = r.items[2].items;
    for (std::size_t i = 0; i + 1 < attrs.size(); i += 2)
        if (is_atom(attrs[i], "MESSAGES"))
            if (auto n = to_u32(attrs[i + 1])) return std::pair{std::move(*name), *n};
    return std::nullopt;
}

Result<std::vector<ListedFolder>> list_all(Session& session, bool with_counts) {
    std::vector<ListedFolder> out;
    std::map<std::string, std::uint32_t> counts; // by the server's spelling
    auto on_untagged = [&](const Response& resp) -> Status {
        if (auto f = parse_list(resp)) out.push_back(std::move(*f));
        else if (auto c = parse_status_messages(resp)) counts[c->first] = c->second;
        return {};
    };
    const std::string plain = "LIST \"\" \"*\"";
    bool listed = false;
    if (with_counts && session.has("LIST-STATUS")) {
        auto r = session.run(plain + " RETURN (STATUS (MESSAGES))", on_untagged);
        if (!r) return std::unexpected(r.error());
        listed = r->status == "OK";
        if (!listed) { // the counts are a nicety: a plain LIST then
            out.clear();
            counts.clear();
        }
    }
    if (!listed) {
        auto r = session.run_ok(plain, "LIST", on_untagged);
        if (!r) return std::unexpected(r.error());
    }
    for (auto& f : out)
        if (auto c = counts.find(f.raw_name); c != counts.end()) f.info.messages = c->second;
    return out;
}

ImapSource::ImapSource(std::unique_ptr<Session> session) : m_session(std::move(session)) {}

Result<std::vector<FolderInfo>> ImapSource::list_folders() {
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

// EXAMINE, never SELECT: a read-only open cannot change \Recent or \Seen.
// With CONDSTORE the server also gives HIGHESTMODSEQ, which changes with
// every flag change, expunge or arrival (RFC 7162 3.1.1).
Result<ImapSource::Examined> ImapSource::examine(const FolderInfo& folder) {
    auto raw = m_raw_names.find(folder.path);
    if (raw == m_raw_names.end())
        return fail(ErrorKind::not_found, Scope::folder, "no folder " + folder.display() + " on the server");
    auto arg = mailbox_argument(raw->second);
    if (!arg) return std::unexpected(arg.error());
    Examined e;
    std::optional<std::uint32_t> validity;
    std::string command = "EXAMINE " + *arg + (m_session->has("CONDSTORE") ? " (CONDSTORE)" : "");
    auto examined = m_session->run_ok(command, "opening " + folder.display(), [&](const Response& r) -> Status {
        if (r.status == "OK" && r.code.size() >= 2) {
            if (is_atom(r.code[0], "UIDVALIDITY")) validity = to_u32(r.code[1]);
            if (is_atom(r.code[0], "UIDNEXT")) e.uidnext = to_u32(r.code[1]);
            if (is_atom(r.code[0], "HIGHESTMODSEQ")) e.modseq = to_u64(r.code[1]);
        }
        if (r.items.size() == 2 && is_atom(r.items[1], "EXISTS")) e.exists = to_u32(r.items[0]).value_or(0);
        return {};
    });
    if (!examined) return std::unexpected(examined.error());
    if (!validity)
        return fail(ErrorKind::protocol, Scope::folder,
                    m_session->host() + " gave no UIDVALIDITY for " + folder.display());
    e.validity = *validity;
    return e;
}

Status ImapSource::list_range(const FolderInfo& folder, const std::string& uids, const std::string& modifier,
                              Snapshot& snap, std::uint32_t exists) {
    std::size_t unreadable = 0;
    const std::size_t start = snap.messages.size();
    auto listed = m_session->run_ok("UID FETCH " + uids + " (UID FLAGS RFC822.SIZE INTERNALDATE)" + modifier,
                                    "listing " + folder.display(), [&](const Response& r) -> Status {
        if (r.items.size() == 2 && is_atom(r.items[1], "EXISTS")) exists = to_u32(r.items[0]).value_or(exists);
        if (r.items.size() < 2 || !is_atom(r.items[1], "FETCH")) return {};
        auto data = parse_fetch(r);
        // A listing line we cannot read must not make a message silently
        // disappear from the backup: the folder fails below, naming them.
        if (!data || !data->uid) {
            ++unreadable;
            return {};
        }
        // A server streaming FETCH responses without end must not grow our
        // memory without end: one per announced message, with some slack.
        if (snap.messages.size() - start > std::size_t{exists} + 1000)
            return fail(ErrorKind::protocol, Scope::account,
                        m_session->host() + " sent more FETCH responses than its EXISTS count announced");
        RemoteMessage m;
        m.id = std::to_string(*data->uid);
        m.size = data->size.value_or(0);
        m.internal_date = data->internal_date.value_or(0);
        m.flags = data->flags.value_or(Flags{});
        snap.messages.push_back(std::move(m));
        return {};
    });
    if (!listed) return std::unexpected(listed.error());
    if (unreadable > 0)
        return fail(ErrorKind::protocol, Scope::folder,
                    m_session->host() + " listed " + std::to_string(unreadable) + " message(s) of " + folder.display() +
                        " in a form that cannot be read (bad UID or size); folder not backed up");
    return {};
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
    // EXISTS comes from the server: never trust it for an allocation.
    snap.messages.reserve(std::min<std::uint32_t>(exists, 100000));
    if (auto s = list_range(folder, "1:*", "", snap, exists); !s) return s;
    sort_by_uid(snap.messages);
    return {};
}

// Lists only what changed since `known`, when nothing was expunged since:
// the messages from the old UIDNEXT on, and older ones whose flags changed
// (CHANGEDSINCE, RFC 7162 3.3.1). A daily run over a folder of 100 000
// messages then lists tens, not 100 000. Leaves snap.delta unset when the
// folder must be listed whole.
Status ImapSource::list_changes(const FolderInfo& folder, const Known& known, const Examined& now, Snapshot& snap) {
    // Both only grow (RFC 3501 2.3.1.1, RFC 7162 3.1.1); a server where
    // they did not is listed whole.
    if (*now.uidnext < known.uidnext || *now.modseq < known.modseq || known.uidnext == 0) return {};
    if (*now.uidnext > known.uidnext) {
        if (auto s = list_range(folder, std::to_string(known.uidnext) + ":*", "", snap, now.exists); !s) return s;
        // "N:*" names the last message even when its UID is below N.
        std::erase_if(snap.messages, [&](const auto& m) { return parse_uid(m.id) < known.uidnext; });
    }
    // Every message below the old UIDNEXT is still there only if the count
    // says so: those plus the new ones make EXISTS.
    if (std::size_t{known.exists} + snap.messages.size() != now.exists) {
        snap.messages.clear();
        return {};
    }
    if (*now.modseq > known.modseq && known.uidnext > 1)
        if (auto s = list_range(folder, "1:" + std::to_string(known.uidnext - 1),
                                " (CHANGEDSINCE " + std::to_string(known.modseq) + ")", snap, now.exists);
            !s)
            return s;
    sort_by_uid(snap.messages);
    snap.delta = true;
    snap.total = now.exists;
    return {};
}

std::string ImapSource::token_of(const Examined& e) {
    if (!e.modseq || !e.uidnext) return {};
    return "imap-condstore " + std::to_string(e.validity) + ' ' + std::to_string(*e.uidnext) + ' ' +
           std::to_string(*e.modseq) + ' ' + std::to_string(e.exists);
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
        // never trust a part-listing to have named every message.
        m_parts = Parts{};
        return list(folder, snap, now.exists);
    }
    snap.total = now.exists;
    return list_next_part(snap);
}

Status ImapSource::list_next_part(Snapshot& snap) {
    snap.messages.clear();
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
    snap.more = p.listed < p.total;
    if (!snap.more) release(p.uids);
    snap.messages.reserve(part.size());
    for (const auto& set : uid_sets(std::move(part), k_max_set_chars))
        if (auto s = list_range(m_parts.folder, set, "", snap, m_parts.exists); !s) return s;
    sort_by_uid(snap.messages);
    return {};
}

Status ImapSource::next_part(Snapshot& snap) {
    if (!snap.more) return Source::next_part(snap);
    return list_next_part(snap);
}

Result<Snapshot> ImapSource::open(const FolderInfo& folder) { return open_since(folder, {}); }

Result<Snapshot> ImapSource::open_since(const FolderInfo& folder, const std::string& known_token, bool changes_only,
                                        std::size_t part_size) {
    auto e = examine(folder);
    if (!e) return std::unexpected(e.error());
    Snapshot snap;
    snap.validity = e->validity;
    snap.change_token = token_of(*e);
    if (!known_token.empty() && snap.change_token == known_token) {
        snap.unchanged = true;
        return snap;
    }
    auto known = parse_token(known_token);
    if (changes_only && known && known->validity == e->validity && !snap.change_token.empty()) {
        if (auto s = list_changes(folder, *known, *e, snap); !s) return std::unexpected(s.error());
        if (snap.delta) return snap;
    }
    // Parts only for a large folder (each costs a round trip between
    // fetches), and only with ESEARCH.
    if (part_size > 0 && e->exists > std::max(part_size, k_min_parted) && m_session->has("ESEARCH")) {
        if (auto s = list_in_parts(folder, *e, part_size, snap); !s) return std::unexpected(s.error());
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
    for (const auto& set : uid_sets(uids, k_max_set_chars)) {
        auto on_fetch = [&](const Response& r) -> Status {
            if (!body.open()) return {};
            body.closed();
            auto data = parse_fetch(r);
            if (!data || !data->uid) {
                sink.abandon();
                return fail(ErrorKind::protocol, Scope::account,
                            m_session->host() + " sent a message body without its UID");
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
        auto r = m_session->run_ok("UID FETCH " + set + " (UID FLAGS INTERNALDATE BODY.PEEK[])",
                                   "fetching messages", on_fetch, &body);
        if (!r) {
            body.abandon();
            return std::unexpected(r.error());
        }
    }
    return {};
}

Status ImapSource::remove(const std::vector<std::string>&) {
    // A backup never deletes on an IMAP server (mirror will, with UID EXPUNGE).
    return fail(ErrorKind::usage, Scope::run, "deleting messages from an IMAP source is not supported");
}

Result<std::vector<MessageKey>> ImapSource::keys(const std::vector<std::string>& ids) {
    std::vector<MessageKey> out;
    for (const auto& set : uid_sets(to_uids(ids), k_max_set_chars)) {
        auto r = m_session->run_ok(
            "UID FETCH " + set + " (UID RFC822.SIZE BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)])",
            "reading Message-IDs", [&](const Response& resp) -> Status {
                auto data = parse_fetch(resp);
                if (!data || !data->uid) return {};
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
