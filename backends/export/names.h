// The names an export gives its files and folders: pure functions, so that
// what a hostile folder name or subject can make of a path is unit-tested.
//
// Every name returned is one path component: never empty, never "." or
// "..", no '/', no NUL, no control character, at most a bounded number of
// bytes, and never cut inside a UTF-8 sequence.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace mf::exporting {

// Longest folder component and subject part of a name, in bytes: well
// inside the 255 bytes a file name may have on Linux file systems.
inline constexpr std::size_t k_max_component = 100;
inline constexpr std::size_t k_max_subject = 60;

// A folder name component as a directory name: '/', NUL and control
// characters become '_'; a leading '.' gets a '_' before it (no "..", no
// hidden folders); "" becomes "_"; cut to k_max_component bytes.
std::string folder_component(std::string_view name);

// The words of a subject for a file name: runs of ASCII letters and digits
// and of UTF-8 letters outside the ASCII range, joined by '-'; everything
// else (punctuation, white space, control characters, invalid UTF-8, the
// format characters U+2000-U+206F that could reorder what a reader sees)
// separates words. At most k_max_subject bytes; "" if no word is left.
std::string subject_words(std::string_view subject);

// "2024-03-05_1412" (UTC) for seconds since the epoch; "undated" for 0.
std::string date_stamp(std::int64_t epoch);

// "<date>_<subject words>_<short id>.eml", or without the subject part
// when it has no words. The short id (hex, from `id`) tells messages with
// the same minute and subject apart.
std::string eml_name(std::int64_t epoch, std::string_view subject, std::string_view id);

// `name` with "~N" put before its extension (".eml", ".mbox") or at the
// end, for the Nth name that would otherwise repeat one already used.
std::string numbered(std::string_view name, std::size_t n);

} // namespace mf::exporting
