#pragma once
// The simulated cap-bound GPU workload's model, in one place for the workload program
// (cap_bound_workload.cpp, `joulebench-fake-gpu-load`), the cap search's unit tests
// (tests/unit/tune_search_test.cpp) and its benchmarks (bench/tune_bench.cpp, bench/tune_e2e.sh).
//
// Under a cap c (W), a load that would draw D W uncapped draws P(c) = min(D, c) and takes
//     T(c) = t0 * (1 + a * max(0, D/c - 1)^p)
// (above D the cap changes nothing: a plateau). Energy E = P * T, EDP = E * T, ED2P = E * T^2.
// Runs are noisy by a multiplicative log-normal factor on T (median 1, relative sd `noise`); the
// fake NVML integrates the power exactly, so E carries the same factor.
//
// The three shapes of EDP over caps 100:300:10 (kGridCaps), ratios to the best cap:
//   inside   D=300 a=1    p=2: minimum at 250 (240: +0.2%, 260: +0.8%, 230: +1.6%, 270: +2.3%,
//                               200: +16%, 100: x9.2, 300: +11%): a flat bottom, as on real GPUs;
//   lowest   D=300 a=0.05 p=1: minimum at the lowest cap (110: +7.3%, 300: x2.5): a
//                               memory-bound load that barely slows down;
//   plateau  D=250 a=1    p=1: T ~ D/c below 250 W; 250..300 all optimal (exact ties; 240: +4.2%).

#include <algorithm>
#include <array>
#include <cmath>
#include <cstddef>
#include <random>
#include <string_view>
#include <vector>

#include "tune/search.hpp"

namespace joulebench::test::cap_curves {

/// One shape: the load's uncapped draw and how its time grows under a cap below it.
struct Shape {
    std::string_view name;
    double demand_w = 300.0;
    double a = 1.0;
    double p = 2.0;
};

inline constexpr Shape kInside{"inside", 300.0, 1.0, 2.0};
inline constexpr Shape kLowest{"lowest", 300.0, 0.05, 1.0};
inline constexpr Shape kPlateau{"plateau", 250.0, 1.0, 1.0};
inline constexpr std::array<Shape, 3> kShapes{kInside, kLowest, kPlateau};

/// The grid the shapes are described for: 100, 110, ..., 300 W (the fake GPU allows 100..400).
inline std::vector<double> grid_caps() {
    std::vector<double> caps;
    for (int c = 100; c <= 300; c += 10) caps.push_back(c);
    return caps;
}

/// T(c) / t0 for a load of `demand_w` under `cap_w`.
inline double time_factor(double demand_w, double a, double p, double cap_w) {
    const double over = std::max(0.0, demand_w / cap_w - 1.0);
    return 1.0 + a * std::pow(over, p);
}

/// A log-normal factor with median 1 and relative standard deviation `relative_sd` (0: 1).
template <class Rng>
double noise_factor(double relative_sd, Rng& rng) {
    if (relative_sd <= 0.0) return 1.0;
    const double sigma = std::sqrt(std::log1p(relative_sd * relative_sd));
    std::normal_distribution<double> normal(0.0, sigma);
    return std::exp(normal(rng));
}

/// The noise-free values of one cap.
struct Point {
    double cap_w = 0.0;
    double power_w = 0.0;
    double time_s = 0.0;
    double energy_j = 0.0;
    double edp_js = 0.0;
    double ed2p_js2 = 0.0;
};

inline Point point(const Shape& shape, double cap_w, double t0_s = 1.0) {
    Point pt;
    pt.cap_w = cap_w;
    pt.power_w = std::min(shape.demand_w, cap_w);
    pt.time_s = t0_s * time_factor(shape.demand_w, shape.a, shape.p, cap_w);
    pt.energy_j = pt.power_w * pt.time_s;
    pt.edp_js = pt.energy_j * pt.time_s;
    pt.ed2p_js2 = pt.edp_js * pt.time_s;
    return pt;
}

/// One simulated run at `cap_w`: time and energy with the noise factor applied to both.
template <class Rng>
tune::Observation simulate(const Shape& shape, double cap_w, double noise, Rng& rng,
                           double t0_s = 1.0) {
    const Point pt = point(shape, cap_w, t0_s);
    const double f = noise_factor(noise, rng);
    return {cap_w, pt.time_s * f, pt.energy_j * f};
}

/// The metric's noise-free value at `cap_w` (kEnergyWithinSlowdown: the energy).
inline double metric_value(const Shape& shape, double cap_w, tune::Metric metric) {
    const Point pt = point(shape, cap_w);
    switch (metric) {
        case tune::Metric::kEnergy:
        case tune::Metric::kEnergyWithinSlowdown:
            return pt.energy_j;
        case tune::Metric::kEdp:
            return pt.edp_js;
        case tune::Metric::kEd2p:
            return pt.ed2p_js2;
    }
    return pt.edp_js;
}

/// Indices of `caps` whose noise-free metric is the minimum (exact ties, up to rounding: all of
/// them). kEnergyWithinSlowdown: among the caps whose time is at most (1 + max_slowdown) times
/// the time at the highest cap. Empty when `caps` is.
inline std::vector<std::size_t> optimal_caps(const Shape& shape, const std::vector<double>& caps,
                                             tune::Metric metric, double max_slowdown = 0.10) {
    std::vector<std::size_t> best;
    if (caps.empty()) return best;
    const double top_time = point(shape, caps.back()).time_s;
    double best_value = 0.0;
    for (std::size_t i = 0; i < caps.size(); ++i) {
        if (metric == tune::Metric::kEnergyWithinSlowdown &&
            point(shape, caps[i]).time_s > (1.0 + max_slowdown) * top_time * (1.0 + 1e-12)) {
            continue;
        }
        const double v = metric_value(shape, caps[i], metric);
        if (best.empty() || v < best_value * (1.0 - 1e-12)) {
            best = {i};
            best_value = v;
        } else if (v <= best_value * (1.0 + 1e-12)) {
            best.push_back(i);
        }
    }
    return best;
}

/// Whether grid index `found` is within `steps` grid steps of an optimal index.
inline bool within_steps(const std::vector<std::size_t>& optimal, std::size_t found,
                         std::size_t steps = 1) {
    return std::any_of(optimal.begin(), optimal.end(),
                       [&](std::size_t o) { return (found > o ? found - o : o - found) <= steps; });
}

/// The grid index of `cap_w` (the nearest cap).
inline std::size_t index_of(const std::vector<double>& caps, double cap_w) {
    std::size_t best = 0;
    for (std::size_t i = 1; i < caps.size(); ++i) {
        if (std::abs(caps[i] - cap_w) < std::abs(caps[best] - cap_w)) best = i;
    }
    return best;
}

}  // namespace joulebench::test::cap_curves
