// The mboxrd format, as a streaming encoder and decoder: a message passes
// through in chunks of any size, so a large one never sits in memory.
//
// An mboxrd file is a sequence of
//     From <sender> <asctime date, UTC>\n
//     <message, LF line ends, every line matching ^>*From  quoted with one more '>'>\n
//     \n                                        (the separator blank line)
// Quoting every ">*From " line (not just "From ") is what makes mboxrd
// reversible where mboxo is not.
//
// Inherent limits, reported so the caller can record them (mailferry keeps an
// index beside each mbox with the server's size):
//   - bare LF or bare CR in a message cannot survive CRLF -> LF -> CRLF;
//   - a message that does not end with a line break gains one: the decoded
//     copy is then 2 octets longer than Encoder::crlf_octets() said, and the
//     caller cuts it back to that size.
// For every other message M (CRLF line ends, ending in CRLF or empty),
// decoding the encoding gives M back byte for byte.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

namespace mf::mbox {

using Sink = std::function<void(std::string_view)>;

// "From MAILER-DAEMON Thu Jan  1 00:00:00 1970\n". The date is clamped to
// the years 1900-9999; a sender that is empty or holds white space or control
// characters (it is one field of the line) has those replaced by '_'.
std::string from_line(std::int64_t internal_date_epoch,
                      std::string_view envelope_sender = "MAILER-DAEMON");

// The date of a From_ line (with or without its line end), in the forms other
// tools write too: a sender with spaces, a numeric zone before or after the
// year. nullopt if the line is not a From_ line.
std::optional<std::int64_t> parse_from_line(std::string_view line);

// Encodes one message. The caller writes from_line() first, feeds the message
// as the server sends it (CRLF), then calls finish() once. Output is appended
// to the caller's string, which the caller empties when it likes: no buffer
// of the encoder's own, and no copy of every byte from one to the other.
class Encoder {
  public:
    explicit Encoder(std::string& out) : m_out(out) {}

    void feed(std::string_view chunk);
    // Ends the message with a line break if it lacks one, and writes the
    // separator blank line.
    void finish();

    std::uint64_t crlf_octets() const { return m_octets_in; }    // as fed
    std::uint64_t bytes_written() const { return m_octets_out; } // incl. separator
    bool saw_bare_lf() const { return m_bare_lf; }
    bool saw_bare_cr() const { return m_bare_cr; }
    bool added_final_newline() const { return m_added_newline; }
    // True when decoding gives back exactly what was fed.
    bool reversible() const { return !m_bare_lf && !m_bare_cr && !m_added_newline; }

  private:
    void put(char c);
    void put(std::string_view s);
    void flush_prefix();
    void on_byte(char c);
    void end_line();

    std::string& m_out;
    // Still at the start of a line that may be ">*From ", and how much of
    // "From " has been seen (and held back) so far.
    bool m_line_start = true;
    std::size_t m_from_matched = 0;
    bool m_pending_cr = false;
    char m_last = '\n';
    std::uint64_t m_octets_in = 0, m_octets_out = 0;
    bool m_bare_lf = false, m_bare_cr = false, m_added_newline = false;
    bool m_finished = false;
};

// Splits an mbox file into messages and decodes each: a line starting with
// "From " that parses as a From_ line starts a message (a "From " line that
// does not is body text from a writer that did not quote it); one '>' is
// removed from "^>+From " lines; LF becomes CRLF (a CRLF already in the file
// stays CRLF); the blank line before the next From_ line (or the end) is
// dropped. Bytes before the first From_ line are skipped and counted.
class Decoder {
  public:
    struct Handler {
        std::function<void(std::string_view from_line)> on_from; // without line end
        Sink on_body;                                            // the message, in chunks
        std::function<void()> on_end;                            // after the last body chunk
    };

    explicit Decoder(Handler handler) : m_handler(std::move(handler)) {}

    void feed(std::string_view chunk);
    void finish(); // at the end of the file

    std::uint64_t messages() const { return m_messages; }
    std::uint64_t skipped_bytes() const { return m_skipped; }

    // From_ lines longer than this are taken as body text.
    static constexpr std::size_t k_max_from_line = 1000;

  private:
    enum class Mode { line_start, from_line, body };

    void on_byte(char c);
    void on_content(char c);
    void on_line_start(char c);
    void on_from_line(char c);
    void on_body(char c);
    void line_end();
    void begin_body_line();
    void flush_prefix();
    void end_from_line();
    void emit(std::string_view s);
    void emit(char c);
    void drain();
    void end_message();

    Handler m_handler;
    std::string m_out;
    Mode m_mode = Mode::line_start;
    bool m_quote_held = false; // a '>' at the start of the line, held back
    std::size_t m_from_matched = 0;
    std::string m_from; // a From_ line being read (bounded)
    bool m_pending_cr = false;
    bool m_blank_pending = false; // a blank line that may be the separator
    bool m_in_message = false;
    bool m_finished = false;
    std::uint64_t m_messages = 0, m_skipped = 0;
};

} // namespace mf::mbox
