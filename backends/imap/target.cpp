#include "backends/imap/target.h"

#include "backends/imap/appender.h"

#include "backends/common/crashpoint.h"
#include "backends/common/headers.h"
#include "backends/imap/fetch.h"
#include "backends/imap/mutf7.h"
#include "backends/imap/source.h"
#include "backends/imap/uid_set.h"

#include <algorithm>
#include <charconv>
#include <map>

namespace mf::imap {

namespace {

std::string replace_all(std::string s, char from, char to) {
    std::replace(s.begin(), s.end(), from, to);
    return s;
}

// "APPENDLIMIT=35651584" among the capabilities: no APPEND of more octets to
// any mailbox (RFC 7889 section 3; Gmail announces it). A bare "APPENDLIMIT"
// says that each mailbox has its own (see read_folder_limit).
std::optional<std::uint64_t> account_append_limit(const Session& session) {
    static constexpr std::string_view k_name = "APPENDLIMIT=";
    for (std::string_view cap : session.capabilities()) {
        if (!cap.starts_with(k_name)) continue;
        cap.remove_prefix(k_name.size());
        std::uint64_t limit = 0;
        auto [end, ec] = std::from_chars(cap.data(), cap.data() + cap.size(), limit);
        if (ec == std::errc() && end == cap.data() + cap.size()) return limit;
    }
    return std::nullopt;
}

// "* STATUS name (APPENDLIMIT 1048576)" (RFC 7889 section 4); NIL: no limit.
std::optional<std::uint64_t> status_append_limit(const Response& r) {
    if (r.items.size() < 3 || !is_atom(r.items[0], "STATUS") ||
        r.items[2].type != Value::Type::list)
        return std::nullopt;
    const auto& attributes = r.items[2].items;
    for (std::size_t i = 0; i + 1 < attributes.size(); i += 2)
        if (is_atom(attributes[i], "APPENDLIMIT")) return to_u64(attributes[i + 1]);
    return std::nullopt;
}

} // namespace

ImapTarget::ImapTarget(std::unique_ptr<Session> session, Options options)
    : m_session(std::move(session)), m_appender(std::make_unique<Appender>(*this)) {
    m_appender->final_crlf = options.final_crlf;
    m_account_limit = account_append_limit(*m_session);
}

ImapTarget::~ImapTarget() = default;

Result<std::unique_ptr<ImapTarget>> ImapTarget::open_account(std::unique_ptr<Session> session,
                                                             Options options) {
    std::unique_ptr<ImapTarget> t(new ImapTarget(std::move(session), options));
    if (auto s = t->read_namespace(); !s) return std::unexpected(s.error());
    return t;
}

// RFC 7889: a mailbox's own limit, where the server has one, wins over the
// account's.
std::optional<std::uint64_t> ImapTarget::append_limit() const {
    return m_folder_limit ? m_folder_limit : m_account_limit;
}

// A bare APPENDLIMIT capability: each mailbox says its limit in STATUS
// (RFC 7889 section 4), one round trip per folder on such a server only.
Status ImapTarget::read_folder_limit(const std::string& wire) {
    m_folder_limit.reset();
    if (!m_session->has("APPENDLIMIT")) return {};
    auto r = m_session->run("STATUS " + quote_string(wire) + " (APPENDLIMIT)",
                            [&](const Response& resp) -> Status {
                                if (auto limit = status_append_limit(resp)) m_folder_limit = limit;
                                return {};
                            });
    return r ? Status{} : std::unexpected(r.error()); // a NO (no such folder yet): no limit known
}

// The first personal namespace ("* NAMESPACE (("INBOX." ".")) NIL NIL" on
// Courier): folders go under its prefix. Without NAMESPACE, no prefix, and
// the separator that LIST "" "" gives.
Status ImapTarget::read_namespace() {
    auto ns = read_personal_namespace(*m_session);
    if (!ns) return std::unexpected(ns.error());
    if (*ns) {
        m_prefix = (*ns)->prefix;
        if ((*ns)->separator != 0) m_separator = (*ns)->separator;
        return {};
    }
    auto listed = m_session->run_ok("LIST \"\" \"\"", "LIST", [&](const Response& r) -> Status {
        if (r.items.size() >= 3 && is_atom(r.items[0], "LIST") &&
            r.items[2].type == Value::Type::string && r.items[2].text.size() == 1)
            m_separator = r.items[2].text[0];
        return {};
    });
    return listed ? Status{} : std::unexpected(listed.error());
}

std::string ImapTarget::target_name(const FolderInfo& folder) const {
    std::string out;
    for (std::size_t i = 0; i < folder.path.size(); ++i) {
        if (i > 0) out += m_separator;
        out += replace_all(folder.path[i], m_separator, '_');
    }
    // INBOX is outside any prefix; other folders live under the prefix.
    bool inbox = !folder.path.empty() && iequals(folder.path[0], "INBOX");
    if (inbox || out.starts_with(m_prefix)) return out;
    return m_prefix + out;
}

std::string ImapTarget::wire_name(const FolderInfo& folder) const {
    return encode_mutf7(target_name(folder));
}

Result<std::vector<FolderInfo>> ImapTarget::list_folders() {
    auto listed = list_all(*m_session);
    if (!listed) return std::unexpected(listed.error());
    std::vector<FolderInfo> out;
    for (auto& f : *listed) {
        std::string name = decode_mutf7(f.raw_name).value_or(f.raw_name);
        if (!m_prefix.empty() && name.starts_with(m_prefix) && name.size() > m_prefix.size())
            name = name.substr(m_prefix.size());
        FolderInfo info;
        info.selectable = f.info.selectable;
        info.special_use = f.info.special_use; // where --special-folders merge puts Sent...
        std::size_t start = 0;
        for (;;) {
            auto at = f.separator ? name.find(f.separator, start) : std::string::npos;
            info.path.push_back(name.substr(start, at - start));
            if (at == std::string::npos) break;
            start = at + 1;
        }
        if (iequals(info.path[0], "INBOX")) info.path[0] = "INBOX";
        out.push_back(std::move(info));
    }
    return out;
}

Status ImapTarget::create_folder(const FolderInfo& folder) {
    auto r = m_session->run("CREATE " + quote_string(wire_name(folder)));
    if (!r) return std::unexpected(r.error());
    // An existing folder is fine (RFC 5530 ALREADYEXISTS, or a plain NO).
    if (r->status != "OK" && !(r->code.size() && is_atom(r->code[0], "ALREADYEXISTS"))) {
        auto again = m_session->run("EXAMINE " + quote_string(wire_name(folder)));
        if (!again || again->status != "OK")
            return fail(ErrorKind::protocol, Scope::folder,
                        "cannot create folder " + target_name(folder) +
                            " on the target: " + r->text);
    }
    (void)m_session->run("SUBSCRIBE " + quote_string(wire_name(folder)));
    return {};
}

Status ImapTarget::delete_folder(const FolderInfo& folder) {
    auto r = m_session->run_ok("DELETE " + quote_string(wire_name(folder)),
                               "deleting " + target_name(folder));
    return r ? Status{} : std::unexpected(r.error());
}

Result<TargetFolder> ImapTarget::open(const FolderInfo& folder) {
    TargetFolder out;
    std::string name = wire_name(folder);
    if (auto s = m_session->compress(); !s) return std::unexpected(s.error());
    if (auto s = read_folder_limit(name); !s) return std::unexpected(s.error());
    m_any_keyword = false;
    m_keywords_allowed.clear();
    std::uint32_t next = 0;
    auto r = m_session->run("SELECT " + quote_string(name), [&](const Response& resp) -> Status {
        if (resp.status == "OK" && resp.code.size() >= 2 && is_atom(resp.code[0], "UIDVALIDITY"))
            out.validity = to_u32(resp.code[1]).value_or(0);
        if (resp.status == "OK" && resp.code.size() >= 2 && is_atom(resp.code[0], "UIDNEXT"))
            next = to_u32(resp.code[1]).value_or(0);
        if (resp.status == "OK" && resp.code.size() >= 2 && is_atom(resp.code[0], "PERMANENTFLAGS"))
            for (const auto& f : resp.code[1].items) {
                if (is_atom(f, "\\*"))
                    m_any_keyword = true;
                else if (auto s = as_string(f))
                    m_keywords_allowed.insert(*s);
            }
        return {};
    });
    if (!r) return std::unexpected(r.error());
    if (r->status != "OK") return out; // no such folder (yet)
    out.exists = true;
    m_selected = name;
    auto listed =
        m_session->run_ok("UID FETCH 1:* (UID FLAGS RFC822.SIZE INTERNALDATE)",
                          "listing " + target_name(folder), [&](const Response& resp) -> Status {
                              auto d = parse_fetch(resp);
                              if (!d || !d->uid) return {};
                              out.messages.push_back({*d->uid,
                                                      d->flags.value_or(Flags{}),
                                                      d->size.value_or(0),
                                                      d->internal_date.value_or(0),
                                                      {}});
                              return {};
                          });
    if (!listed) return std::unexpected(listed.error());
    // What is appended from now on gets a UID above every one listed.
    for (const auto& m : out.messages)
        next = std::max(next, m.uid + 1);
    m_appender->opened(next);
    return out;
}

Status ImapTarget::fill_keys(TargetFolder& folder, const std::vector<std::uint32_t>& uids) {
    std::unordered_map<std::uint32_t, TargetMessage*> by_uid;
    for (auto& m : folder.messages)
        by_uid[m.uid] = &m;
    for (const auto& set : uid_sets(uids, k_max_uid_set_chars)) {
        auto r = m_session->run_ok(
            "UID FETCH " + set + " (UID BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)])",
            "reading Message-IDs on the target", [&](const Response& resp) -> Status {
                auto d = parse_fetch(resp);
                if (!d || !d->uid || !by_uid.contains(*d->uid)) return {};
                mail::HeaderScanner h;
                h.feed(d->header.value_or(""));
                h.finish();
                by_uid[*d->uid]->message_id = h.message_id();
                return {};
            });
        if (!r) return std::unexpected(r.error());
    }
    return {};
}

Status ImapTarget::flush() {
    return m_appender->drain();
}

MessageSink& ImapTarget::appender(AppendCallbacks callbacks) {
    m_appender->start(std::move(callbacks));
    return *m_appender;
}

void ImapTarget::append_singly(bool singly) {
    m_appender->singly = singly;
}

// System flags always; keywords only where the folder's PERMANENTFLAGS let
// them stay (a server that drops them silently would otherwise differ).
std::string ImapTarget::flag_list(const Flags& flags) const {
    Flags kept;
    kept.system = flags.system;
    for (const auto& k : flags.keywords)
        if (m_any_keyword || m_keywords_allowed.contains(k)) kept.keywords.push_back(k);
    return flags_to_imap(kept);
}

Status ImapTarget::set_flags(std::uint32_t uid, const Flags& flags) {
    auto r = m_session->run_ok("UID STORE " + std::to_string(uid) + " FLAGS.SILENT (" +
                                   flag_list(flags) + ")",
                               "setting flags");
    return r ? Status{} : std::unexpected(r.error());
}

// UID EXPUNGE (RFC 4315) removes exactly these messages; a plain EXPUNGE
// would also remove messages someone else flagged \Deleted, so without
// UIDPLUS nothing is expunged.
Status ImapTarget::remove(const std::vector<std::uint32_t>& uids) {
    if (!m_session->has("UIDPLUS"))
        return fail(ErrorKind::protocol, Scope::folder,
                    "the target has no UIDPLUS, so messages cannot be expunged selectively; "
                    "nothing deleted");
    for (const auto& set : uid_sets(uids, k_max_uid_set_chars)) {
        auto r = m_session->run_ok("UID STORE " + set + " +FLAGS.SILENT (\\Deleted)",
                                   "marking for deletion");
        if (!r) return std::unexpected(r.error());
        test::durable_step("target messages flagged deleted");
        r = m_session->run_ok("UID EXPUNGE " + set, "expunging");
        if (!r) return std::unexpected(r.error());
        test::durable_step("target messages expunged");
    }
    return {};
}

} // namespace mf::imap
