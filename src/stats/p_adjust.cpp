// Multiple-comparison adjustments of p-values:
// - Bonferroni: min(1, m p) (Dunn 1961, "Multiple comparisons among means", JASA 56, 52-64).
// - Holm: step-down, p_(i) * (m - i + 1), made monotone by a running maximum and capped at 1
//   (Holm 1979, "A simple sequentially rejective multiple test procedure", Scand. J. Statist. 6,
//   65-70); the same values as statsmodels' multipletests(method="holm") and R's p.adjust.

#include <algorithm>
#include <cmath>
#include <numeric>

#include "joulebench/error.hpp"
#include "joulebench/stats.hpp"

namespace joulebench::stats {

std::string_view to_string(PAdjust method) {
    switch (method) {
        case PAdjust::kBonferroni:
            return "bonferroni";
        case PAdjust::kHolm:
            return "holm";
        case PAdjust::kNone:
            return "none";
    }
    return "none";
}

PAdjust p_adjust_from_string(std::string_view name) {
    if (name == "bonferroni") return PAdjust::kBonferroni;
    if (name == "holm") return PAdjust::kHolm;
    if (name == "none") return PAdjust::kNone;
    throw Error(ErrorCategory::kInvalidArgument,
                "stats: parse p-value adjustment '" + std::string(name) + "': unknown method",
                "use bonferroni, holm or none");
}

std::vector<double> adjust_p(std::span<const double> p, PAdjust method) {
    std::vector<std::size_t> valid;
    for (std::size_t i = 0; i < p.size(); ++i) {
        if (std::isnan(p[i])) continue;
        if (p[i] < 0.0 || p[i] > 1.0) {
            throw Error(
                ErrorCategory::kInvalidArgument,
                "stats: adjust p-values: p = " + std::to_string(p[i]) + " lies outside [0, 1]");
        }
        valid.push_back(i);
    }
    std::vector<double> out(p.begin(), p.end());
    const auto m = static_cast<double>(valid.size());
    switch (method) {
        case PAdjust::kNone:
            break;
        case PAdjust::kBonferroni:
            for (const std::size_t i : valid) out[i] = std::min(1.0, p[i] * m);
            break;
        case PAdjust::kHolm: {
            std::stable_sort(valid.begin(), valid.end(),
                             [&](std::size_t x, std::size_t y) { return p[x] < p[y]; });
            double running = 0.0;
            for (std::size_t r = 0; r < valid.size(); ++r) {
                const double adj = std::min(1.0, (m - static_cast<double>(r)) * p[valid[r]]);
                running = std::max(running, adj);
                out[valid[r]] = running;
            }
            break;
        }
    }
    return out;
}

}  // namespace joulebench::stats
