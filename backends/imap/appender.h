// The APPEND pipeline of ImapTarget: spooling, LITERAL+ windows, MULTIAPPEND
// batches, and what a refusal or a throttling answer means for a message.
// Private to backends/imap (target.cpp makes the one Appender a target has).
#pragma once

#include "backends/common/crashpoint.h"
#include "backends/common/headers.h"
#include "backends/imap/fetch.h"
#include "backends/imap/locate.h"
#include "backends/imap/target.h"
#include "backends/imap/uid_set.h"

#include <algorithm>
#include <charconv>
#include <map>

namespace mf::imap {

namespace appending {

// Whether a refused APPEND asks the client to wait rather than refusing the
// message: Office 365's "NO Request is throttled. Suggested Backoff Time: N
// milliseconds" (imapsync issue 198,
// https://github.com/imapsync/imapsync/issues/198; see suggested_backoff),
// the [THROTTLED] code and Gmail's bandwidth limit (asks_to_wait()).
// Unlike a FETCH (message_scoped() in source.cpp), an APPEND's [LIMIT]
// refuses the message: RFC 5530 section 3 makes it an implementation limit
// the operation ran into, and Dovecot's quota plugin answers an APPEND over
// quota_max_mail_size with "NO [LIMIT] Mail size is larger than the maximum
// size allowed by server configuration" (Dovecot 2.3, quota plugin
// settings), which no wait changes.
inline bool throttling(const Failure& f) {
    return f.retry_after || asks_to_wait(f.what);
}

} // namespace appending

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
        m_message_ids.clear();
    }
    // A folder was opened: UIDs from `next` on are new (see UidLocator).
    void opened(std::uint32_t next) { m_locator.opened(next); }

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
        if (auto s = locate(); !s) {
            if (s.error().scope == Scope::session) return s;
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
        if (m_locator.due())
            if (auto s = drain(); !s) return s;
        if (auto limit = m_target.append_limit(); limit && size > *limit)
            return over_limit(message, size, *limit);
        Session& session = *m_target.m_session;
        std::string attributes = " (" + m_target.flag_list(message.flags) + ")";
        if (message.internal_date > 0)
            attributes += " \"" + format_internal_date(message.internal_date) + "\"";
        std::string prefix = "APPEND " + quote_string(m_target.m_selected);
        mail::HeaderScanner scan; // the Message-ID, to find the message by if no UID comes back
        auto write = [&](const MessageSink::Send& send) -> Status {
            auto s = !m_callbacks.located ? body(send) : body([&](std::string_view chunk) {
                scan.feed(chunk);
                return send(chunk);
            });
            scan.finish();
            if (m_callbacks.located) m_message_ids[message.id] = scan.message_id();
            // The whole literal is on its way: a crash now leaves an APPEND
            // whose answer nobody reads.
            if (s) test::durable_step("APPEND sent");
            return s;
        };
        if (!session.has("LITERAL+")) {
            // With LITERAL- a message of up to 4096 octets needs no "+" and
            // is pipelined; a larger one waits for "+", after the answers due.
            if (session.non_synchronizing(size))
                return pipelined(message, prefix + attributes, size, write);
            if (auto s = answers_due(); !s) return s;
            auto r = session.run_literal(prefix + attributes, size, write);
            if (!r) return refused_at_bye(r.error(), {message});
            return confirmed(*r, {message});
        }
        if (!session.has("MULTIAPPEND") || singly)
            return pipelined(message, prefix + attributes, size, write);
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

    // One APPEND sent without waiting for its answer (a non-synchronizing
    // literal); its message waits in m_pending for the answer.
    Status pipelined(const RemoteMessage& message, const std::string& command, std::uint64_t size,
                     const Session::LiteralWriter& write) {
        auto tag = m_target.m_session->send_literal(command, size, write);
        if (!tag) return std::unexpected(tag.error());
        m_pending.emplace(*tag, std::vector<RemoteMessage>{message});
        return keep_window();
    }

    // Reads every answer due, so that a command that must wait for "+" is
    // not answered out of turn.
    Status answers_due() { return read_until_fewer(1); }

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
        return read_until_fewer(m_target.m_session->has("MULTIAPPEND") ? k_batch_window : k_window);
    }

    // Reads answers until fewer than `window` commands wait for theirs.
    Status read_until_fewer(std::size_t window) {
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
        if (appending::throttling(f)) { // Office 365's throttling BAD with the BYE: wait as asked
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
            if (appending::throttling(f)) {
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
            to_locate(messages[i], uids[i]);
        for (std::size_t i = 0; i < messages.size(); ++i)
            if (m_callbacks.appended)
                if (auto s = m_callbacks.appended(messages[i], uids[i]); !s) return s;
        return {};
    }

    // A message confirmed without its UID is looked for later (locate());
    // one with its UID is not taken for another's.
    void to_locate(const RemoteMessage& message, std::uint32_t uid) {
        auto it = m_message_ids.find(message.id);
        if (it == m_message_ids.end()) return;
        if (uid)
            m_locator.known(uid);
        else
            m_locator.add(message, std::move(it->second));
        m_message_ids.erase(it);
    }

    // Only with every answer read: the searches' answers come after them.
    Status locate() {
        if (!m_callbacks.located || !m_pending.empty()) return {};
        return m_locator.locate(*m_target.m_session, m_callbacks.located);
    }

    ImapTarget& m_target;
    mail::Spool m_spool;
    char m_last = 0; // the last octet written into the spool
    std::map<std::string, std::vector<RemoteMessage>> m_pending; // tag -> messages on the wire
    std::string m_open_tag;             // the MULTIAPPEND being written, if any
    std::vector<RemoteMessage> m_batch; // its messages so far
    std::uint64_t m_batch_bytes = 0;
    std::optional<Failure> m_halt; // a throttling answer: Scope::session, with its retry_after
    std::map<std::string, std::string> m_message_ids; // source id -> Message-ID, on the wire
    UidLocator m_locator;
};

} // namespace mf::imap
