// A scripted server for protocol tests, curl-style: a transcript file says
// what the server sends and exactly what the client must send, and a
// net::Transport plays the server's side of it under imap::Session or
// pop3::Session. Transcripts live in tests/transcripts/<protocol>/*.txt.
//
// Format, one step a line (CRLF is added to every S:, C: and L: line):
//
//   # a comment; blank lines are ignored too
//   login: <line>  a line of the server's answer to the login, which libcurl
//                  ran before the transcript starts (Transport::login_reply)
//   S: <text>      the server sends <text>
//   C: <text>      the client must send exactly <text>
//   L: <text>      a line of a literal: an S: line ending in {*} announces
//                  the L: lines right below it, {*} becoming {<their size>};
//                  the next S: line goes on after the literal
//
// ${NAME} in a C: line matches any run of non-space characters and names it
// (a tag: "C: ${list} LIST ..."); afterwards, and in S: lines, ${NAME}
// stands for what it matched ("S: ${list} OK done"). Literal tags work too.
//
// The transcript is a timeline. Server lines before a client line are sent
// before it, whether or not the client has read them yet (as on a socket),
// so a client may pipeline. A client that waits for the server where the
// transcript has it speak first, sends something else, or sends past the
// end fails the transcript (the first mismatch, naming its line, is kept);
// the transport then fails every call (Scope::session). When the server's
// lines run out, reads fail as a closed connection.
#pragma once

#include "backends/net/transport.h"

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace mf::test {

class Transcript : public std::enable_shared_from_this<Transcript> {
  public:
    // Parses `text`; `name` is what messages call it. A malformed line
    // throws std::runtime_error naming it.
    static std::shared_ptr<Transcript> parse(std::string_view text, std::string name);
    // Loads tests/transcripts/<relative> (e.g. "imap/condstore_delta.txt").
    static std::shared_ptr<Transcript> load(const std::string& relative);

    // A transport that plays this transcript from its start, handing the
    // client at most `max_read` bytes a read. It shares the transcript, so
    // either may outlive the other.
    std::unique_ptr<net::Transport> transport(std::size_t max_read = SIZE_MAX,
                                              std::string host = "server.test");

    // "" when the client sent exactly the transcript's lines and read all
    // the server's; else the first mismatch, or what was left unplayed.
    std::string verdict() const;
    // The first mismatch so far, "" if none.
    const std::string& error() const { return m_error; }
    // Every line the client sent, in order (without CRLF).
    const std::vector<std::string>& client_lines() const { return m_client_lines; }

  private:
    friend class ScriptedTransport;
    struct Step {
        bool from_server = true;
        std::size_t line = 0; // in the file, from 1
        std::string text;     // with ${NAME}; without CRLF
        std::string literal;  // from_server: raw bytes after text CRLF ({*} lines)
    };

    Transcript() = default;
    void reset();
    std::string where(const Step& step) const;
    std::string render(const Step& step);
    bool match(const Step& step, std::string_view line);
    void mismatch(std::string what);
    // Moves server steps up to the next client step into the bytes in flight.
    void send_server_steps();
    Status take_client_line(std::string_view line);
    Status on_send(std::string_view data);
    Result<std::size_t> on_read(char* buf, std::size_t len, std::size_t max_read);
    std::unexpected<Failure> failure() const;

    std::string m_name;
    std::vector<Step> m_steps;
    std::vector<std::string> m_login_reply;
    // Playing state.
    std::size_t m_next = 0;  // the next step
    std::string m_in_flight; // server bytes sent, not yet read
    std::size_t m_read = 0;  // of m_in_flight
    std::string m_partial;   // client bytes without their CRLF yet
    std::map<std::string, std::string, std::less<>> m_vars;
    std::string m_error;
    std::vector<std::string> m_client_lines;
};

} // namespace mf::test
