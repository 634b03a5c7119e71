// Cost of `joulebench import energibridge`: the whole TU Delft data set (293 files, ~21k rows)
// and one large synthetic trace (1 million rows, the full Intel + 1 GPU column set), parse only.

#include <benchmark/benchmark.h>
#include <fmt/core.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "joulebench/energibridge.hpp"

namespace {

namespace fs = std::filesystem;

#ifdef JOULEBENCH_SOURCE_DIR  // defined through joulebench_test_support when tests are built
const fs::path kRaw =
    fs::path(JOULEBENCH_SOURCE_DIR "/../shared/datasets/tudelft-docker-images/raw");
#else
const fs::path kRaw = fs::path("../shared/datasets/tudelft-docker-images/raw");
#endif

void BM_ImportTudelftDataset(benchmark::State& state) {
    if (!fs::is_directory(kRaw)) {
        state.SkipWithError(("data set absent: " + kRaw.string()).c_str());
        return;
    }
    std::vector<std::string> files;
    for (const auto& e : fs::recursive_directory_iterator(kRaw)) {
        if (e.is_regular_file() && e.path().extension() == ".csv") files.push_back(e.path().string());
    }
    std::sort(files.begin(), files.end());
    std::size_t rows = 0;
    for (auto _ : state) {
        const auto results = joulebench::energibridge::import_traces(files);
        rows = joulebench::energibridge::compute_totals(results).rows;
        benchmark::DoNotOptimize(rows);
    }
    state.counters["files"] = static_cast<double>(files.size());
    state.counters["rows/s"] = benchmark::Counter(static_cast<double>(rows) *
                                                      static_cast<double>(state.iterations()),
                                                  benchmark::Counter::kIsRate);
}
BENCHMARK(BM_ImportTudelftDataset)->Unit(benchmark::kMillisecond);

// A trace shaped like the data set's (23 columns), with a package wrap every ~26k rows.
std::string synthetic_trace(std::size_t rows) {
    std::string text =
        "Delta,Time,CPU_FREQUENCY_0,CPU_FREQUENCY_1,CPU_FREQUENCY_2,CPU_FREQUENCY_3,CPU_USAGE_0,"
        "CPU_USAGE_1,CPU_USAGE_2,CPU_USAGE_3,DRAM_ENERGY (J),GPU0_MEMORY_TOTAL,GPU0_MEMORY_USED,"
        "GPU0_POWER (mWatts),GPU0_TEMPERATURE,GPU0_USAGE,PACKAGE_ENERGY (J),PP0_ENERGY (J),"
        "PP1_ENERGY (J),TOTAL_MEMORY,TOTAL_SWAP,USED_MEMORY,USED_SWAP\n";
    double package = 1000.0;
    double dram = 500.0;
    double pp0 = 800.0;
    for (std::size_t i = 0; i < rows; ++i) {
        text += fmt::format(
            "200,{},800,800,2400,2400,4.761904716491699,9.523809432983398,5,27.272727966308594,"
            "{},4096,364,{},34,{},{},{},0,16720330752,4294963200,1139474432,1222172672\n",
            1742890555323 + 200 * i, dram, 19526 + i % 7, i % 3, package, pp0);
        package = std::fmod(package + 9.5, joulebench::energibridge::kDefaultWrapJ);
        dram = std::fmod(dram + 0.5, joulebench::energibridge::kDefaultWrapJ);
        pp0 = std::fmod(pp0 + 7.25, joulebench::energibridge::kDefaultWrapJ);
    }
    return text;
}

void BM_ParseLargeSyntheticTrace(benchmark::State& state) {
    const auto rows = static_cast<std::size_t>(state.range(0));
    const std::string text = synthetic_trace(rows);
    for (auto _ : state) {
        const auto summary = joulebench::energibridge::parse_trace(text, "synthetic.csv");
        benchmark::DoNotOptimize(summary.package->energy);
    }
    state.SetBytesProcessed(static_cast<std::int64_t>(text.size()) * state.iterations());
    state.counters["rows/s"] = benchmark::Counter(
        static_cast<double>(rows) * static_cast<double>(state.iterations()),
        benchmark::Counter::kIsRate);
}
BENCHMARK(BM_ParseLargeSyntheticTrace)->Arg(1'000'000)->Unit(benchmark::kMillisecond);

}  // namespace
