// Average ranks and the tie term, as scipy.stats.rankdata(method="average") and the
// sum of (t^3 - t) over tie groups used by scipy.stats.tiecorrect (Kruskal & Wallis 1952).

#include <algorithm>
#include <numeric>

#include "joulebench/stats.hpp"

namespace joulebench::stats {

std::vector<double> rank_average(std::span<const double> values) {
    const std::size_t n = values.size();
    std::vector<std::size_t> order(n);
    std::iota(order.begin(), order.end(), std::size_t{0});
    std::stable_sort(order.begin(), order.end(),
                     [&](std::size_t i, std::size_t j) { return values[i] < values[j]; });
    std::vector<double> ranks(n);
    std::size_t i = 0;
    while (i < n) {
        std::size_t j = i + 1;
        while (j < n && values[order[j]] == values[order[i]]) ++j;
        // Positions i..j-1 (0-based) hold equal values: ranks i+1..j, average (i + 1 + j) / 2.
        const double avg = static_cast<double>(i + 1 + j) / 2.0;
        for (std::size_t k = i; k < j; ++k) ranks[order[k]] = avg;
        i = j;
    }
    return ranks;
}

double tie_sum(std::span<const double> values) {
    std::vector<double> v(values.begin(), values.end());
    std::sort(v.begin(), v.end());
    double sum = 0.0;
    std::size_t i = 0;
    while (i < v.size()) {
        std::size_t j = i + 1;
        while (j < v.size() && v[j] == v[i]) ++j;
        const auto t = static_cast<double>(j - i);
        sum += t * t * t - t;
        i = j;
    }
    return sum;
}

}  // namespace joulebench::stats
