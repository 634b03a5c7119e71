#pragma once
// Suggestions for misspelt words of the experiment file (keys, orders, environment types): the
// allowed word nearest by edit distance, when it is near enough to be what was meant.

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace joulebench {

/// Levenshtein distance: the fewest single-character insertions, deletions and substitutions
/// that turn `a` into `b`.
[[nodiscard]] std::size_t edit_distance(std::string_view a, std::string_view b);

/// The word of `allowed` closest to `word`, within a third of `word`'s length (at least 1, at
/// most 3 edits); the first of equally close ones; nullopt when none is that close.
[[nodiscard]] std::optional<std::string_view> closest_word(
    std::string_view word, const std::vector<std::string_view>& allowed);

/// `hint`, preceded by "did you mean 'X'? " when X of `allowed` is closest to `word`.
[[nodiscard]] std::string did_you_mean(std::string_view word,
                                       const std::vector<std::string_view>& allowed,
                                       std::string hint);

}  // namespace joulebench
