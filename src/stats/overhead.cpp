// Overhead of a group against a baseline in percent of the baseline's median,
// 100 (median(g) - median(b)) / median(b), with a percentile-bootstrap interval (Efron &
// Tibshirani 1993, ch. 13) in which group and baseline are resampled independently (two-sample
// bootstrap, ibid. ch. 8). Seeded as bootstrap.cpp.

#include <cmath>
#include <vector>

#include "bootstrap.hpp"
#include "common.hpp"
#include "joulebench/stats.hpp"

namespace joulebench::stats {

Overhead median_overhead(std::span<const double> group, std::span<const double> baseline,
                         const BootstrapOptions& options, std::string_view key) {
    detail::require_finite_nonempty(group, "overhead");
    detail::require_finite_nonempty(baseline, "overhead");
    detail::check_bootstrap_options(options);
    const double base = median(baseline);
    if (base == 0.0) {
        throw Error(ErrorCategory::kInvalidArgument,
                    "stats: overhead: the baseline median is zero, a percentage is undefined");
    }
    Overhead r;
    r.pct = 100.0 * (median(group) - base) / base;
    detail::BoundedDraw draw(detail::stream_seed(options.seed, key));
    detail::ResampledMedian g(group);
    detail::ResampledMedian b(baseline);
    std::vector<double> pcts;
    pcts.reserve(options.resamples);
    for (std::size_t i = 0; i < options.resamples; ++i) {
        const double mg = g(draw);
        const double mb = b(draw);
        // A resampled baseline median of zero (possible when zeros are common) has no percentage.
        if (mb != 0.0) pcts.push_back(100.0 * (mg - mb) / mb);
    }
    if (pcts.empty()) {
        r.ci = Interval{std::nan(""), std::nan("")};
    } else {
        r.ci = detail::percentile_interval(pcts, options.level);
    }
    return r;
}

}  // namespace joulebench::stats
