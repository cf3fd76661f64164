// An IMAP session over an authenticated connection: tagged commands, the
// response loop, capabilities. libcurl logged in (see net/connection.h);
// everything after that is ours, written to RFC 3501/9051, not to one server.
// The session sees its connection only as a net::Transport, so tests run it
// over a scripted server (tests/unit/transcript.h).
#pragma once

#include "backends/imap/reader.h"
#include "backends/imap/response.h"
#include "backends/net/connection.h"
#include "backends/net/transport.h"

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace mf::imap {

// The wait a server's text asks for ("Suggested Backoff Time: N
// milliseconds"), where it says; see session.cpp.
std::optional<std::chrono::milliseconds> suggested_backoff(std::string_view text);
// Whether a server's answer (its text, with its response code) asks the
// client to wait rather than refusing the command; see session.cpp.
bool asks_to_wait(std::string_view text);
// Whether a BYE's text says the session's OAuth2 token expired; see session.cpp.
bool says_token_expired(std::string_view text);

struct TraceOptions {
    net::TraceSink sink; // null: no trace
};

using UntaggedHandler = std::function<Status(const Response&)>;

// A literal in a command written as on the wire (see Session::send): where
// its "}" stands, where its octets start, and how many there are.
struct CommandLiteral {
    std::size_t close = 0, data = 0;
    std::uint64_t size = 0;
};
// nullopt when a line break in `command` is not a literal's head.
std::optional<std::vector<CommandLiteral>> command_literals(std::string_view command);

// The capabilities in the lines a server answered a login with (see
// net::Transport::login_reply); nullopt: none there, ask for them.
std::optional<std::set<std::string>> login_capabilities(const std::vector<std::string>& lines);

class Session : private ByteStream {
  public:
    // Connects and logs in (net::Connection), then start()s. Inline, so a
    // program that only ever start()s (the fuzz targets) needs no libcurl.
    static Result<std::unique_ptr<Session>> open(const net::Endpoint& endpoint,
                                                 TraceOptions trace) {
        auto conn = net::Connection::open(endpoint, trace.sink);
        if (!conn) return std::unexpected(conn.error());
        auto session = start(std::move(*conn), std::move(trace));
        if (session) (*session)->m_token_expired = endpoint.oauth2_token_expired;
        return session;
    }
    // A session over a transport that is already logged in: takes the
    // capabilities from the login's answer, or asks for them.
    static Result<std::unique_ptr<Session>> start(std::unique_ptr<net::Transport> transport,
                                                  TraceOptions trace);
    ~Session() override;

    // Sends `command` (without tag and CRLF) and reads until its tagged
    // response, which is returned whatever its status: NO and BAD are the
    // caller's to judge. Untagged responses go to `on_untagged`; literals
    // may be claimed by `literals`. Transport or protocol failures end the
    // session (Scope::session).
    Result<Response> run(std::string_view command, const UntaggedHandler& on_untagged = {},
                         LiteralHandler* literals = nullptr);
    // Like run(), but a tagged NO or BAD becomes a Failure naming `what`.
    Result<Response> run_ok(std::string_view command, std::string_view what,
                            const UntaggedHandler& on_untagged = {},
                            LiteralHandler* literals = nullptr);

    // A command ending in a literal of `size` octets (APPEND): `prefix` is
    // the command up to the literal, `write` sends exactly `size` octets
    // through `send`. Uses LITERAL+ when offered, else waits for the
    // server's continuation. Returns the tagged response.
    using LiteralWriter =
        std::function<Status(const std::function<Status(std::string_view)>& send)>;
    Result<Response> run_literal(std::string_view prefix, std::uint64_t size,
                                 const LiteralWriter& write,
                                 const UntaggedHandler& on_untagged = {});

    // Pipelining (with LITERAL+ only): sends a literal command without
    // waiting for its answer and returns its tag; read_tagged() then reads
    // until the next tagged answer, whichever command it belongs to.
    Result<std::string> send_literal(std::string_view prefix, std::uint64_t size,
                                     const LiteralWriter& write);
    // The same in parts, for one command with several literals (MULTIAPPEND,
    // RFC 3502; LITERAL+ only): open_command sends the tag and `prefix`;
    // each add_literal sends `part`, then a literal; close_command ends the
    // command line. The answer is read with read_tagged().
    Result<std::string> open_command(std::string_view prefix);
    Status add_literal(std::string_view part, std::uint64_t size, const LiteralWriter& write);
    Status close_command();
    Result<Response> read_tagged(const UntaggedHandler& on_untagged = {},
                                 LiteralHandler* literals = nullptr);

    // Pipelining plain commands: sends `command` without waiting for its
    // answer and returns its tag; read_tagged() reads the answers. A
    // command with a literal that must wait for the server's "+" (see
    // waits_for_continuation) cannot be pipelined: run() it.
    Result<std::string> send(std::string_view command);
    // Commands given to run() and send() are written as on the wire: a
    // literal argument is "{n}" CRLF and its n octets (see literal_argument
    // in fetch.h). The session makes it non-synchronizing where the server
    // allows (LITERAL+, or LITERAL- for up to 4096 octets: RFC 7888), else
    // sends the octets once the server has answered "+" (RFC 3501 4.3).
    bool waits_for_continuation(std::string_view command) const;
    // A literal of this many octets may go without waiting for "+": always
    // with LITERAL+, up to 4096 octets with LITERAL- (RFC 7888, Gmail's).
    bool non_synchronizing(std::uint64_t literal_size) const;
    // ENABLE `extension` (RFC 5161) where the server offers it; true once
    // the server said it is enabled (an untagged ENABLED naming it).
    Result<bool> enable(std::string_view extension);
    bool enabled(std::string_view extension) const; // case-insensitive
    // What run_ok() makes of a tagged answer: OK passes, NO and BAD become a
    // Failure naming `what`.
    Status check_ok(const Response& tagged, std::string_view what) const;

    // After a read failed on a BYE: the server's next response, when it is
    // a tagged answer (see session.cpp), which names the command the server
    // refused as it hung up. Reads one response at most, once per BYE.
    std::optional<Response> answer_after_bye();

    bool has(std::string_view capability) const; // case-insensitive
    // Starts COMPRESS=DEFLATE where offered and not turned off; once per
    // session, before the bulk of its bytes (a folder's listing and bodies).
    Status compress();
    bool compressed() const { return m_compressed; } // COMPRESS=DEFLATE in use
    const std::set<std::string>& capabilities() const { return m_caps; }
    const net::Transport& connection() const { return *m_conn; }
    std::string host() const { return m_conn->endpoint().host; }

  private:
    explicit Session(std::unique_ptr<net::Transport> conn, TraceOptions trace);
    Result<std::size_t> read_some(char* buf, std::size_t len) override;
    Status refresh_capabilities();
    Status send_literal_body(std::uint64_t size, const LiteralWriter& write);
    // Reads responses until the tagged one for `tag` (or, when
    // `until_continuation`, a "+" continuation, returned as such).
    Result<Response> read_until(const std::string& tag, const UntaggedHandler& on_untagged,
                                LiteralHandler* literals, bool until_continuation);
    std::string next_tag() {
        std::string tag = std::to_string(m_next_tag++);
        return tag.insert(0, 1, 'M'); // not "M" + ...: g++ 12 -O3 warns falsely (-Wrestrict)
    }
    void trace(net::TraceKind kind, std::string_view line) const;
    Status queue(std::string_view line);
    Status flush();
    Status send_now(std::string_view bytes);
    static constexpr std::size_t k_queue_bytes = 16 * 1024; // a TLS record's most
    // Sends `tag command` CRLF, literals and all (see send()); returns the
    // tagged answer when the server refused the command before a literal's
    // octets, nullopt when the command went out whole.
    Result<std::optional<Response>> write_command(const std::string& tag, std::string_view command,
                                                  const UntaggedHandler& on_untagged);

    std::unique_ptr<net::Transport> m_conn;
    std::string m_out; // command lines not yet written (see queue())
    TraceOptions m_trace;
    ResponseReader m_reader;
    bool m_compressed = false, m_compress_asked = false;
    std::uint32_t m_next_tag = 1;
    std::set<std::string> m_caps;      // upper case
    std::set<std::string> m_enabled;   // upper case: what ENABLE turned on
    bool m_after_bye = false;          // a BYE was read; what follows it is unread
    net::TokenExpired m_token_expired; // see Endpoint::oauth2_token_expired
};

} // namespace mf::imap
