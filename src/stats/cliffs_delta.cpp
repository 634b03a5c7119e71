// Cliff's delta: Cliff (1993), "Dominance statistics: ordinal analyses to answer ordinal
// questions", Psychological Bulletin 114(3), 494-509: d = (#(a > b) - #(a < b)) / (n_a n_b).
// Magnitude thresholds from Romano, Kromrey, Coraggio & Skowronek (2006), "Appropriate statistics
// for ordinal level data", annual meeting of the Florida Association of Institutional Research.
// Counted by sorting b and binary search: O((n_a + n_b) log n_b) instead of n_a n_b comparisons.

#include <algorithm>
#include <cmath>
#include <vector>

#include "common.hpp"
#include "joulebench/stats.hpp"

namespace joulebench::stats {

std::string_view to_string(Magnitude magnitude) {
    switch (magnitude) {
        case Magnitude::kNegligible:
            return "negligible";
        case Magnitude::kSmall:
            return "small";
        case Magnitude::kMedium:
            return "medium";
        case Magnitude::kLarge:
            return "large";
    }
    return "negligible";
}

Magnitude cliffs_magnitude(double delta) {
    const double d = std::fabs(delta);
    if (d < 0.147) return Magnitude::kNegligible;
    if (d < 0.33) return Magnitude::kSmall;
    if (d < 0.474) return Magnitude::kMedium;
    return Magnitude::kLarge;
}

double cliffs_delta(std::span<const double> a, std::span<const double> b) {
    detail::require_finite_nonempty(a, "cliff's delta");
    detail::require_finite_nonempty(b, "cliff's delta");
    std::vector<double> sorted_b(b.begin(), b.end());
    std::sort(sorted_b.begin(), sorted_b.end());
    // Integer counts keep the numerator exact; n_a n_b < 2^63 for any sample that fits in memory.
    long long greater = 0;
    long long less = 0;
    for (const double x : a) {
        const auto lo = std::lower_bound(sorted_b.begin(), sorted_b.end(), x);
        const auto hi = std::upper_bound(lo, sorted_b.end(), x);
        greater += lo - sorted_b.begin();  // b values below x
        less += sorted_b.end() - hi;       // b values above x
    }
    return static_cast<double>(greater - less) /
           (static_cast<double>(a.size()) * static_cast<double>(b.size()));
}

}  // namespace joulebench::stats
