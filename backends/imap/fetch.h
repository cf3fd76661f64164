// Pure helpers around FETCH, STORE and APPEND: reading a parsed FETCH
// response, and spelling flags, dates and strings for commands (UID sets:
// uid_set.h).
#pragma once

#include "backends/imap/response.h"
#include "sync/flags.h"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace mf::imap {

struct FetchData {
    std::uint32_t seq = 0;
    std::optional<std::uint32_t> uid;
    std::optional<mf::Flags> flags;
    bool recent = false;                       // \Recent was among FLAGS
    std::optional<std::uint64_t> size;         // RFC822.SIZE
    std::optional<std::int64_t> internal_date; // epoch seconds
    std::optional<std::string> header;         // BODY[HEADER.FIELDS (...)] or BODY[HEADER]
    bool body_streamed = false;                // a literal went to the LiteralHandler
    std::optional<std::uint64_t> modseq;       // MODSEQ (n), RFC 7162
    // Gmail's (https://developers.google.com/gmail/imap/imap-extensions):
    // X-GM-MSGID, the message's id across folders; X-GM-LABELS, its labels
    // as sent (atoms such as \\Inbox, or strings).
    std::optional<std::uint64_t> gm_msgid;
    std::optional<std::vector<std::string>> gm_labels;
};

// "* n FETCH (name value ...)". nullopt when the response is not a FETCH or
// its shape is wrong (odd item count, UID not a number). Items not listed in
// FetchData are skipped. An INTERNALDATE that cannot be parsed leaves
// internal_date empty rather than losing the whole message.
std::optional<FetchData> parse_fetch(const Response& response);

// \Seen \Answered \Flagged \Deleted \Draft (any case) become bits; \Recent
// and other system flags are dropped; keywords are kept as sent. Normalized.
mf::Flags flags_from_list(const Value& list);

// "\Seen \Flagged kw1", no parentheses. Keywords that are not valid IMAP
// atoms are left out: they could not be stored, and sending them as they
// are would let an archive's contents inject into the command.
std::string flags_to_imap(const mf::Flags& flags);

// "17-Jul-1996 02:44:25 +0000" (" 7-Jul-..." for single-digit days, as
// date-day-fixed requires). Times outside years 1..9999 are clamped.
std::string format_internal_date(std::int64_t epoch);

// Accepts "17-Jul-1996 02:44:25 -0700", " 7-Jul-1996 ..." and "7-Jul-1996 ...".
std::optional<std::int64_t> parse_internal_date(std::string_view text);

// True when `text` cannot travel as a quoted string (CR, LF, NUL or 8-bit
// bytes): send it as a literal instead.
bool needs_literal(std::string_view text);

// "\"text\"" with \ and " escaped.
std::string quote_string(std::string_view text);

// `text` as a literal in a command: "{n}" CRLF and the n octets (RFC 3501
// 4.3). Session makes it non-synchronizing where the server allows.
std::string literal_argument(std::string_view text);

} // namespace mf::imap
