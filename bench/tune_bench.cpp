// The cap search of `joulebench tune` (issue 16, src/tune/search.hpp) against a plain sweep, on
// the three simulated curve shapes of tests/fakes/cap_curves.hpp (inside, lowest, plateau), metric
// EDP over caps 100:300:10, 500 seeded trials each with 2% log-normal noise per run. In the same
// process, the baseline is a sweep with 3 repetitions per cap (63 runs), the argmin of the
// medians. Counters:
//   success        share of trials whose cap is within one grid step of an optimal cap
//   runs_mean/max  runs the search used
//   runs_ratio     runs_mean / the sweep's 63 (issue 16: at most 0.25); runs_ratio_max likewise
//   sweep_success  the sweep's share, judged the same way
//   excess, sweep_excess   the mean true (noise-free) metric of the cap found over the optimum's,
//                  minus 1: what a miss costs
// BM_TuneSearchBudget shows what a larger budget buys (arguments: shape, budget);
// BM_TuneEnergyWithinSlowdown the metric energy within a 10% slowdown (worst_slowdown: the
// largest true slowdown of a cap found).
// Figures are recorded in BENCHMARKS.md (## Cap search).

#include <benchmark/benchmark.h>

#include <algorithm>
#include <cstdint>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "fakes/cap_curves.hpp"
#include "joulebench/stats.hpp"
#include "tune/search.hpp"

