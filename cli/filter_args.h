// --since, --before and --max-size: the command line's words for the
// engine's MessageFilter (sync/filter.h), shared by every command that moves
// mail and by job files.
#pragma once

#include "sync/filter.h"
#include "sync/result.h"

#include <cstdint>
#include <optional>
#include <string>

namespace mf::cli {

struct FilterArgs {
    std::string since, before, max_size; // as given; "" = not given
};

// YYYY-MM-DD (midnight UTC), or YYYY-MM-DDTHH:MM[:SS] followed by Z or an
// offset (+HH:MM, -HH:MM): seconds since the epoch. nullopt if neither.
std::optional<std::int64_t> parse_filter_date(const std::string& text);
// A number of bytes with an optional K, M or G (1024, 1024², 1024³).
std::optional<std::uint64_t> parse_size(const std::string& text);
// The filter, or a usage failure naming the option at fault.
Result<MessageFilter> make_filter(const FilterArgs& args);
// The filters given, as the user wrote them: "--since 2026-01-01 --max-size 10M".
std::string describe(const FilterArgs& args);

} // namespace mf::cli
