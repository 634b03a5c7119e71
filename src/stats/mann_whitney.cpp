// Mann-Whitney U test: Mann & Whitney (1947), "On a test of whether one of two random variables is
// stochastically larger than the other", Ann. Math. Statist. 18(1), 50-60. Two-sided, with SciPy
// 1.10's defaults (scipy.stats.mannwhitneyu, method="auto", use_continuity=True):
// - exact null distribution when there are no ties and min(n_a, n_b) <= 8: p = 2 P(U >= max(U_a,
//   U_b)), the distribution counted by the recurrence of Mann & Whitney (1947);
// - otherwise the normal approximation: z = (max(U_a, U_b) - n_a n_b / 2 - 0.5) / sigma with
//   sigma^2 = n_a n_b / 12 ((N + 1) - sum(t^3 - t) / (N (N - 1))), p = 2 Q(z), clipped to 1;
//   when every value is equal (sigma = 0) p = 1, as SciPy.

#include <algorithm>
#include <cmath>
#include <vector>

#include "common.hpp"
#include "joulebench/stats.hpp"

namespace joulebench::stats {

namespace {

// Number of arrangements giving each U = 0..m n, by f(u; m, n) = f(u - n; m - 1, n) + f(u; m,
// n - 1) (Mann & Whitney 1947), normalised to probabilities.
std::vector<double> exact_u_pmf(std::size_t m, std::size_t n) {
    // counts[j][u] for the current m, j = 0..n.
    std::vector<std::vector<double>> prev(n + 1);
    for (std::size_t j = 0; j <= n; ++j) prev[j] = {1.0};  // m = 0: only U = 0
    for (std::size_t i = 1; i <= m; ++i) {
        std::vector<std::vector<double>> cur(n + 1);
        cur[0] = {1.0};  // n = 0: only U = 0
        for (std::size_t j = 1; j <= n; ++j) {
            cur[j].assign(i * j + 1, 0.0);
            for (std::size_t u = 0; u < cur[j].size(); ++u) {
                double c = 0.0;
                if (u >= j && u - j < prev[j].size()) c += prev[j][u - j];
                if (u < cur[j - 1].size()) c += cur[j - 1][u];
                cur[j][u] = c;
            }
        }
        prev = std::move(cur);
    }
    std::vector<double> pmf = prev[n];
    double total = 0.0;
    for (const double c : pmf) total += c;
    for (double& c : pmf) c /= total;
    return pmf;
}

}  // namespace

MannWhitney mann_whitney_u(std::span<const double> a, std::span<const double> b) {
    detail::require_finite_nonempty(a, "mann-whitney");
    detail::require_finite_nonempty(b, "mann-whitney");
    std::vector<double> pooled(a.begin(), a.end());
    pooled.insert(pooled.end(), b.begin(), b.end());
    const std::vector<double> ranks = rank_average(pooled);
    const auto n1 = static_cast<double>(a.size());
    const auto n2 = static_cast<double>(b.size());
    double r1 = 0.0;
    for (std::size_t i = 0; i < a.size(); ++i) r1 += ranks[i];
    MannWhitney r;
    r.u = r1 - n1 * (n1 + 1.0) / 2.0;
    const double u_max = std::max(r.u, n1 * n2 - r.u);
    const double ties = tie_sum(pooled);
    const bool small = a.size() <= 8 || b.size() <= 8;
    if (small && ties == 0.0) {
        r.exact = true;
        const std::vector<double> pmf = exact_u_pmf(a.size(), b.size());
        // U is an integer without ties; sf = P(U >= u_max).
        const auto start = static_cast<std::size_t>(std::llround(u_max));
        double sf = 0.0;
        for (std::size_t u = start; u < pmf.size(); ++u) sf += pmf[u];
        r.p = std::min(1.0, 2.0 * sf);
        return r;
    }
    const double n = n1 + n2;
    const double sigma = std::sqrt(n1 * n2 / 12.0 * ((n + 1.0) - ties / (n * (n - 1.0))));
    if (!(sigma > 0.0)) {
        // Every value equal: U is exactly its mean; SciPy's z is -inf and p clips to 1.
        r.p = 1.0;
        return r;
    }
    const double z = (u_max - n1 * n2 / 2.0 - 0.5) / sigma;
    r.p = std::clamp(2.0 * detail::normal_sf(z), 0.0, 1.0);
    return r;
}

}  // namespace joulebench::stats
