// IMAP server responses in parsed form (RFC 3501 §7, RFC 9051 §7), and small
// pure helpers to read values out of them. ResponseReader (reader.h) produces
// these; the protocol driver and fetch.h interpret them.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace mf::imap {

// One token of a response: an atom, a string (quoted or literal), NIL, a
// parenthesised list, or a literal whose bytes went to a LiteralHandler.
struct Value {
    enum class Type { atom, string, nil, list, streamed };
    Type type = Type::atom;
    std::string text;                // atom text, or string contents (unescaped)
    std::vector<Value> items;        // for list
    std::uint64_t streamed_size = 0; // for a literal handed to a LiteralHandler

    friend bool operator==(const Value&, const Value&) = default;
};

struct Response {
    enum class Kind { tagged, untagged, continuation };
    Kind kind = Kind::untagged;
    std::string tag;         // tagged only
    std::string status;      // "OK", "NO", "BAD", "PREAUTH", "BYE" (upper case), or ""
    std::vector<Value> code; // tokens inside [..] of a status response, e.g. {UIDVALIDITY, 123}
    std::string text;        // human text of a status response or continuation, raw
    // Every token after "*" of a non-status untagged response:
    // "* 3 FETCH (...)" -> [3, FETCH, (...)]; "* CAPABILITY A B" -> [CAPABILITY, A, B].
    std::vector<Value> items;

    friend bool operator==(const Response&, const Response&) = default;
};

// Digits only, overflow-checked; nullopt for anything else (signs, spaces,
// strings, NIL, lists).
std::optional<std::uint32_t> to_u32(const Value& value);
std::optional<std::uint64_t> to_u64(const Value& value);

// True when `value` is an atom equal to `upper_case_name`, ignoring case.
bool is_atom(const Value& value, std::string_view upper_case_name);

// The text of an atom or string; nullopt for NIL, lists and streamed literals.
std::optional<std::string> as_string(const Value& value);

// ASCII-only case-insensitive comparison; IMAP keywords and atoms are ASCII.
bool iequals(std::string_view a, std::string_view b);

// One-line rendering for traces and test failure messages, e.g.
// `* [3 FETCH (UID 7 BODY[] {streamed 120})]`. Control and 8-bit bytes in
// strings are shown as \xNN so a trace never carries raw binary.
std::string describe(const Value& value);
std::string describe(const Response& response);

} // namespace mf::imap
