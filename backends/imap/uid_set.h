// UIDs and UID sets (RFC 3501 9, sequence-set): reading the ids a source
// hands out, writing the sets commands carry, and reading the sets servers
// send back (APPENDUID, ESEARCH). Pure: no session, no I/O.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace mf::imap {

// The longest UID set put in one command: keeps command lines well under
// server limits. A longer list of UIDs becomes several commands.
inline constexpr std::size_t k_max_uid_set_chars = 4000;

// A UID in decimal, nothing else around it; nullopt for 0 (no UID), a sign,
// spaces, or more than 32 bits.
std::optional<std::uint32_t> parse_uid(std::string_view text);

// The UIDs of message ids, in their order; ids that are not a UID are left out.
std::vector<std::uint32_t> to_uids(std::span<const std::string> ids);

// UID sets of at most `max_chars` each, covering `uids` (sorted or not),
// sorted, de-duplicated and compressed: {9,1,2,3,5} -> "1:3,5,9".
std::vector<std::string> uid_sets(std::vector<std::uint32_t> uids, std::size_t max_chars);

// "1:3,7" -> 1 2 3 7, in order (RFC 4315 gives a MULTIAPPEND's UIDs in the
// order of its messages; a range may be written high:low). Empty if
// malformed or naming more than `limit` UIDs.
std::vector<std::uint32_t> expand_uid_set(std::string_view set, std::size_t limit);

// "7,1:3,2" -> [1,3] [7,7]: the UIDs a set names, as sorted ranges with
// overlaps merged (a UID apiece would grow with the folder; its ESEARCH set
// is usually one range). Empty if malformed or naming more than `limit` UIDs.
std::vector<std::pair<std::uint32_t, std::uint32_t>> uid_ranges(std::string_view set,
                                                                std::size_t limit);

} // namespace mf::imap
