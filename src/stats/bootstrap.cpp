// Percentile bootstrap (Efron & Tibshirani 1993, "An Introduction to the Bootstrap", ch. 13):
// the CI of a statistic is the (1 - level)/2 and (1 + level)/2 quantiles (numpy "linear") of the
// statistic over B resamples drawn with replacement.
//
// Reproducible by construction: xoshiro256++ (Blackman & Vigna 2021; see bootstrap.hpp for why it
// is written out) seeded from splitmix64(seed ^ fnv1a(key)), each 64-bit output split into two
// 32-bit halves, and bounded integers drawn by Lemire's multiply-and-reject method (Lemire 2019,
// "Fast random integer generation in an interval", ACM TOMACS 29(1)) written out here, because
// std::uniform_int_distribution differs between standard libraries. The median of a resample is
// found from index counts over the sorted sample, O(n) per resample.

#include "bootstrap.hpp"

#include <algorithm>
#include <limits>
#include <vector>

#include "common.hpp"
#include "joulebench/stats.hpp"

namespace joulebench::stats {

namespace detail {

namespace {

// splitmix64 (Steele, Lea & Flood 2014): advances `state` and returns the next output.
std::uint64_t splitmix64(std::uint64_t& state) {
    std::uint64_t z = (state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30U)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27U)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31U);
}

std::uint64_t rotl(std::uint64_t x, unsigned k) {
    return (x << k) | (x >> (64U - k));
}

}  // namespace

std::uint64_t stream_seed(std::uint64_t seed, std::string_view key) {
    std::uint64_t h = 1469598103934665603ULL;  // FNV-1a 64
    for (const char c : key) {
        h ^= static_cast<unsigned char>(c);
        h *= 1099511628211ULL;
    }
    std::uint64_t state = seed ^ h;
    return splitmix64(state);
}

Xoshiro256pp::Xoshiro256pp(std::uint64_t seed) : m_s{} {
    std::uint64_t state = seed;
    for (std::uint64_t& word : m_s) word = splitmix64(state);  // never all zero
}

std::uint64_t Xoshiro256pp::operator()() {
    const std::uint64_t result = rotl(m_s[0] + m_s[3], 23U) + m_s[0];
    const std::uint64_t t = m_s[1] << 17U;
    m_s[2] ^= m_s[0];
    m_s[3] ^= m_s[1];
    m_s[1] ^= m_s[2];
    m_s[0] ^= m_s[3];
    m_s[2] ^= t;
    m_s[3] = rotl(m_s[3], 45U);
    return result;
}

std::uint32_t BoundedDraw::next32() {
    // Each 64-bit output of mt19937_64 gives two 32-bit draws, high half first.
    if (m_have_spare) {
        m_have_spare = false;
        return m_spare;
    }
    const std::uint64_t x = m_rng();
    m_spare = static_cast<std::uint32_t>(x);
    m_have_spare = true;
    return static_cast<std::uint32_t>(x >> 32U);
}

std::uint32_t BoundedDraw::operator()(std::uint32_t n) {
    // Lemire (2019): the high half of x n is uniform on [0, n) once the few low halves below
    // 2^32 mod n are rejected.
    std::uint64_t m = static_cast<std::uint64_t>(next32()) * n;
    auto low = static_cast<std::uint32_t>(m);
    if (low < n) {
        const std::uint32_t threshold = (0U - n) % n;
        while (low < threshold) {
            m = static_cast<std::uint64_t>(next32()) * n;
            low = static_cast<std::uint32_t>(m);
        }
    }
    return static_cast<std::uint32_t>(m >> 32U);
}

ResampledMedian::ResampledMedian(std::span<const double> values)
    : m_sorted(values.begin(), values.end()), m_counts(values.size(), 0) {
    if (values.size() > std::numeric_limits<std::uint32_t>::max()) {
        throw Error(ErrorCategory::kInvalidArgument,
                    "stats: bootstrap: more than 2^32 - 1 values in one sample");
    }
    std::sort(m_sorted.begin(), m_sorted.end());
}

double ResampledMedian::operator()(BoundedDraw& draw) {
    const std::size_t n = m_sorted.size();
    const auto n32 = static_cast<std::uint32_t>(n);
    std::fill(m_counts.begin(), m_counts.end(), 0U);
    for (std::size_t i = 0; i < n; ++i) ++m_counts[draw(n32)];
    // Order statistics k_lo and k_hi (0-based) of the resample; equal for odd n. The cumulative
    // count passes k only at a position whose count is non-zero, and the counts sum to n > k_hi.
    const std::size_t k_hi = n / 2;
    const std::size_t k_lo = n % 2 == 1 ? k_hi : k_hi - 1;
    std::size_t i = 0;
    std::size_t cum = m_counts[0];
    while (cum <= k_lo) cum += m_counts[++i];
    const double lo = m_sorted[i];
    while (cum <= k_hi) cum += m_counts[++i];
    return (lo + m_sorted[i]) / 2.0;
}

void check_bootstrap_options(const BootstrapOptions& options) {
    if (options.resamples < 100) {
        throw Error(
            ErrorCategory::kInvalidArgument,
            "stats: bootstrap: " + std::to_string(options.resamples) + " resamples are too few",
            "use at least 1000 for a 95% interval");
    }
    if (!(options.level > 0.0 && options.level < 1.0)) {
        throw Error(ErrorCategory::kInvalidArgument,
                    "stats: bootstrap: the confidence level must lie strictly between 0 and 1");
    }
}

Interval percentile_interval(std::vector<double>& statistics, double level) {
    std::sort(statistics.begin(), statistics.end());
    return Interval{quantile_sorted(statistics, (1.0 - level) / 2.0),
                    quantile_sorted(statistics, (1.0 + level) / 2.0)};
}

}  // namespace detail

Interval bootstrap_median_ci(std::span<const double> values, const BootstrapOptions& options,
                             std::string_view key) {
    detail::require_finite_nonempty(values, "bootstrap median");
    detail::check_bootstrap_options(options);
    detail::BoundedDraw draw(detail::stream_seed(options.seed, key));
    detail::ResampledMedian resampled(values);
    std::vector<double> medians(options.resamples);
    for (double& m : medians) m = resampled(draw);
    return detail::percentile_interval(medians, options.level);
}

}  // namespace joulebench::stats
