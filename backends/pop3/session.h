// A POP3 session (RFC 1939, 2449) over an authenticated connection. libcurl
// ran the greeting, STLS and login; the commands after that are ours, so a
// message can be read with TOP instead of RETR (RETR marks it read on
// servers that also speak IMAP) and commands can be pipelined. The session
// sees its connection only as a net::Transport, so tests run it over a
// scripted server (tests/unit/transcript.h).
#pragma once

#include "backends/net/connection.h"
#include "backends/net/transport.h"

#include <functional>
#include <memory>
#include <string>

namespace mf::pop3 {

class Session {
  public:
    // Connects and logs in (net::Connection), then start()s. Inline, so a
    // program that only ever start()s (the fuzz targets) needs no libcurl.
    static Result<std::unique_ptr<Session>> open(const net::Endpoint& endpoint,
                                                 net::TraceSink trace) {
        auto conn = net::Connection::open(endpoint, trace);
        if (!conn) return std::unexpected(conn.error());
        return start(std::move(*conn), std::move(trace));
    }
    // A session over a transport that is already logged in.
    static std::unique_ptr<Session> start(std::unique_ptr<net::Transport> transport,
                                          net::TraceSink trace);
    ~Session();

    // A single-line command; returns the text after "+OK". "-ERR" is a
    // Failure (Scope::message) carrying the server's text.
    Result<std::string> command(std::string_view line);
    // A multi-line command: `on_line` gets each line of the answer,
    // dot-unstuffed, without its CRLF. Lines longer than `max_line` fail.
    Status multiline(std::string_view line, const std::function<Status(std::string_view)>& on_line);

    // The pieces of the above, for pipelining (RFC 2449 PIPELINING): send
    // several commands, then read their answers in order.
    Status send(std::string_view line);
    Result<std::string> read_status();
    Status read_body(const std::function<Status(std::string_view)>& on_line);
    // QUIT: the server commits DELEs only now (RFC 1939 6).
    Status quit();
    std::string host() const { return m_conn->endpoint().host; }
    const net::Transport& connection() const { return *m_conn; }

  private:
    explicit Session(std::unique_ptr<net::Transport> conn, net::TraceSink trace);
    Result<std::string_view> read_line();

    std::unique_ptr<net::Transport> m_conn;
    net::TraceSink m_trace;
    std::string m_buffer;  // received, not yet consumed
    std::size_t m_pos = 0; // start of unconsumed data in m_buffer
    std::string m_line;
};

} // namespace mf::pop3
