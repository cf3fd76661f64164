// Message flags as the engine sees them: the five system flags IMAP defines
// (minus \Recent, which belongs to a session, not to a message) and keywords.
// How a backend spells them (IMAP atoms, Maildir letters) is its own business.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace mf {

enum Flag : std::uint8_t {
    flag_seen = 1,
    flag_answered = 2,
    flag_flagged = 4,
    flag_deleted = 8,
    flag_draft = 16,
};

struct Flags {
    std::uint8_t system = 0;
    std::vector<std::string> keywords; // sorted, unique

    bool has(Flag f) const { return (system & f) != 0; }
    friend bool operator==(const Flags&, const Flags&) = default;
};

// Sorts and de-duplicates keywords so that equal flag sets compare equal.
void normalize(Flags& flags);

} // namespace mf
