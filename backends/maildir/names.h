// Maildir file names, as mailferry writes and reads them.
//
//   <seconds>.M<micros>P<pid>Q<counter>.mailferry,U=<id>,W=<crlf-size>:2,<flags>
//   `------------------ unique part (stays the same) -----------------'`- info -'
//
//   <seconds>.M<micros>P<pid>Q<counter>  the usual Maildir uniqueness (time,
//                     process, a per-process counter); "mailferry" stands
//                     where other writers put the host name
//   U=<id>            the source's message id (IMAP UID "123", POP3 UIDL),
//                     escaped by escape_id: the archive describes itself,
//                     so a lost state database is rebuilt by a scan.
//                     An id whose escaped spelling is longer than
//                     k_max_spelled_id is written as its digest instead,
//                     "U=%sha256-<64 hex>" (see id_field); the full id is
//                     then only in the state database
//   W=<crlf-size>     the message size with CRLF line ends, as the server
//                     counts it (Dovecot's W= has the same meaning)
//   :2,<flags>        info: flag letters in ASCII order. D draft, F flagged,
//                     R answered (replied), S seen, T deleted (trashed);
//                     a-z are keywords, numbered by the folder's
//                     "dovecot-keywords" file ("0 keyword" .. "25 keyword")
//
// Some tools write "!2," instead of ":2," on file systems without ':'; both
// are read, and with_flags keeps whichever a name already uses. A file
// without info (as in new/) is read with empty flags. Files not written by
// mailferry are read too: without U= their id is unknown (nullopt).
//
// Nothing here touches the file system.
#pragma once

#include "backends/common/id_escape.h"
#include "sync/flags.h"

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace mf::maildir {

struct MaildirName {
    std::string unique;                     // the part before ":2," / "!2,"
    std::optional<std::string> id;          // from U=, unescaped
    std::optional<std::string> id_digest;   // from "U=%sha256-<hex>": id_digest_of(id), id unknown
    std::optional<std::uint64_t> crlf_size; // from W=
    std::string info_flags;                 // the letters after ":2,", as found
};

// The longest escaped id written into a name as such. Everything else in a
// name mailferry writes takes at most 131 bytes: seconds (10-11 digits),
// ".M" + 6, "P" + 7 (Linux pid_max), "Q" + 20, ".mailferry", ",U=",
// ",W=" + 20, ",V=" + 10, ":2," and 31 flag letters (5 system + 26
// keywords). 131 + 100 leaves room under NAME_MAX (255) on every file system
// Maildir is used on. The bound depends on the id alone, never on the rest
// of the name: flags added later (with_flags) must not push a name over, and
// one id must always get the same spelling.
inline constexpr std::size_t k_max_spelled_id = 100;
inline constexpr std::string_view k_digest_marker = "%sha256-";

// The value of the U= field for `id`: escape_id(id) when that is at most
// k_max_spelled_id bytes, else k_digest_marker + id_digest_of(id) (72 bytes).
// RFC 1939 allows 70-character UIDLs of 0x21-0x7E, which escape to up to
// 210 bytes, and servers send longer ones. The marker cannot be confused
// with an escaped id: escape_id never writes '%' before anything but two
// upper-case hex digits.
std::string id_field(std::string_view id);
// SHA-256 of the id's bytes, 64 lower-case hex digits.
std::string id_digest_of(std::string_view id);

// The unique part of a new message file's name (no info), with the id as
// id_field() writes it: the name stays under NAME_MAX whatever the id.
std::string make_bounded_unique_part(std::int64_t seconds, std::int64_t micros, int pid,
                                     std::uint64_t counter, std::string_view id,
                                     std::uint64_t crlf_size);

// nullopt for names that cannot be a message file: empty, containing '/' or
// NUL, or hidden (starting with '.'). Unknown ",X=" fields are ignored; a
// malformed U= or W= leaves that field nullopt rather than rejecting the file.
// A U= digest sets id_digest (64 lower-case hex digits, else malformed), not id;
// an escaped id is accepted at any length (archives written before the bound).
std::optional<MaildirName> parse_name(std::string_view file_name);

// The U= field's spelling of an id (shared with the mbox index).
using mail::escape_id;
using mail::unescape_id;

// A folder's keyword letters, in Dovecot's dovecot-keywords format. Letter
// 'a' + n stands for the keyword on line "n keyword". Only 26 fit.
class KeywordTable {
  public:
    static constexpr std::size_t k_max_keywords = 26;

    // Replaces the table with the file's contents. Malformed lines, numbers
    // above 25, invalid keywords and repeats are ignored, never fatal.
    void parse(std::string_view dovecot_keywords_file_contents);
    std::string serialize() const;

    // The letter of `keyword`; when it has none and `allocate` is set, the
    // lowest free letter is given to it. nullopt when the table is full or the
    // keyword is not a valid IMAP atom (it could not be written to the file).
    std::optional<char> letter_for(const std::string& keyword, bool allocate);
    std::optional<std::string> keyword_for(char letter) const;

    // True once letter_for allocated a letter since the last parse(): the
    // keywords file must then be written before any name that uses it.
    bool modified() const { return m_modified; }

  private:
    std::array<std::string, k_max_keywords> m_keywords; // "" = free
    bool m_modified = false;
};

// The info letters for `flags`, allocating keyword letters as needed.
// Keywords that get no letter (table full, invalid) are left out of the name
// and appended to `*dropped` when given, so the caller can keep them elsewhere.
std::string flags_to_info(const mf::Flags& flags, KeywordTable& table,
                          std::vector<std::string>* dropped = nullptr);

// The flags the info letters stand for. Unknown letters (P passed, keyword
// letters missing from the table) are ignored. The result is normalized.
mf::Flags info_to_flags(std::string_view letters, const KeywordTable& table);

// `file_name` with its info replaced by ":2,<info_flags>" (or "!2," if the
// name already used that). Letters are sorted and de-duplicated; anything
// that is not an ASCII letter is dropped, so the result is always a safe name.
std::string with_flags(std::string_view file_name, std::string_view info_flags);

} // namespace mf::maildir
