// Ids (IMAP UIDs, POP3 UIDLs, keywords) spelled so that they are safe in a
// file name and in a space-separated index line. Both formats write them:
// Maildir in its file names (U=), mbox in its index; one spelling, so an id
// reads back the same from either.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace mf::mail {

// Makes an id safe in a file name: '%', '/', ':', ',', '!' (the Maildir
// "!2," separator) and every byte outside 0x21-0x7E become %XX (upper-case
// hex).
std::string escape_id(std::string_view id);
// The inverse; nullopt unless `escaped` is exactly what escape_id produces.
std::optional<std::string> unescape_id(std::string_view escaped);

} // namespace mf::mail
