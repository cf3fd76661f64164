#include "cli/shard.h"

#include <charconv>

namespace mf::cli {

namespace {

std::optional<std::uint64_t> number(std::string_view text) {
    std::uint64_t value = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (text.empty() || ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
    return value;
}

} // namespace

std::optional<Shard> parse_shard(std::string_view text) {
    auto slash = text.find('/');
    if (slash == std::string_view::npos) return std::nullopt;
    auto index = number(text.substr(0, slash));
    auto count = number(text.substr(slash + 1));
    if (!index || !count || *count == 0 || *index >= *count) return std::nullopt;
    return Shard{*index, *count};
}

bool in_shard(std::string_view job_name, const Shard& shard) {
    return fnv1a64(job_name) % shard.count == shard.index;
}

} // namespace mf::cli
