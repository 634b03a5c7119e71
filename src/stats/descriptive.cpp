// Descriptive statistics: n, mean, median, sample standard deviation, min, max, quartiles.
// Quantiles follow numpy's default "linear" method, definition 7 of Hyndman & Fan (1996),
// "Sample quantiles in statistical packages", The American Statistician 50(4), 361-365.

#include <algorithm>
#include <cmath>
#include <vector>

#include "common.hpp"
#include "joulebench/stats.hpp"

namespace joulebench::stats {

double quantile_sorted(std::span<const double> sorted, double q) {
    if (sorted.empty()) {
        throw Error(ErrorCategory::kInvalidArgument, "stats: quantile: the sample is empty");
    }
    if (!(q >= 0.0 && q <= 1.0)) {
        throw Error(ErrorCategory::kInvalidArgument, "stats: quantile: q must lie in [0, 1]");
    }
    const double h = static_cast<double>(sorted.size() - 1) * q;
    const double lo_d = std::floor(h);
    const auto lo = static_cast<std::size_t>(lo_d);
    if (lo + 1 >= sorted.size()) return sorted[sorted.size() - 1];
    const double t = h - lo_d;
    const double a = sorted[lo];
    const double b = sorted[lo + 1];
    // numpy's _lerp: a + (b - a) t, but b - (b - a)(1 - t) for t >= 0.5 (exact at both ends).
    const double diff = b - a;
    return t >= 0.5 ? b - diff * (1.0 - t) : a + diff * t;
}

double median(std::span<const double> values) {
    if (values.empty()) {
        throw Error(ErrorCategory::kInvalidArgument, "stats: median: the sample is empty");
    }
    std::vector<double> v(values.begin(), values.end());
    const std::size_t mid = v.size() / 2;
    std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(mid), v.end());
    const double upper = v[mid];
    if (v.size() % 2 == 1) return upper;
    const double lower = *std::max_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(mid));
    return (lower + upper) / 2.0;
}

Descriptive describe(std::span<const double> values) {
    detail::require_finite_nonempty(values, "describe");
    std::vector<double> sorted(values.begin(), values.end());
    std::sort(sorted.begin(), sorted.end());
    Descriptive d;
    d.n = sorted.size();
    const auto n = static_cast<double>(d.n);
    double sum = 0.0;
    for (const double v : values) sum += v;
    d.mean = sum / n;
    // Two-pass variance (numpy's method): no cancellation for data far from zero.
    double ss = 0.0;
    for (const double v : values) ss += (v - d.mean) * (v - d.mean);
    d.std = d.n < 2 ? std::nan("") : std::sqrt(ss / (n - 1.0));
    d.min = sorted.front();
    d.max = sorted.back();
    const std::size_t mid = d.n / 2;
    d.median = d.n % 2 == 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2.0;
    d.q1 = quantile_sorted(sorted, 0.25);
    d.q3 = quantile_sorted(sorted, 0.75);
    return d;
}

}  // namespace joulebench::stats
