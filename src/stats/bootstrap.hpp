#pragma once
// Building blocks of the seeded percentile bootstrap, shared by bootstrap.cpp and overhead.cpp.

#include <cstdint>
#include <random>
#include <span>
#include <string_view>
#include <vector>

#include "joulebench/stats.hpp"

namespace joulebench::stats::detail {

/// The seed of one stream: splitmix64(seed ^ FNV-1a(key)).
std::uint64_t stream_seed(std::uint64_t seed, std::string_view key);

/// Uniform integers in [0, n) from mt19937_64, the same on every platform (Lemire 2019).
class BoundedDraw {
public:
    explicit BoundedDraw(std::uint64_t seed) : m_rng(seed) {}
    /// n >= 1.
    std::uint32_t operator()(std::uint32_t n);

private:
    std::uint32_t next32();
    std::mt19937_64 m_rng;
    std::uint32_t m_spare = 0;
    bool m_have_spare = false;
};

/// Median of a resample (with replacement) of a fixed sample, O(n) per call.
class ResampledMedian {
public:
    explicit ResampledMedian(std::span<const double> values);
    double operator()(BoundedDraw& draw);

private:
    std::vector<double> m_sorted;
    std::vector<std::uint32_t> m_counts;
};

void check_bootstrap_options(const BootstrapOptions& options);

/// Sorts `statistics` and returns its (1 - level)/2 and (1 + level)/2 quantiles (numpy linear).
Interval percentile_interval(std::vector<double>& statistics, double level);

}  // namespace joulebench::stats::detail
