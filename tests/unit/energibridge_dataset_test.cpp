// EnergiBridge import on the TU Delft Docker-images data set (293 real traces, 21 with a package
// counter wrap), checked against tests/data/energibridge/reference/reference.json, which
// compute_reference.py computed with Python's csv module and numpy (not with our code).

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "joulebench/energibridge.hpp"

namespace joulebench::energibridge {
namespace {

namespace fs = std::filesystem;

const fs::path kRaw =
    fs::path(JOULEBENCH_SOURCE_DIR "/../shared/datasets/tudelft-docker-images/raw");
constexpr std::size_t kFileCount = 293;
constexpr int kFilesWithPackageWrap = 21;

std::vector<fs::path> dataset_files() {
    std::vector<fs::path> files;
    for (const auto& entry : fs::recursive_directory_iterator(kRaw)) {
        if (entry.is_regular_file() && entry.path().extension() == ".csv") {
            files.push_back(entry.path());
        }
    }
    std::sort(files.begin(), files.end());
    return files;
}

// "cuda-base/energy_results_cuda-base_11.csv", as the reference names it.
std::string relative_name(const fs::path& p) {
    return p.parent_path().filename().string() + "/" + p.filename().string();
}

class EnergibridgeDataset : public ::testing::Test {
protected:
    static void SetUpTestSuite() {
        if (!fs::is_directory(kRaw)) return;
        for (const auto& p : dataset_files()) {
            std::vector<std::string> one{p.string()};
            auto result = std::move(import_traces(one).front());
            s_results.emplace(relative_name(p), std::move(result));
        }
        std::ifstream in(std::string(JOULEBENCH_TEST_DATA_DIR) +
                         "/energibridge/reference/reference.json");
        s_reference = nlohmann::json::parse(in);
    }
    void SetUp() override {
        if (!fs::is_directory(kRaw)) {
            GTEST_SKIP() << "data set absent: " << kRaw.string()
                         << " (../shared/datasets/tudelft-docker-images/raw)";
        }
    }
    static inline std::map<std::string, ImportResult> s_results;
    static inline nlohmann::json s_reference;
};

TEST_F(EnergibridgeDataset, AllFilesImportAndExactly21HaveAPackageWrap) {
    ASSERT_EQ(s_results.size(), kFileCount);
    int wrapped = 0;
    for (const auto& [name, result] : s_results) {
        ASSERT_TRUE(result.summary.has_value()) << name << ": " << result.error;
        const auto& s = *result.summary;
        ASSERT_TRUE(s.package && s.dram && s.pp0) << name;
        EXPECT_TRUE(s.missing_columns.empty()) << name;
        EXPECT_EQ(s.gpus.size(), 1U) << name;
        EXPECT_LE(s.package->wraps, 1) << name;
        EXPECT_EQ(s.package->drops, 0) << name;
        if (s.package->wraps > 0) ++wrapped;
    }
    EXPECT_EQ(wrapped, kFilesWithPackageWrap);
}

TEST_F(EnergibridgeDataset, MatchesIndependentPythonReference) {
    const auto& files = s_reference.at("files");
    ASSERT_EQ(files.size(), kFileCount);
    for (const auto& [name, ref] : files.items()) {
        const auto it = s_results.find(name);
        ASSERT_NE(it, s_results.end()) << name;
        ASSERT_TRUE(it->second.summary.has_value()) << name;
        const auto& s = *it->second.summary;
        EXPECT_EQ(s.rows, ref.at("rows").get<std::size_t>()) << name;
        EXPECT_NEAR(s.duration.count(), ref.at("duration_s").get<double>(), 1e-9) << name;
        const std::pair<const char*, const CounterSummary*> counters[] = {
            {"package", &*s.package}, {"dram", &*s.dram}, {"pp0", &*s.pp0}};
        for (const auto& [key, c] : counters) {
            const std::string k(key);
            // numpy sums the unwrapped steps; we add wraps to the end-to-end difference: the two
            // agree to rounding of ~100 additions of values near 2^18 J.
            EXPECT_NEAR(c->energy.value(), ref.at(k + "_energy_j").get<double>(), 1e-6) << name << k;
            EXPECT_EQ(c->wraps, ref.at(k + "_wraps").get<int>()) << name << k;
            EXPECT_EQ(c->naive.value(), ref.at("energibridge_" + k + "_energy_j").get<double>())
                << name << k;
        }
        const double gpu_ref = ref.at("gpu_energy_j").get<double>();
        EXPECT_NEAR(s.gpu_energy->value(), gpu_ref, 1e-9 * gpu_ref) << name;
        EXPECT_NEAR(*s.gpu_mean_utilisation, ref.at("gpu_mean_utilisation").get<double>(), 1e-12)
            << name;
    }
}

TEST_F(EnergibridgeDataset, WrappedRunsComeOutAsOrdinaryRuns) {
    // Per variant: range of unwrapped package energy over the runs without a wrap.
    std::map<std::string, std::pair<double, double>> range;
    for (const auto& [name, result] : s_results) {
        const auto& s = *result.summary;
        if (s.package->wraps > 0) continue;
        const std::string variant = name.substr(0, name.find('/'));
        auto [it, fresh] = range.try_emplace(variant, std::numeric_limits<double>::max(),
                                             std::numeric_limits<double>::lowest());
        it->second.first = std::min(it->second.first, s.package->energy.value());
        it->second.second = std::max(it->second.second, s.package->energy.value());
    }
    int checked = 0;
    for (const auto& [name, result] : s_results) {
        const auto& s = *result.summary;
        if (s.package->wraps == 0) continue;
        ++checked;
        const double energy = s.package->energy.value();
        const double naive = s.package->naive.value();
        // EnergiBridge's difference is the unwrapped energy minus one full counter range, exactly.
        EXPECT_EQ(naive, energy - s.package->wraps * kDefaultWrapJ) << name;
        EXPECT_LT(naive, 0.0) << name;
        EXPECT_GT(naive, -kDefaultWrapJ) << name;
        // ... while the unwrapped energy lies among the same variant's unwrapped runs. The band
        // is 10% wide because nvcr_idle_0 (the first idle run of its block, 10.0 W against
        // 11.4 W for the others) sits 7% below the rest.
        const auto [lo, hi] = range.at(name.substr(0, name.find('/')));
        EXPECT_GE(energy, 0.9 * lo) << name;
        EXPECT_LE(energy, 1.1 * hi) << name;
        if (name.find("_idle/") == std::string::npos) {
            // The inference runs: about -224 kJ according to EnergiBridge, ~38 kJ in truth.
            EXPECT_NEAR(naive, -224000.0, 1500.0) << name;
            EXPECT_GE(energy, lo) << name;
            EXPECT_LE(energy, hi) << name;
        }
    }
    EXPECT_EQ(checked, kFilesWithPackageWrap);
}

// What README says of the 21 wrapped runs: 19 inference runs that EnergiBridge puts at about
// -224 kJ come out at 37 to 39 kJ; the other two are idle runs it puts at about -260 kJ, which
// come out at about 2 kJ.
TEST_F(EnergibridgeDataset, WrappedRunsAre19InferenceRunsOf38KjAndTwoIdleRunsOf2Kj) {
    std::vector<std::string> idle;
    int inference = 0;
    for (const auto& [name, result] : s_results) {
        const auto& s = *result.summary;
        if (s.package->wraps == 0) continue;
        const double kj = s.package->energy.value() / 1000.0;
        const double naive_kj = s.package->naive.value() / 1000.0;
        if (name.find("_idle/") != std::string::npos) {
            idle.push_back(name);
            EXPECT_NEAR(kj, 2.1, 0.2) << name;
            EXPECT_NEAR(naive_kj, -260.0, 0.5) << name;
        } else {
            ++inference;
            EXPECT_NEAR(kj, 38.0, 1.0) << name;
            EXPECT_NEAR(naive_kj, -224.0, 1.0) << name;
        }
    }
    EXPECT_EQ(inference, 19);
    EXPECT_EQ(idle, (std::vector<std::string>{"nvcr_idle/energy_results_nvcr_0.csv",
                                              "ubuntu_idle/energy_results_ubuntu_28.csv"}));
}

TEST_F(EnergibridgeDataset, TotalsAddUp) {
    std::vector<ImportResult> results;
    double package = 0.0;
    for (const auto& [name, result] : s_results) {
        results.push_back(result);
        package += result.summary->package->energy.value();
    }
    const Totals t = compute_totals(results);
    EXPECT_EQ(t.files, kFileCount);
    EXPECT_EQ(t.failed, 0U);
    EXPECT_EQ(t.package_wraps.value_or(-1), kFilesWithPackageWrap);
    EXPECT_NEAR(t.package_energy.value_or(Joules(0.0)).value(), package, 1e-6);
    EXPECT_NEAR(t.package_energy.value_or(Joules(0.0)).value() -
                    t.energibridge_package_energy.value_or(Joules(0.0)).value(),
                kFilesWithPackageWrap * kDefaultWrapJ, 1e-3);
}

}  // namespace
}  // namespace joulebench::energibridge
