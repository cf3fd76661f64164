// "Did you mean …?": the known word nearest to a mistyped command or option.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace mf::cli {

// Edits (insert, delete, replace, swap two neighbours) between a and b: the
// optimal string alignment distance, so that "bakcup" is one swap away.
std::size_t edit_distance(std::string_view a, std::string_view b);

// The candidate nearest to `word`, if near enough to be a typo rather than
// another word: at most a third of the word's length in edits (at least 1).
// Ties go to the candidate listed first.
std::optional<std::string> closest(std::string_view word, const std::vector<std::string>& known);

} // namespace mf::cli
