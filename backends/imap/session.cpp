#include "backends/imap/session.h"

#include "backends/net/deflate.h"

#include <algorithm>
#include <charconv>

#include <optional>
#include <utility>

namespace mf::imap {

namespace {

std::string upper(std::string_view s) {
    std::string out(s);
    std::transform(out.begin(), out.end(), out.begin(),
                   [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
    return out;
}

// "CAPABILITY a b c" as a response's items or a response code.
std::optional<std::set<std::string>> capability_list(const std::vector<Value>& items) {
    if (items.empty() || !is_atom(items[0], "CAPABILITY")) return std::nullopt;
    std::set<std::string> caps;
    for (std::size_t i = 1; i < items.size(); ++i)
        if (auto s = as_string(items[i])) caps.insert(upper(*s));
    return caps;
}

// A line already received, as a stream for the response reader.
class LineStream : public ByteStream {
  public:
    explicit LineStream(std::string_view line) : m_text(std::string(line) + "\r\n") {}
    Result<std::size_t> read_some(char* buf, std::size_t len) override {
        if (m_at == m_text.size())
            return fail(ErrorKind::protocol, Scope::session, "end of the login answer");
        std::size_t n = std::min(len, m_text.size() - m_at);
        std::copy_n(m_text.data() + m_at, n, buf);
        m_at += n;
        return n;
    }

  private:
    std::string m_text;
    std::size_t m_at = 0;
};

} // namespace

std::optional<std::vector<CommandLiteral>> command_literals(std::string_view command) {
    std::vector<CommandLiteral> out;
    std::size_t at = 0;
    for (;;) {
        auto crlf = command.find("\r\n", at);
        if (crlf == std::string_view::npos) return out;
        // Only a literal's head ends a line inside a command: "{n}" CRLF.
        if (crlf == 0 || command[crlf - 1] != '}') return std::nullopt;
        auto open = command.rfind('{', crlf - 1);
        if (open == std::string_view::npos || open < at) return std::nullopt;
        std::uint64_t size = 0;
        auto [end, ec] =
            std::from_chars(command.data() + open + 1, command.data() + crlf - 1, size);
        if (ec != std::errc() || end != command.data() + crlf - 1 ||
            size > command.size() - crlf - 2)
            return std::nullopt;
        out.push_back({crlf - 1, crlf + 2, size});
        at = crlf + 2 + static_cast<std::size_t>(size);
    }
}

// Servers may send their capabilities with the answer to the login: an
// untagged CAPABILITY, or a CAPABILITY code in the tagged OK (RFC 9051
// 6.2.3; Dovecot does the first). Taken only from an answer that ends in
// OK and names IMAP4rev1 or IMAP4rev2; otherwise the caller asks.
std::optional<std::set<std::string>> login_capabilities(const std::vector<std::string>& lines) {
    std::optional<std::set<std::string>> caps;
    std::optional<Response> last; // the last tagged line: the login's own answer
    for (const auto& line : lines) {
        // Line by line: a literal, which no sane login answer has, or a
        // malformed line means asking instead.
        LineStream stream(line);
        ResponseReader reader(stream);
        auto r = reader.read();
        if (!r) return std::nullopt;
        if (r->kind != Response::Kind::tagged) {
            if (auto c = capability_list(r->items)) caps = std::move(c);
            continue;
        }
        if (auto c = capability_list(r->code)) caps = std::move(c);
        last = std::move(*r);
    }
    if (!last || last->status != "OK") return std::nullopt;
    if (caps && !caps->contains("IMAP4REV1") && !caps->contains("IMAP4REV2")) return std::nullopt;
    return caps;
}

Session::Session(std::unique_ptr<net::Transport> conn, TraceOptions trace)
    : m_conn(std::move(conn)), m_trace(std::move(trace)), m_reader(*this) {}

Session::~Session() {
    // A polite LOGOUT; its answer does not matter.
    if (m_conn) (void)send_now("Z LOGOUT\r\n");
}

Result<std::unique_ptr<Session>> Session::start(std::unique_ptr<net::Transport> transport,
                                                TraceOptions trace) {
    std::unique_ptr<Session> session(new Session(std::move(transport), std::move(trace)));
    // libcurl consumed the pre-login CAPABILITY; the server's list may differ
    // after login (RFC 3501 6.2.2). Where the login's answer did not give it,
    // ask again (a round trip per connection).
    if (auto caps = login_capabilities(session->m_conn->login_reply())) {
        session->m_caps = std::move(*caps);
        session->trace(net::TraceKind::info, "capabilities as the login's answer gave them");
    } else if (auto s = session->refresh_capabilities(); !s) {
        return std::unexpected(s.error());
    }
    return session;
}

// COMPRESS=DEFLATE (RFC 4978) where offered and not turned off: the
// download's bytes shrink to about half (mbsync, offlineimap and interimap
// do the same). Asked for only before the first folder is opened, not at
// login: COMPRESS costs a round trip, and a run that finds every folder
// unchanged in the folder list moves almost nothing. A server that refuses
// it leaves the session as it was.
Status Session::compress() {
    if (m_compressed || m_compress_asked) return {};
    m_compress_asked = true;
    if (!m_conn->endpoint().compress || !has("COMPRESS=DEFLATE")) return {};
    auto r = run("COMPRESS DEFLATE");
    if (!r) return std::unexpected(r.error());
    if (r->status != "OK") {
        trace(net::TraceKind::info, "the server refused COMPRESS DEFLATE; going on uncompressed");
        return {};
    }
    auto wrapped = net::compress_transport(std::move(m_conn), m_reader.take_buffered());
    if (!wrapped) return std::unexpected(wrapped.error());
    m_conn = std::move(*wrapped);
    m_compressed = true;
    return {};
}

Result<std::size_t> Session::read_some(char* buf, std::size_t len) {
    if (auto s = flush(); !s) return std::unexpected(s.error());
    return m_conn->read_some(buf, len);
}

// A command line waits here until the session next reads, or sends anything
// else: commands sent one behind the other (a folder's EXAMINE and its
// listing, LIST and NAMESPACE) then go out in one write, one TLS record,
// not one each.
Status Session::queue(std::string_view line) {
    m_out.append(line);
    return m_out.size() >= k_queue_bytes ? flush() : Status{};
}

Status Session::flush() {
    if (m_out.empty()) return {};
    auto s = m_conn->send_all(m_out);
    m_out.clear();
    return s;
}

// Literals and their heads go straight out, after what is queued: a
// literal's octets may be megabytes, and an APPEND is on its way once sent.
Status Session::send_now(std::string_view bytes) {
    if (auto s = flush(); !s) return s;
    return m_conn->send_all(bytes);
}

void Session::trace(net::TraceKind kind, std::string_view line) const {
    if (m_trace.sink) m_trace.sink(kind, line);
}

Result<std::string> Session::send(std::string_view command) {
    if (waits_for_continuation(command))
        return fail(ErrorKind::protocol, Scope::session,
                    "internal error: a command that waits for the server's \"+\" was pipelined");
    std::string tag = next_tag();
    auto refused = write_command(tag, command, {});
    if (!refused) return std::unexpected(refused.error());
    return tag;
}

Result<Response> Session::run(std::string_view command, const UntaggedHandler& on_untagged,
                              LiteralHandler* literals) {
    std::string tag = next_tag();
    auto refused = write_command(tag, command, on_untagged);
    if (!refused) return std::unexpected(refused.error());
    if (*refused) return std::move(**refused); // answered before a literal was sent
    return read_until(tag, on_untagged, literals, false);
}

bool Session::non_synchronizing(std::uint64_t literal_size) const {
    return has("LITERAL+") || (has("LITERAL-") && literal_size <= 4096);
}

bool Session::waits_for_continuation(std::string_view command) const {
    auto literals = command_literals(command);
    return literals &&
           std::any_of(literals->begin(), literals->end(),
                       [&](const CommandLiteral& l) { return !non_synchronizing(l.size); });
}

Result<std::optional<Response>> Session::write_command(const std::string& tag,
                                                       std::string_view command,
                                                       const UntaggedHandler& on_untagged) {
    auto literals = command_literals(command);
    if (!literals)
        return fail(ErrorKind::protocol, Scope::session,
                    "internal error: a command with a malformed literal");
    std::string line = tag + ' ';
    std::size_t from = 0;
    for (const auto& l : *literals) {
        const bool wait = !non_synchronizing(l.size);
        line.append(command.substr(from, l.close - from)).append(wait ? "}" : "+}");
        trace(net::TraceKind::sent, net::redact_line(line, false));
        if (auto s = send_now(line + "\r\n"); !s) return std::unexpected(s.error());
        if (wait) {
            // The server may refuse the command here (a tagged BAD or NO):
            // then the octets are never sent, and the session stays in step.
            auto go = read_until(tag, on_untagged, nullptr, true);
            if (!go) return std::unexpected(go.error());
            if (go->kind == Response::Kind::tagged) return std::optional<Response>(std::move(*go));
        }
        line.clear();
        from = l.data;
    }
    line.append(command.substr(from));
    trace(net::TraceKind::sent, net::redact_line(line, false));
    if (auto s = queue(line.append("\r\n")); !s) return std::unexpected(s.error());
    return std::optional<Response>();
}

Result<Response> Session::run_literal(std::string_view prefix, std::uint64_t size,
                                      const LiteralWriter& write,
                                      const UntaggedHandler& on_untagged) {
    std::string tag = next_tag();
    const bool plus = non_synchronizing(size);
    std::string head =
        tag + ' ' + std::string(prefix) + " {" + std::to_string(size) + (plus ? "+}" : "}");
    trace(net::TraceKind::sent, head + " <" + std::to_string(size) + " octets>");
    if (auto s = send_now(head + "\r\n"); !s) return std::unexpected(s.error());
    if (!plus) {
        auto go = read_until(tag, on_untagged, nullptr, true);
        if (!go || go->kind == Response::Kind::tagged) return go; // refused before the literal
    }
    if (auto s = send_literal_body(size, write); !s) return std::unexpected(s.error());
    if (auto s = send_now("\r\n"); !s) return std::unexpected(s.error());
    return read_until(tag, on_untagged, nullptr, false);
}

Result<std::string> Session::send_literal(std::string_view prefix, std::uint64_t size,
                                          const LiteralWriter& write) {
    auto tag = open_command(prefix);
    if (!tag) return tag;
    if (auto s = add_literal("", size, write); !s) return std::unexpected(s.error());
    if (auto s = close_command(); !s) return std::unexpected(s.error());
    return tag;
}

Result<std::string> Session::open_command(std::string_view prefix) {
    std::string tag = next_tag();
    std::string head = tag + ' ' + std::string(prefix);
    trace(net::TraceKind::sent, head + " ...");
    if (auto s = send_now(head); !s) return std::unexpected(s.error());
    return tag;
}

Status Session::add_literal(std::string_view part, std::uint64_t size, const LiteralWriter& write) {
    std::string head(part);
    head.append(" {").append(std::to_string(size)).append("+}");
    trace(net::TraceKind::sent, "... " + head + " <" + std::to_string(size) + " octets>");
    head.append("\r\n");
    if (auto s = send_now(head); !s) return s;
    return send_literal_body(size, write);
}

// The literal's length is a promise to the server: once its head is sent,
// the server reads exactly `size` octets as the message, whatever they are.
// A writer that fails part way (a file that could not be read to its end)
// or would send more or fewer octets leaves the session out of step, so
// any failure here ends the session (Scope::session); the server discards
// the unfinished command when the connection goes.
Status Session::send_literal_body(std::uint64_t size, const LiteralWriter& write) {
    std::uint64_t sent = 0;
    auto send = [&](std::string_view bytes) -> Status {
        if (bytes.size() > size - sent)
            return fail(ErrorKind::local_io, Scope::session,
                        "internal error: a literal of " + std::to_string(size) +
                            " octets was given more");
        sent += bytes.size();
        return send_now(bytes);
    };
    auto s = write(send);
    if (s && sent != size)
        s = fail(ErrorKind::local_io, Scope::session,
                 "internal error: a literal of " + std::to_string(size) + " octets had " +
                     std::to_string(sent));
    if (!s) s.error().scope = Scope::session;
    return s;
}

Status Session::close_command() {
    return send_now("\r\n");
}

Result<Response> Session::read_tagged(const UntaggedHandler& on_untagged,
                                      LiteralHandler* literals) {
    return read_until("", on_untagged, literals, false);
}

Result<Response> Session::read_until(const std::string& tag, const UntaggedHandler& on_untagged,
                                     LiteralHandler* literals, bool until_continuation) {
    for (;;) {
        auto r = m_reader.read(literals);
        if (!r) return std::unexpected(r.error());
        // Traced parsed, so message bodies (streamed literals) never appear.
        if (m_trace.sink) trace(net::TraceKind::received, describe(*r));
        if (r->kind == Response::Kind::tagged) {
            // An empty tag: any tagged answer (pipelined commands).
            if (r->tag == tag || tag.empty()) return std::move(*r);
            return fail(ErrorKind::protocol, Scope::session,
                        host() + " answered a command that was not sent (tag " + r->tag + ")");
        }
        if (r->kind == Response::Kind::continuation) {
            if (until_continuation) return std::move(*r);
            return fail(ErrorKind::protocol, Scope::session,
                        host() + " asked for data that was not announced");
        }
        if (r->status == "BYE") {
            Failure bye{ErrorKind::connect, Scope::session,
                        host() + " closed the session: " + r->text.substr(0, 200),
                        suggested_backoff(r->text)};
            m_after_bye = true;
            if (m_token_expired && says_token_expired(r->text)) m_token_expired();
            return std::unexpected(std::move(bye));
        }
        if (auto caps = capability_list(r->items)) m_caps = std::move(*caps);
        if (on_untagged) {
            if (auto s = on_untagged(*r); !s) return std::unexpected(s.error());
        }
    }
}

// Exchange Online ends a session whose OAuth2 token ran out with "* BYE
// Session invalidated - AccessTokenExpired" (iroco-co/aioimaplib issue 83,
// https://github.com/iroco-co/aioimaplib/issues/83; to a FETCH in
// joeyates/imap-backup issue 198,
// https://github.com/joeyates/imap-backup/issues/198). The session is lost
// (the engine logs in again); the token must not be used for that login.
bool says_token_expired(std::string_view text) {
    return text.find("AccessTokenExpired") != std::string_view::npos;
}

// Exchange ends a session over a command it refuses with "* BYE Connection
// closed. 14" and then the command's own answer, "BAD Command Argument
// Error. 11" (imapsync issue 5, https://github.com/imapsync/imapsync/issues/5,
// for an APPEND too large). That answer names the command that was refused.
// Read only when asked: a server that sent BYE is closing the connection, so
// the read ends at once, with the answer or with the end of the connection.
std::optional<Response> Session::answer_after_bye() {
    if (!std::exchange(m_after_bye, false)) return std::nullopt;
    auto next = m_reader.read();
    if (!next) return std::nullopt;
    if (m_trace.sink) trace(net::TraceKind::received, describe(*next));
    if (next->kind != Response::Kind::tagged) return std::nullopt;
    return std::move(*next);
}

Result<Response> Session::run_ok(std::string_view command, std::string_view what,
                                 const UntaggedHandler& on_untagged, LiteralHandler* literals) {
    auto r = run(command, on_untagged, literals);
    if (!r) return r;
    if (auto s = check_ok(*r, what); !s) return std::unexpected(s.error());
    return r;
}

Status Session::check_ok(const Response& tagged, std::string_view what) const {
    if (tagged.status == "OK") return {};
    // The server's text, but not a megabyte of it.
    std::string text = tagged.text.size() > 200 ? tagged.text.substr(0, 200) + "..." : tagged.text;
    // The response code is the server's words too ([UNAVAILABLE], [THROTTLED]...).
    if (auto code = tagged.code.empty() ? std::nullopt : as_string(tagged.code.front());
        code && code->size() <= 40)
        text = "[" + *code + "] " + text;
    // A throttling answer is about the session whatever the command (a
    // FETCH, an EXAMINE, a LIST, an APPEND): the engine backs off and logs in
    // again, where a NO alone would end the folder.
    const Scope scope =
        tagged.status == "NO" && !asks_to_wait(text) ? Scope::folder : Scope::session;
    return std::unexpected(
        Failure{ErrorKind::protocol, scope,
                std::string(what) + " failed: " + host() + " said " + tagged.status + " " + text,
                suggested_backoff(tagged.text)});
}

// The answers that ask the client to slow down rather than refuse what it
// asked for:
// - the [THROTTLED] code (Office 365's "NO [THROTTLED] Request is throttled",
//   issue 18), and Office 365's "Request is throttled. Suggested Backoff
//   Time: N milliseconds", with or without it (imapsync issue 198,
//   https://github.com/imapsync/imapsync/issues/198, to an APPEND;
//   simonrob/email-oauth2-proxy issue 191 to a FETCH);
// - Gmail's "Account exceeded command or bandwidth limits", sent with
//   [OVERQUOTA] (ljmerza/ha-email-sensor issue 16,
//   https://github.com/ljmerza/ha-email-sensor/issues/16) and without it.
// [OVERQUOTA] alone is not here: to an APPEND it is a full mailbox (RFC
// 5530 section 3; Dovecot's quota plugin), which no wait mends.
bool asks_to_wait(std::string_view text) {
    for (std::string_view words :
         {"[THROTTLED]", "Suggested Backoff Time:", "Account exceeded command or bandwidth limits"})
        if (text.find(words) != std::string_view::npos) return true;
    return false;
}

// Office 365 and Exchange Online say how long to wait in the text of a
// throttling answer: "NO [THROTTLED] Request is throttled. Suggested Backoff
// Time: 30000 milliseconds" (as seen and reported in issue 18; Microsoft's
// "Throttling in Exchange Online" describes the back-off). No other server is
// known to give a figure; the engine's own back-off covers them.
std::optional<std::chrono::milliseconds> suggested_backoff(std::string_view text) {
    static constexpr std::string_view k_label = "Suggested Backoff Time:";
    auto at = text.find(k_label);
    if (at == std::string_view::npos) return std::nullopt;
    text.remove_prefix(at + k_label.size());
    while (!text.empty() && text.front() == ' ')
        text.remove_prefix(1);
    std::uint32_t ms = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), ms);
    if (ec != std::errc() || end == text.data()) return std::nullopt;
    // A figure past ten minutes is not a back-off the run should sit out.
    return std::chrono::milliseconds(std::min<std::uint32_t>(ms, 600000));
}

Status Session::refresh_capabilities() {
    auto r = run_ok("CAPABILITY", "CAPABILITY");
    if (!r) return std::unexpected(r.error());
    return {};
}

bool Session::has(std::string_view capability) const {
    return m_caps.contains(upper(capability));
}

bool Session::enabled(std::string_view extension) const {
    return m_enabled.contains(upper(extension));
}

Result<bool> Session::enable(std::string_view extension) {
    if (enabled(extension)) return true;
    if (!has("ENABLE") || !has(extension)) return false;
    auto r = run("ENABLE " + std::string(extension), [&](const Response& resp) -> Status {
        if (!resp.items.empty() && is_atom(resp.items[0], "ENABLED"))
            for (std::size_t i = 1; i < resp.items.size(); ++i)
                if (auto e = as_string(resp.items[i])) m_enabled.insert(upper(*e));
        return {};
    });
    if (!r) return std::unexpected(r.error());
    // A refusal is no failure: the session goes on without the extension.
    return enabled(extension);
}

} // namespace mf::imap
