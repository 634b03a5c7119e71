// Dunn's test: Dunn (1964), "Multiple comparisons using rank sums", Technometrics 6(3), 241-252.
// z_ab = (mean rank a - mean rank b) / sqrt((N (N + 1) / 12 - sum(t^3 - t) / (12 (N - 1)))
//        (1 / n_a + 1 / n_b)), ranks of all groups pooled; the tie term is the correction of the
// variance given by Dunn (and used by scikit-posthocs' posthoc_dunn); p = 2 Q(|z|).

#include <cmath>
#include <vector>

#include "common.hpp"
#include "joulebench/stats.hpp"

namespace joulebench::stats {

std::vector<DunnPair> dunn(const std::vector<std::span<const double>>& groups) {
    const std::vector<double> pooled = detail::pool_groups(groups, "dunn");
    const std::vector<double> ranks = rank_average(pooled);
    const auto total = static_cast<double>(pooled.size());
    std::vector<double> mean_rank(groups.size());
    std::size_t offset = 0;
    for (std::size_t g = 0; g < groups.size(); ++g) {
        double sum = 0.0;
        for (std::size_t i = 0; i < groups[g].size(); ++i) sum += ranks[offset + i];
        mean_rank[g] = sum / static_cast<double>(groups[g].size());
        offset += groups[g].size();
    }
    const double variance = total * (total + 1.0) / 12.0 - tie_sum(pooled) / (12.0 * (total - 1.0));
    std::vector<DunnPair> pairs;
    pairs.reserve(groups.size() * (groups.size() - 1) / 2);
    for (std::size_t a = 0; a < groups.size(); ++a) {
        for (std::size_t b = a + 1; b < groups.size(); ++b) {
            DunnPair pair;
            pair.a = a;
            pair.b = b;
            const double se = std::sqrt(variance * (1.0 / static_cast<double>(groups[a].size()) +
                                                    1.0 / static_cast<double>(groups[b].size())));
            if (!(se > 0.0)) {
                pair.z = std::nan("");  // every value equal: no ranking information
                pair.p = std::nan("");
            } else {
                pair.z = (mean_rank[a] - mean_rank[b]) / se;
                pair.p = std::min(1.0, 2.0 * detail::normal_sf(std::fabs(pair.z)));
            }
            pairs.push_back(pair);
        }
    }
    return pairs;
}

}  // namespace joulebench::stats
