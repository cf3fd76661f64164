// Text for people: server-supplied strings are escaped before they reach a
// terminal (a hostile server must not be able to move the cursor or retitle
// the window), and the protocol trace for --debug.
#pragma once

#include "backends/net/trace.h"

#include <string>
#include <string_view>

namespace mf::cli {

// Control characters (and DEL) as \xHH; valid UTF-8 passes through.
std::string printable(std::string_view text);

// A trace sink that writes "C: ...", "S: ...", "* ..." lines to stderr.
net::TraceSink stderr_trace(std::string prefix);

std::string human_bytes(std::uint64_t bytes);

// `text` padded with spaces to `width` characters (UTF-8 aware), so folder
// names line up whatever their script.
std::string pad_to(std::string text, std::size_t width);

} // namespace mf::cli
