// Modified UTF-7, the encoding of IMAP mailbox names (RFC 3501 §5.1.3).
// Servers send names this way unless UTF8=ACCEPT is enabled; LIST results
// are decoded for people and file names, and names are encoded again for
// SELECT, CREATE and APPEND.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace mf::imap {

// Decodes to UTF-8. Strict, because a name that decodes must encode back to
// the same bytes (the server knows the mailbox only by those): nullopt for
// bytes outside printable ASCII, an unterminated "&", bad or padded base64,
// non-zero leftover bits, printable ASCII inside base64, an empty or null
// shift ("&AGE-&AGI-"), and unpaired surrogates.
std::optional<std::string> decode_mutf7(std::string_view mutf7);

// Encodes UTF-8. Invalid UTF-8 bytes (stray continuation bytes, overlong
// forms, encoded surrogates, values past U+10FFFF) become U+FFFD, one per byte.
std::string encode_mutf7(std::string_view utf8);

// True when `text` is well-formed UTF-8 (RFC 3629), as names are once
// UTF8=ACCEPT is enabled (RFC 6855): no overlong forms, no surrogates.
bool valid_utf8(std::string_view text);

} // namespace mf::imap
