#include "model/did_you_mean.hpp"

#include <fmt/core.h>

#include <algorithm>

namespace joulebench {

std::size_t edit_distance(std::string_view a, std::string_view b) {
    std::vector<std::size_t> prev(b.size() + 1);
    std::vector<std::size_t> cur(b.size() + 1);
    for (std::size_t j = 0; j <= b.size(); ++j) prev[j] = j;
    for (std::size_t i = 1; i <= a.size(); ++i) {
        cur[0] = i;
        for (std::size_t j = 1; j <= b.size(); ++j) {
            const std::size_t subst = prev[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1);
            cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, subst});
        }
        std::swap(prev, cur);
    }
    return prev[b.size()];
}

std::optional<std::string_view> closest_word(std::string_view word,
                                             const std::vector<std::string_view>& allowed) {
    std::optional<std::string_view> best;
    std::size_t best_distance = std::max<std::size_t>(1, std::min<std::size_t>(3, word.size() / 3));
    for (const auto candidate : allowed) {
        const std::size_t d = edit_distance(word, candidate);
        if (d <= best_distance && (!best || d < edit_distance(word, *best))) {
            best = candidate;
            best_distance = d;
        }
    }
    return best;
}

std::string did_you_mean(std::string_view word, const std::vector<std::string_view>& allowed,
                         std::string hint) {
    if (const auto suggestion = closest_word(word, allowed)) {
        return fmt::format("did you mean '{}'? ", *suggestion) + hint;
    }
    return hint;
}

}  // namespace joulebench
