// One-way analysis of variance, F test (Fisher 1925, "Statistical Methods for Research Workers").
// Sums of squares computed as scipy.stats.f_oneway does (data shifted by the grand mean,
// SS_within = SS_total - SS_between), F-distribution tail from Boost.Math.

#include <boost/math/distributions/fisher_f.hpp>
#include <cmath>
#include <limits>
#include <vector>

#include "common.hpp"
#include "joulebench/stats.hpp"

namespace joulebench::stats {

Anova one_way_anova(const std::vector<std::span<const double>>& groups) {
    const std::vector<double> pooled = detail::pool_groups(groups, "anova");
    const auto bign = static_cast<double>(pooled.size());
    const auto k = static_cast<double>(groups.size());
    double offset = 0.0;
    for (const double v : pooled) offset += v;
    offset /= bign;

    double sum_all = 0.0;
    double sq_all = 0.0;
    for (const double v : pooled) {
        sum_all += v - offset;
        sq_all += (v - offset) * (v - offset);
    }
    const double normalized_ss = sum_all * sum_all / bign;
    const double sstot = sq_all - normalized_ss;
    double ssbn = 0.0;
    bool all_constant = true;
    for (const auto& g : groups) {
        double s = 0.0;
        for (const double v : g) {
            s += v - offset;
            if (v != g[0]) all_constant = false;
        }
        ssbn += s * s / static_cast<double>(g.size());
    }
    ssbn -= normalized_ss;
    const double sswn = sstot - ssbn;

    Anova r;
    r.df_between = k - 1.0;
    r.df_within = bign - k;
    const double nan = std::numeric_limits<double>::quiet_NaN();
    if (r.df_within <= 0.0) {
        r.f = nan;
        r.p = nan;
        return r;
    }
    if (all_constant) {
        // SciPy's special case: constant groups give F = inf (p = 0) when they differ.
        bool all_equal = true;
        for (const auto& g : groups) all_equal = all_equal && g[0] == groups[0][0];
        r.f = all_equal ? nan : std::numeric_limits<double>::infinity();
        r.p = all_equal ? nan : 0.0;
        return r;
    }
    const double msb = ssbn / r.df_between;
    const double msw = sswn / r.df_within;
    r.f = msb / msw;
    if (!(r.f > 0.0)) {
        r.f = std::max(r.f, 0.0);
        r.p = 1.0;
        return r;
    }
    const boost::math::fisher_f_distribution<double> fdist(r.df_between, r.df_within);
    r.p = boost::math::cdf(boost::math::complement(fdist, r.f));
    return r;
}

}  // namespace joulebench::stats
