#include "backends/pop3/session.h"

namespace mf::pop3 {

namespace {
// Message bodies arrive as lines too, and real mail breaks RFC 5322's 998
// characters: HTML on one line, base64 without line breaks. A limit of 64 KiB
// made such a message fail the whole account on every run. 8 MiB (the IMAP
// reader's limit for a response outside literals) keeps memory bounded and
// lets those messages through.
constexpr std::size_t k_max_line = std::size_t{8} << 20;
constexpr std::size_t k_read_chunk = 64 * 1024;
constexpr std::size_t k_max_quoted = 200; // of a server's reply, in an error message

// A server's reply as quoted in an error: a line may be megabytes long.
std::string excerpt(std::string_view reply) {
    if (reply.size() <= k_max_quoted) return std::string(reply);
    return std::string(reply.substr(0, k_max_quoted)) + "...";
}
} // namespace

Session::Session(std::unique_ptr<net::Transport> conn, net::TraceSink trace)
    : m_conn(std::move(conn)), m_trace(std::move(trace)) {}

Session::~Session() {
    // No QUIT here: QUIT commits deletions (RFC 1939 6), which only a caller
    // that asked for them may do. Closing without QUIT leaves the mailbox as it was.
}

std::unique_ptr<Session> Session::start(std::unique_ptr<net::Transport> transport,
                                        net::TraceSink trace) {
    return std::unique_ptr<Session>(new Session(std::move(transport), std::move(trace)));
}

Status Session::send(std::string_view line) {
    if (m_trace) m_trace(net::TraceKind::sent, net::redact_line(line, false));
    std::string out(line);
    out += "\r\n";
    return m_conn->send_all(out);
}

Result<std::string_view> Session::read_line() {
    // Bytes from m_pos up to `scanned` are known to hold no LF: a long line
    // arriving in many reads is searched once, not once per read.
    std::size_t scanned = m_pos;
    for (;;) {
        auto nl = m_buffer.find('\n', scanned);
        if (nl != std::string::npos) {
            std::size_t end = nl;
            if (end > m_pos && m_buffer[end - 1] == '\r') --end;
            m_line.assign(m_buffer, m_pos, end - m_pos);
            m_pos = nl + 1;
            return std::string_view(m_line);
        }
        if (m_buffer.size() - m_pos > k_max_line)
            return fail(ErrorKind::protocol, Scope::session,
                        host() + " sent a line longer than " + std::to_string(k_max_line) +
                            " bytes");
        m_buffer.erase(0, m_pos);
        m_pos = 0;
        scanned = m_buffer.size();
        // Read into a fixed buffer and append: growing m_buffer by a whole
        // chunk per read would zero 64 KiB for every small TLS record.
        char chunk[k_read_chunk];
        auto got = m_conn->read_some(chunk, sizeof chunk);
        if (!got) return std::unexpected(got.error());
        m_buffer.append(chunk, *got);
    }
}

Result<std::string> Session::command(std::string_view line) {
    if (auto s = send(line); !s) return std::unexpected(s.error());
    return read_status();
}

Result<std::string> Session::read_status() {
    auto reply = read_line();
    if (!reply) return std::unexpected(reply.error());
    if (m_trace) m_trace(net::TraceKind::received, *reply);
    if (reply->starts_with("+OK"))
        return std::string(reply->substr(std::min<std::size_t>(4, reply->size())));
    if (reply->starts_with("-ERR"))
        return fail(ErrorKind::protocol, Scope::message, host() + " answered " + excerpt(*reply));
    return fail(ErrorKind::protocol, Scope::session,
                host() + " sent a malformed reply: " + excerpt(*reply));
}

Status Session::multiline(std::string_view line,
                          const std::function<Status(std::string_view)>& on_line) {
    auto first = command(line);
    if (!first) return std::unexpected(first.error());
    return read_body(on_line);
}

Status Session::quit() {
    auto r = command("QUIT");
    if (!r) return std::unexpected(r.error());
    return {};
}

Status Session::read_body(const std::function<Status(std::string_view)>& on_line) {
    for (;;) {
        auto l = read_line();
        if (!l) return std::unexpected(l.error());
        std::string_view text = *l;
        if (text == ".") return {};
        if (text.starts_with('.')) text.remove_prefix(1); // dot-unstuffing (RFC 1939 3)
        if (auto s = on_line(text); !s) return s;
    }
}

} // namespace mf::pop3
