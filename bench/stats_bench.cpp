// Micro-benchmarks of the statistics (issue 5): the whole analysis of 100 groups x 1000 values,
// the TU Delft per-run set (read + analyse energy and time), and the methods that dominate.
// Figures and the machine are recorded in BENCHMARKS.md (## Statistics).

#include <benchmark/benchmark.h>

#include <filesystem>
#include <random>
#include <string>
#include <vector>

#include "analysis/csv_groups.hpp"
#include "joulebench/stats.hpp"

namespace {

namespace js = joulebench::stats;
namespace fs = std::filesystem;

std::vector<js::NamedGroup> synthetic_groups(std::size_t groups, std::size_t values) {
    std::mt19937_64 rng(42);
    std::vector<js::NamedGroup> out;
    for (std::size_t g = 0; g < groups; ++g) {
        std::normal_distribution<double> normal(1000.0 + static_cast<double>(g), 25.0);
        js::NamedGroup group{"group-" + std::to_string(g), std::vector<double>(values)};
        for (double& v : group.values) v = normal(rng);
        out.push_back(std::move(group));
    }
    return out;
}

// 100 groups x 1000 values: 100 Shapiro-Wilk, Kruskal-Wallis, 4950 Dunn pairs with Cliff's delta,
// 100 bootstrap CIs (argument: resamples) and 99 overheads against group-0.
void BM_Analyse100x1000(benchmark::State& state) {
    const auto groups = synthetic_groups(100, 1000);
    js::AnalysisOptions options;
    options.baseline = "group-0";
    options.bootstrap.resamples = static_cast<std::size_t>(state.range(0));
    for (auto _ : state) {
        const js::Analysis a = js::analyse_groups(groups, options);
        benchmark::DoNotOptimize(a.pairs.data());
    }
    state.SetItemsProcessed(state.iterations() * 100 * 1000);
}
BENCHMARK(BM_Analyse100x1000)->Arg(10000)->Arg(1000)->Unit(benchmark::kMillisecond);

// Everything but the bootstrap: the tests themselves on 100 x 1000.
void BM_Tests100x1000(benchmark::State& state) {
    const auto groups = synthetic_groups(100, 1000);
    std::vector<std::span<const double>> spans(groups.size());
    for (std::size_t i = 0; i < groups.size(); ++i) spans[i] = groups[i].values;
    for (auto _ : state) {
        for (const auto& g : groups) benchmark::DoNotOptimize(js::shapiro_wilk(g.values));
        benchmark::DoNotOptimize(js::kruskal_wallis(spans));
        const auto d = js::dunn(spans);
        benchmark::DoNotOptimize(d.data());
        double sum = 0.0;
        for (const auto& p : d) sum += js::cliffs_delta(groups[p.a].values, groups[p.b].values);
        benchmark::DoNotOptimize(sum);
    }
}
BENCHMARK(BM_Tests100x1000)->Unit(benchmark::kMillisecond);

void BM_ShapiroWilk(benchmark::State& state) {
    const auto g = synthetic_groups(1, static_cast<std::size_t>(state.range(0)));
    for (auto _ : state) benchmark::DoNotOptimize(js::shapiro_wilk(g[0].values));
}
BENCHMARK(BM_ShapiroWilk)->Arg(30)->Arg(1000)->Arg(5000)->Unit(benchmark::kMicrosecond);

void BM_BootstrapMedianCi(benchmark::State& state) {
    const auto g = synthetic_groups(1, static_cast<std::size_t>(state.range(0)));
    for (auto _ : state) benchmark::DoNotOptimize(js::bootstrap_median_ci(g[0].values));
}
BENCHMARK(BM_BootstrapMedianCi)->Arg(30)->Arg(1000)->Unit(benchmark::kMillisecond);

// The whole TU Delft per-run set: read the five *-base tables with the CSV reader and analyse
// energy and time (10000 resamples, baseline pytorch-base), as `analyze` would.
void BM_TuDelftPerRun(benchmark::State& state) {
#ifndef JOULEBENCH_SOURCE_DIR
    state.SkipWithError("built without the tests: JOULEBENCH_SOURCE_DIR unknown");
#else
    const fs::path dir = fs::path(JOULEBENCH_SOURCE_DIR) / ".." / "shared" / "datasets" /
                         "tudelft-docker-images" / "per-run";
    if (!fs::is_directory(dir)) {
        state.SkipWithError("dataset absent: ../shared/datasets/tudelft-docker-images/per-run");
        return;
    }
    const std::vector<std::string> images{"cuda-base", "nvcr-base", "python-base", "pytorch-base",
                                          "ubuntu-base"};
    js::AnalysisOptions options;
    options.baseline = "pytorch-base";
    for (auto _ : state) {
        for (const std::string metric :
             {"Energy Consumption (Joules)", "Execution Time (Seconds)"}) {
            std::vector<js::NamedGroup> groups;
            for (const auto& image : images) {
                js::NamedGroup g{image, {}};
                for (const auto& run :
                     joulebench::analysis::read_groups_csv(dir / (image + "_output.csv"), "Run", metric)) {
                    g.values.insert(g.values.end(), run.values.begin(), run.values.end());
                }
                groups.push_back(std::move(g));
            }
            const js::Analysis a = js::analyse_groups(groups, options);
            benchmark::DoNotOptimize(a.pairs.data());
        }
    }
#endif
}
BENCHMARK(BM_TuDelftPerRun)->Unit(benchmark::kMillisecond);

}  // namespace
