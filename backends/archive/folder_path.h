// Mapping a folder's path, as a server names it, to a relative path below an
// archive root. Folder names come from the server and may be hostile: "..",
// "../../etc", "/abs", names with NUL, control bytes or invalid UTF-8. Every
// component is escaped so that, whatever the server sends, the result stays
// below the root and cannot collide with the archive's own files.
//
// Escaping (reversible; '%' plus two upper-case hex digits, like URLs):
//   - '%' itself, '/', '\', bytes below 0x20 and 0x7F (NUL, CR, LF, ...)
//   - every byte that is not part of a valid UTF-8 sequence
//   - a leading '.', so ".", "..", ".mailferry" and hidden names cannot occur
//   - the first letter of "cur", "new", "tmp" in any case ("%63ur"): those
//     are a Maildir's own subdirectories
//   - the empty name is spelled "%", which no other name escapes to
//
// Long names: a component whose escaped form is longer than k_max_component
// bytes is cut at a character (and escape) boundary and given the suffix
// "%~" + 16 lower-case hex digits of the FNV-1a-64 hash of the full name, so
// distinct long names stay distinct and stay within NAME_MAX. This spelling
// is NOT reversible (unescape_component returns nullopt for it): the original
// name has to be kept elsewhere (the state database). "%~" is not a valid
// escape, so no short name can ever be spelled like a shortened long one.
// Names of up to k_max_component / 3 bytes are always reversible, and so is
// any name of up to k_max_component bytes that needs no escaping.
//
// Not handled: case-insensitive or normalising file systems (macOS, Windows)
// may still fold "INBOX"/"Inbox" or NFC/NFD spellings together; the
// archive is meant for case-sensitive POSIX file systems.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace mf::archive {

// Escaped components are at most this many bytes long (NAME_MAX is 255).
inline constexpr std::size_t k_max_component = 200;

// Escapes one path component. Never returns "", "." or "..", never a string
// containing '/', '\' or NUL.
std::string safe_component(std::string_view name);

// The inverse of safe_component. nullopt when `escaped` is not something
// safe_component produces (malformed or non-canonical escapes, shortened
// long names), so two different spellings never map to the same folder.
std::optional<std::string> unescape_component(std::string_view escaped);

// The folder's name spelled in full: the components escaped as
// safe_component does but never shortened, joined with '/'. Not a path (a
// component may exceed NAME_MAX): the state database keeps it for the
// folders whose directory has a shortened name.
std::string full_folder_path(const std::vector<std::string>& components);
// The inverse of full_folder_path; nullopt for anything it never produces.
std::optional<std::vector<std::string>> parse_full_folder_path(std::string_view full);

// The folder a relative path names, component by component. A shortened
// component cannot be unescaped: it is kept as spelled ("...%~" + hash) and
// `*lost` is set, as the folder's full name is not in the path.
std::vector<std::string> folder_name_of(std::string_view rel, bool* lost = nullptr);

// Joins the escaped components with '/'. The result is relative (never starts
// with '/') and has no empty, "." or ".." component. An empty vector gives ""
// (the root itself): whether that is acceptable is the caller's decision.
std::string relative_folder_path(const std::vector<std::string>& components);

} // namespace mf::archive
