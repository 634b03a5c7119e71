// Kruskal-Wallis H test: Kruskal & Wallis (1952), "Use of ranks in one-criterion variance
// analysis", JASA 47(260), 583-621. H = 12 / (N (N + 1)) sum(R_i^2 / n_i) - 3 (N + 1), divided by
// the tie correction 1 - sum(t^3 - t) / (N^3 - N); p from chi-square with k - 1 degrees of
// freedom (Boost.Math). Computed in the same order as scipy.stats.kruskal.

#include <boost/math/distributions/chi_squared.hpp>
#include <cmath>
#include <vector>

#include "common.hpp"
#include "joulebench/stats.hpp"

namespace joulebench::stats {

namespace detail {

std::vector<double> pool_groups(const std::vector<std::span<const double>>& groups,
                                std::string_view what) {
    if (groups.size() < 2) {
        throw Error(ErrorCategory::kInvalidArgument, "stats: " + std::string(what) +
                                                         ": needs at least two groups, got " +
                                                         std::to_string(groups.size()));
    }
    std::vector<double> pooled;
    for (std::size_t g = 0; g < groups.size(); ++g) {
        if (groups[g].empty()) {
            throw Error(
                ErrorCategory::kInvalidArgument,
                "stats: " + std::string(what) + ": group " + std::to_string(g + 1) + " is empty");
        }
        require_finite_nonempty(groups[g], what);
        pooled.insert(pooled.end(), groups[g].begin(), groups[g].end());
    }
    return pooled;
}

}  // namespace detail

KruskalWallis kruskal_wallis(const std::vector<std::span<const double>>& groups) {
    const std::vector<double> pooled = detail::pool_groups(groups, "kruskal-wallis");
    const std::vector<double> ranks = rank_average(pooled);
    const auto total = static_cast<double>(pooled.size());
    double ssbn = 0.0;
    std::size_t offset = 0;
    for (const auto& g : groups) {
        double sum = 0.0;
        for (std::size_t i = 0; i < g.size(); ++i) sum += ranks[offset + i];
        ssbn += sum * sum / static_cast<double>(g.size());
        offset += g.size();
    }
    KruskalWallis r;
    r.df = static_cast<double>(groups.size() - 1);
    const double ties = 1.0 - tie_sum(pooled) / (total * total * total - total);
    if (ties <= 0.0) {
        // Every value equal: H is 0/0 (SciPy raises). No evidence either way.
        r.h = std::nan("");
        r.p = std::nan("");
        return r;
    }
    r.h = (12.0 / (total * (total + 1.0)) * ssbn - 3.0 * (total + 1.0)) / ties;
    const boost::math::chi_squared_distribution<double> chi2(r.df);
    r.p = r.h <= 0.0 ? 1.0 : boost::math::cdf(boost::math::complement(chi2, r.h));
    return r;
}

}  // namespace joulebench::stats
