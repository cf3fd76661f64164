#include "backends/imap/target.h"

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

// Whether a refused APPEND asks the client to wait rather than refusing the
// message: Office 365's "NO Request is throttled. Suggested Backoff Time: N
// milliseconds" (imapsync issue 198,
// https://github.com/imapsync/imapsync/issues/198; see suggested_backoff),
// and the [THROTTLED] and [LIMIT] codes. The same test as the source's
// message_scoped() (source.cpp) makes for a FETCH.
bool throttling(const Failure& f) {
    return f.retry_after || f.what.find("[THROTTLED]") != std::string::npos ||
           f.what.find("[LIMIT]") != std::string::npos;
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

// Spools each message (its size must be known before APPEND) and appends it
// when the source says it is complete. With LITERAL+ the appends are
// pipelined: up to k_window commands are on the wire before the first
// answer is read, so a slow link costs one round trip per window, not per
// message. With MULTIAPPEND (RFC 3502) as well, one command carries up to
// k_batch messages: the server stores them in one transaction, which costs
// it far less than a transaction per message; larger batches saved little
// more (measured with Dovecot: tests/bench/README.md).
// A batch is atomic: all of it is on the target or none, and a batch whose
// answer never came is matched by content on the next run.
class ImapTarget::Appender : public MessageSink {
  public:
    static constexpr std::size_t k_window = 32;
    static constexpr std::size_t k_batch = 16;
    static constexpr std::uint64_t k_batch_bytes = 1u << 20;
    static constexpr std::size_t k_batch_window = 4;
    explicit Appender(ImapTarget& target) : m_target(target) {}
    bool singly = false;     // no MULTIAPPEND batches (a refused batch's messages tried again)
    bool final_crlf = false; // see TargetOptions

    void start(AppendCallbacks c) {
        m_callbacks = std::move(c);
        m_halt.reset();
    }

    Status begin(std::uint64_t) override {
        m_spool.clear();
        m_last = 0;
        return {};
    }
    Status write(std::string_view chunk) override {
        if (!chunk.empty()) m_last = chunk.back();
        return m_spool.write(chunk);
    }
    void abandon() override { m_spool.clear(); }

    Status finish(const RemoteMessage& message) override {
        // The spool makes a bare LF a CRLF: the message ends in CRLF when
        // its last octet is a LF.
        const bool add_crlf = final_crlf && m_last != '\n';
        auto body = [&](const MessageSink::Send& send) -> Status {
            if (auto s = m_spool.replay(send); !s || !add_crlf) return s;
            return send("\r\n");
        };
        auto s = append(message, m_spool.size() + (add_crlf ? 2 : 0), body);
        if (s && add_crlf && m_callbacks.changed)
            m_callbacks.changed(message, "a final CRLF was added");
        m_spool.clear();
        return s;
    }

    // The source knows the size up front: the message goes to the server as
    // the source reads it, never held here. Unless a final CRLF may have to
    // be added: its last octets must be seen before the size is stated.
    Status put(const RemoteMessage& message, std::uint64_t size, const Producer& produce) override {
        if (final_crlf) return MessageSink::put(message, size, produce);
        m_spool.clear();
        return append(message, size, produce);
    }

    // Reads every answer still due, even after a failure to record one, so
    // that the session stays in step for the next command; only a session
    // that is gone stops it.
    Status drain() {
        Status first = close_batch();
        while (!m_pending.empty()) {
            auto s = read_one();
            if (s) continue;
            if (s.error().scope == Scope::session || s.error().scope == Scope::account) return s;
            if (first) first = s;
        }
        if (first && m_halt) return std::unexpected(*m_halt);
        return first;
    }

  private:
    AppendCallbacks m_callbacks;

    // APPENDs one message of `size` octets that `body` sends.
    Status append(const RemoteMessage& message, std::uint64_t size, const Producer& body) {
        // The server asked to wait: nothing more on this session.
        if (m_halt) return std::unexpected(*m_halt);
        if (auto limit = m_target.append_limit(); limit && size > *limit)
            return over_limit(message, size, *limit);
        Session& session = *m_target.m_session;
        std::string attributes = " (" + m_target.flag_list(message.flags) + ")";
        if (message.internal_date > 0)
            attributes += " \"" + format_internal_date(message.internal_date) + "\"";
        std::string prefix = "APPEND " + quote_string(m_target.m_selected);
        auto write = [&](const MessageSink::Send& send) -> Status {
            auto s = body(send);
            // The whole literal is on its way: a crash now leaves an APPEND
            // whose answer nobody reads.
            if (s) test::durable_step("APPEND sent");
            return s;
        };
        if (!session.has("LITERAL+")) {
            auto r = session.run_literal(prefix + attributes, size, write);
            if (!r) return refused_at_bye(r.error(), {message});
            return confirmed(*r, {message});
        }
        if (!session.has("MULTIAPPEND") || singly) {
            auto tag = session.send_literal(prefix + attributes, size, write);
            if (!tag) return std::unexpected(tag.error());
            m_pending.emplace(*tag, std::vector<RemoteMessage>{message});
            return keep_window();
        }
        if (m_open_tag.empty()) {
            auto tag = session.open_command(prefix);
            if (!tag) return std::unexpected(tag.error());
            m_open_tag = *tag;
        }
        auto s = session.add_literal(attributes, size, write);
        m_batch_bytes += size;
        if (!s) return s;
        m_batch.push_back(message);
        if (m_batch.size() >= k_batch || m_batch_bytes >= k_batch_bytes) return close_batch();
        return {};
    }

    // RFC 7889: a client must not send an APPEND larger than the limit. Not
    // sent, the message is refused here, as the server would have refused it.
    Status over_limit(const RemoteMessage& message, std::uint64_t size, std::uint64_t limit) {
        Failure f{ErrorKind::protocol, Scope::message,
                  "larger than the server's APPENDLIMIT of " + std::to_string(limit) + " bytes (" +
                      std::to_string(size) + " bytes); not sent"};
        if (!m_callbacks.refused) return std::unexpected(Failure{f.kind, Scope::folder, f.what});
        m_callbacks.refused(message, f, true);
        return {};
    }

    // Ends the MULTIAPPEND being written; its messages then wait for the answer.
    Status close_batch() {
        if (m_open_tag.empty()) return {};
        auto s = m_target.m_session->close_command();
        m_pending.emplace(std::move(m_open_tag), std::move(m_batch));
        m_open_tag.clear();
        m_batch.clear();
        m_batch_bytes = 0;
        if (!s) return s;
        return keep_window();
    }

    // Few batches on the wire: what a killed run leaves unconfirmed (and a
    // server may still be storing while the next run looks) stays small.
    Status keep_window() {
        std::size_t window = m_target.m_session->has("MULTIAPPEND") ? k_batch_window : k_window;
        while (m_pending.size() >= window)
            if (auto s = read_one(); !s) return s;
        return {};
    }

    Status read_one() {
        auto r = m_target.m_session->read_tagged();
        if (!r) return refused_at_bye(r.error(), {});
        auto it = m_pending.find(r->tag);
        if (it == m_pending.end())
            return fail(ErrorKind::protocol, Scope::session,
                        "the target answered a command that was not sent");
        std::vector<RemoteMessage> messages = std::move(it->second);
        m_pending.erase(it);
        return confirmed(*r, messages);
    }

    // The session is gone (`lost`). Where the server named the APPEND it
    // refused as it hung up (Exchange: "* BYE Connection closed. 14", then
    // "BAD Command Argument Error. 11" for a message over its size limit;
    // see Session::answer_after_bye), that message is refused like any
    // other, so that the folder, resumed on a new session, goes on without
    // it. `unpipelined` holds the messages of a command that was not
    // pipelined (its tag is not in m_pending).
    std::unexpected<Failure> refused_at_bye(Failure lost, std::vector<RemoteMessage> unpipelined) {
        // A throttling answer read before the end still says how long to wait.
        if (m_halt && !lost.retry_after) lost.retry_after = m_halt->retry_after;
        if (!m_callbacks.refused) return std::unexpected(std::move(lost));
        auto answer = m_target.m_session->answer_after_bye();
        if (!answer || answer->status == "OK") return std::unexpected(std::move(lost));
        std::vector<RemoteMessage> messages;
        if (auto it = m_pending.find(answer->tag); it != m_pending.end()) {
            messages = std::move(it->second);
            m_pending.erase(it);
        } else if (m_pending.empty()) {
            messages = std::move(unpipelined);
        }
        Failure f = m_target.m_session->check_ok(*answer, "APPEND").error();
        if (throttling(f)) { // Office 365's throttling BAD with the BYE: wait as asked
            if (!lost.retry_after) lost.retry_after = f.retry_after;
            return std::unexpected(std::move(lost));
        }
        f.scope = Scope::message;
        f.what += "; the server then closed the connection";
        for (const auto& m : messages)
            m_callbacks.refused(m, f, messages.size() == 1);
        return std::unexpected(std::move(lost));
    }

    Status confirmed(const Response& r, const std::vector<RemoteMessage>& messages) {
        if (r.status != "OK") {
            Failure f = m_target.m_session->check_ok(r, "APPEND").error();
            if (throttling(f)) {
                // The server will take the message later: the engine waits
                // as asked and resumes on a new session. The answers still
                // due are read first (drain()), so that what the server did
                // store is recorded.
                f.scope = Scope::session;
                if (!m_halt) m_halt = f;
                return {};
            }
            if (!m_callbacks.refused)
                return fail(ErrorKind::protocol, Scope::folder,
                            "the target refused a message: " + r.status + " " + r.text);
            // NO [TOOBIG], a NO or BAD for one message (Exchange's "BAD
            // Command Argument Error. 11" for a large one, Cyrus refusing NUL
            // bytes: issue 18): that message's failure. With LITERAL+ the
            // literal was sent whole, so the session is still in step.
            f.scope = Scope::message;
            for (const auto& m : messages)
                m_callbacks.refused(m, f, messages.size() == 1);
            return {};
        }
        // [APPENDUID validity uid-set] (RFC 4315), when the server has UIDPLUS.
        // A set that does not name one UID per message is not used: the
        // messages are then recognised by content on the next run.
        std::vector<std::uint32_t> uids;
        if (r.code.size() == 3 && is_atom(r.code[0], "APPENDUID") &&
            r.code[2].type == Value::Type::atom)
            uids = expand_uid_set(r.code[2].text, messages.size());
        if (uids.size() != messages.size()) uids.assign(messages.size(), 0);
        for (std::size_t i = 0; i < messages.size(); ++i)
            if (m_callbacks.appended)
                if (auto s = m_callbacks.appended(messages[i], uids[i]); !s) return s;
        return {};
    }

    ImapTarget& m_target;
    mail::Spool m_spool;
    char m_last = 0; // the last octet written into the spool
    std::map<std::string, std::vector<RemoteMessage>> m_pending; // tag -> messages on the wire
    std::string m_open_tag;             // the MULTIAPPEND being written, if any
    std::vector<RemoteMessage> m_batch; // its messages so far
    std::uint64_t m_batch_bytes = 0;
    std::optional<Failure> m_halt; // a throttling answer: Scope::session, with its retry_after
};

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
    if (auto s = read_folder_limit(name); !s) return std::unexpected(s.error());
    m_any_keyword = false;
    m_keywords_allowed.clear();
    auto r = m_session->run("SELECT " + quote_string(name), [&](const Response& resp) -> Status {
        if (resp.status == "OK" && resp.code.size() >= 2 && is_atom(resp.code[0], "UIDVALIDITY"))
            out.validity = to_u32(resp.code[1]).value_or(0);
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