namespace {

namespace cc = joulebench::test::cap_curves;
namespace tune = joulebench::tune;

constexpr int kTrials = 500;
constexpr double kNoise = 0.02;
constexpr int kSweepRepetitions = 3;

struct Tally {
    int successes = 0;
    std::size_t runs = 0;
    std::size_t runs_max = 0;
    double excess = 0.0;
    double worst_slowdown = 0.0;
};

struct Outcome {
    std::size_t runs = 0;
    std::optional<double> cap_w;
};

// One search against the model.
Outcome search_trial(const tune::CapSearch& search, const cc::Shape& shape, std::uint64_t seed) {
    std::mt19937_64 rng(seed);
    std::vector<tune::Observation> obs;
    const auto& caps = search.options().caps_w;
    while (const auto i = search.next(obs)) {
        obs.push_back(cc::simulate(shape, caps[*i], kNoise, rng));
        if (obs.size() > 10000) break;  // a search that never ends: counted as a failure
    }
    return {obs.size(), search.result(obs).best_cap_w};
}

// The baseline: every cap kSweepRepetitions times, the argmin of the median EDP.
double sweep_trial(const std::vector<double>& caps, const cc::Shape& shape, std::uint64_t seed) {
    std::mt19937_64 rng(seed);
    std::size_t best = 0;
    double best_median = 0.0;
    for (std::size_t i = 0; i < caps.size(); ++i) {
        std::vector<double> edp;
        for (int r = 0; r < kSweepRepetitions; ++r) {
            const auto o = cc::simulate(shape, caps[i], kNoise, rng);
            edp.push_back(o.energy_j * o.wall_s);
        }
        const double m = joulebench::stats::median(edp);
        if (i == 0 || m < best_median) {
            best = i;
            best_median = m;
        }
    }
    return caps[best];
}

// Adds one found cap to a tally: success, excess over the optimum, true slowdown.
void judge(Tally& tally, const cc::Shape& shape, const tune::SearchOptions& options,
           const std::vector<std::size_t>& optimal, std::optional<double> cap_w) {
    if (!cap_w) return;  // nothing found: a failure with no excess to speak of
    const auto& caps = options.caps_w;
    tally.successes += cc::within_steps(optimal, cc::index_of(caps, *cap_w)) ? 1 : 0;
    const double best = cc::metric_value(shape, caps[optimal.front()], options.metric);
    tally.excess += cc::metric_value(shape, *cap_w, options.metric) / best - 1.0;
    const double slowdown =
        cc::point(shape, *cap_w).time_s / cc::point(shape, caps.back()).time_s - 1.0;
    tally.worst_slowdown = std::max(tally.worst_slowdown, slowdown);
}

void report(benchmark::State& state, const Tally& search, const Tally* sweep, std::size_t caps) {
    const double sweep_runs = static_cast<double>(caps * kSweepRepetitions);
    const double mean_runs = static_cast<double>(search.runs) / kTrials;
    state.counters["success"] = static_cast<double>(search.successes) / kTrials;
    state.counters["excess"] = search.excess / kTrials;
    state.counters["runs_mean"] = mean_runs;
    state.counters["runs_max"] = static_cast<double>(search.runs_max);
    state.counters["runs_ratio"] = mean_runs / sweep_runs;
    state.counters["runs_ratio_max"] = static_cast<double>(search.runs_max) / sweep_runs;
    if (sweep != nullptr) {
        state.counters["sweep_success"] = static_cast<double>(sweep->successes) / kTrials;
        state.counters["sweep_excess"] = sweep->excess / kTrials;
    }
}

void run_shape(benchmark::State& state, const cc::Shape& shape, const tune::SearchOptions& options,
               bool with_sweep) {
    const tune::CapSearch search(options);
    const auto optimal =
        cc::optimal_caps(shape, options.caps_w, options.metric, options.max_slowdown);
    Tally tally;
    Tally sweep;
    for (auto _ : state) {
        tally = {};
        sweep = {};
        for (int t = 1; t <= kTrials; ++t) {
            const auto seed = static_cast<std::uint64_t>(t);
            const Outcome o = search_trial(search, shape, seed);
            judge(tally, shape, options, optimal, o.cap_w);
            tally.runs += o.runs;
            tally.runs_max = std::max(tally.runs_max, o.runs);
            // The sweep gets other noise draws than the search (another seed stream).
            if (with_sweep) {
                judge(sweep, shape, options, optimal,
                      sweep_trial(options.caps_w, shape, seed + 1000000));
            }
        }
    }
    state.SetLabel(std::string(shape.name));
    report(state, tally, with_sweep ? &sweep : nullptr, options.caps_w.size());
    if (options.metric == tune::Metric::kEnergyWithinSlowdown) {
        state.counters["worst_slowdown"] = tally.worst_slowdown;
    }
}

tune::SearchOptions edp_options(std::size_t budget) {
    tune::SearchOptions options;
    options.caps_w = cc::grid_caps();
    options.metric = tune::Metric::kEdp;
    options.budget = budget;
    return options;
}

// Argument: the shape (0 inside, 1 lowest, 2 plateau).
void BM_TuneSearchVsSweep(benchmark::State& state) {
    run_shape(state, cc::kShapes.at(static_cast<std::size_t>(state.range(0))), edp_options(0),
              true);
}
BENCHMARK(BM_TuneSearchVsSweep)->DenseRange(0, 2)->Iterations(1)->Unit(benchmark::kMillisecond);

// Arguments: the shape and the budget (0: the default, 16 for 21 caps).
void BM_TuneSearchBudget(benchmark::State& state) {
    run_shape(state, cc::kShapes.at(static_cast<std::size_t>(state.range(0))),
              edp_options(static_cast<std::size_t>(state.range(1))), false);
}
BENCHMARK(BM_TuneSearchBudget)
    ->ArgsProduct({{0, 1, 2}, {12, 24, 32}})
    ->Iterations(1)
    ->Unit(benchmark::kMillisecond);

// Argument: the shape. Energy within a 10% slowdown of the highest cap, the default budget.
void BM_TuneEnergyWithinSlowdown(benchmark::State& state) {
    tune::SearchOptions options = edp_options(0);
    options.metric = tune::Metric::kEnergyWithinSlowdown;
    options.max_slowdown = 0.10;
    run_shape(state, cc::kShapes.at(static_cast<std::size_t>(state.range(0))), options, false);
}
BENCHMARK(BM_TuneEnergyWithinSlowdown)
    ->DenseRange(0, 2)
    ->Iterations(1)
    ->Unit(benchmark::kMillisecond);

}  // namespace
