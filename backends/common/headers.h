// A few header fields of a message, picked out while the message streams past
// (to a file or to a server), so nothing has to hold the whole message.
//
// The scanner reads the header block only: it stops at the first empty line
// and ignores everything fed after that. Line ends may be CRLF or LF. Memory
// is bounded: a field it keeps longer than k_max_field bytes is ignored as if
// it were absent (a hostile message cannot make it grow without limit).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace mf::mail {

class HeaderScanner {
  public:
    static constexpr std::size_t k_max_field = 16 * 1024;

    void feed(std::string_view chunk);
    // Call at the end of a message that may lack the empty line ending its
    // header block (a message that is all header): the last field counts then.
    void finish();
    // True once the header block has ended (or finish() was called).
    bool done() const { return m_state == State::done; }

    // The first Message-ID's "<...>", folding and whitespace removed; "" if
    // the field is absent or has no angle-bracketed id.
    std::string message_id() const { return m_message_id; }
    // The first Date field's value, unfolded and trimmed; "" if absent.
    std::string date() const { return m_date; }
    // The date part (after the last ';') of the first, i.e. the topmost and
    // latest, Received field, unfolded and trimmed; "" if absent.
    std::string received_first_date() const { return m_received_date; }
    // The first Subject field's value, unfolded and trimmed, as it stands
    // (RFC 2047 encoded words not decoded); "" if absent.
    std::string subject() const { return m_subject; }

  private:
    enum class State { line_start, cr_at_line_start, name, value, skip_line, done };
    enum class Field { none, message_id, date, received, subject };

    void on_line_start(char c);
    void on_name(char c);
    void on_value(char c);
    void begin_field();
    void commit_field();

    State m_state = State::line_start;
    Field m_field = Field::none; // the field being collected, if wanted
    std::string m_name;
    std::string m_value;
    std::string m_message_id, m_date, m_received_date, m_subject;
    bool m_have_message_id = false, m_have_date = false, m_have_received = false,
         m_have_subject = false;
};

// An RFC 5322 date-time to seconds since the epoch (UTC). Accepts the
// obsolete syntax too: optional weekday, comments and folding anywhere,
// 2- and 3-digit years, zone names (UT, GMT, EST ... PDT, military letters;
// unknown names count as UTC, as RFC 5322 section 4.3 asks), a missing zone
// or seconds, and the ctime order ("Thu Jan  1 00:00:00 1970") that broken
// mailers and mbox From_ lines use. nullopt when it is not a date.
std::optional<std::int64_t> parse_rfc5322_date(std::string_view text);

} // namespace mf::mail
