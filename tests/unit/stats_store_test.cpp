// `analyze DB` as a library: a real SQLite store written through the Store API (2 workloads x 3
// environments x 3 GPU caps x 5 repetitions, synthetic T and E, 3 runs that did not finish) is cut
// into blocks per workload and cap, failed runs are counted and left out, the cap table matches
// values worked out here from the synthetic table, and the "blocks far apart in time" rule fires
// for a blocked plan and not for a shuffled one.

#include <gtest/gtest.h>

#include <cmath>
#include <optional>
#include <string>
#include <vector>

#include "fakes/test_support.hpp"
#include "joulebench/error.hpp"
#include "analysis/store_analysis.hpp"
#include "unit/stats_store_fixture.hpp"

namespace {

using joulebench::Error;
using joulebench::Store;
using joulebench::analysis::analyse_store;
using joulebench::analysis::far_apart_in_time;
using joulebench::analysis::GroupStartTimes;
using joulebench::analysis::StoreAnalysis;
using joulebench::analysis::StoreAnalysisOptions;
using joulebench::analysis::StoreFactor;
namespace t = joulebench::test;

const std::vector<std::string> kWorkloads = {"resnet", "bert"};
const std::vector<std::string> kEnvs = {"bare", "docker", "podman"};
const std::vector<double> kCaps = {150, 200, 250};

StoreAnalysis analyse(const std::filesystem::path& db, StoreAnalysisOptions options = {}) {
    options.analysis.bootstrap.resamples = 200;  // CIs are not under test here
    const Store store(db, Store::Mode::kReadOnly);
    return analyse_store(store, options);
}

bool has_warning(const StoreAnalysis& a, const std::string& needle) {
    for (const auto& w : a.warnings) {
        if (w.find(needle) != std::string::npos) return true;
    }
    return false;
}

std::size_t count_warnings(const StoreAnalysis& a, const std::string& needle) {
    std::size_t n = 0;
    for (const auto& w : a.warnings) n += w.find(needle) != std::string::npos ? 1 : 0;
    return n;
}

class StatsStoreTest : public ::testing::Test {
protected:
    void SetUp() override {
        m_shuffled = m_dir.path() / "shuffled.db";
        m_blocked = m_dir.path() / "blocked.db";
        t::write_analyze_store(m_shuffled, "shuffled");
        t::write_analyze_store(m_blocked, "blocked");
    }
    t::TempDir m_dir{"joulebench-stats-store"};
    std::filesystem::path m_shuffled;
    std::filesystem::path m_blocked;
};

TEST_F(StatsStoreTest, OneBlockPerWorkloadAndCapWithEnvironmentsAsGroups) {
    const StoreAnalysis a = analyse(m_shuffled);
    EXPECT_EQ(a.experiment, "analyze-db");
    EXPECT_EQ(a.metric, "energy_j");
    ASSERT_TRUE(a.baseline.has_value());
    EXPECT_EQ(*a.baseline, "bare");  // the first environment of type bare
    ASSERT_EQ(a.blocks.size(), 6U);
    std::size_t i = 0;
    for (const auto& w : kWorkloads) {  // declared order, caps ascending
        for (double cap : kCaps) {
            const auto& b = a.blocks[i++];
            ASSERT_TRUE(b.workload.has_value());
            EXPECT_EQ(*b.workload, w);
            EXPECT_FALSE(b.environment.has_value());
            ASSERT_TRUE(b.has_gpu_cap && b.gpu_cap_w.has_value());
            EXPECT_EQ(*b.gpu_cap_w, cap);
            EXPECT_FALSE(b.cpu_cap_w.has_value());
            ASSERT_EQ(b.analysis.groups.size(), 3U);
            std::size_t n = 0;
            for (std::size_t g = 0; g < 3; ++g) {
                const auto& gs = b.analysis.groups[g];
                EXPECT_EQ(gs.name, kEnvs[g]);
                const t::CellValues cell = t::synthetic_cell(w, kEnvs[g], cap);
                EXPECT_EQ(gs.d.n, cell.e.size()) << w << " " << kEnvs[g] << " " << cap;
                EXPECT_NEAR(gs.d.median, t::plain_median(cell.e), 1e-9 * gs.d.median);
                n += cell.e.size();
            }
            EXPECT_EQ(b.runs, n);
            // Overheads against bare in every block: docker's energy is 5% above bare's at
            // every cap, except where a failed run moved a median.
            ASSERT_EQ(b.analysis.baseline.size(), 2U);
            EXPECT_EQ(b.analysis.baseline[0].group, "docker");
            const double expected =
                100.0 * (t::plain_median(t::synthetic_cell(w, "docker", cap).e) /
                             t::plain_median(t::synthetic_cell(w, "bare", cap).e) -
                         1.0);
            EXPECT_NEAR(b.analysis.baseline[0].overhead.pct, expected, 1e-9);
        }
    }
    // resnet at 150 W: docker 5% above bare exactly (no failed run in either).
    EXPECT_NEAR(a.blocks[0].analysis.baseline[0].overhead.pct, 5.0, 1e-9);
}

TEST_F(StatsStoreTest, CountsAndExcludesRunsThatDidNotFinish) {
    const StoreAnalysis a = analyse(m_shuffled);
    EXPECT_EQ(a.runs.status.total(), 90U);
    EXPECT_EQ(a.runs.status.done, 87U);
    EXPECT_EQ(a.runs.status.failed, 2U);
    EXPECT_EQ(a.runs.status.timeout, 1U);
    EXPECT_EQ(a.runs.used, 87U);
    EXPECT_TRUE(has_warning(a, "2 failed runs excluded"));
    EXPECT_TRUE(has_warning(a, "1 timed-out run excluded"));
    // resnet/docker/200 lost repetition 5: 4 values, median between repetitions 2 and 3.
    const auto& g = a.blocks[1].analysis.groups[1];
    ASSERT_EQ(g.name, "docker");
    EXPECT_EQ(g.d.n, 4U);
    EXPECT_NEAR(g.d.median, 1550.0 * 1.05 * (1.0 - 0.005), 1e-9);
}

TEST_F(StatsStoreTest, CapTableMatchesValuesWorkedOutByHand) {
    const StoreAnalysis a = analyse(m_shuffled);
    ASSERT_EQ(a.caps.size(), 1U);
    const auto& table = a.caps[0];
    EXPECT_EQ(table.domain, "gpu");
    EXPECT_FALSE(table.other_cap_w.has_value());
    EXPECT_EQ(table.baseline, "bare");
    const auto& caps = table.caps;
    ASSERT_EQ(caps.optima.size(), 6U);  // 3 environments x 2 workloads

    // By hand from the centres: resnet bare E 1500/1550/1800 -> 150 W; EDP 18000/15500/17100
    // -> 200 W; ED2P 216000/155000/162450 -> 200 W. bert bare E 700/720/800 -> 150 W; EDP
    // 5600/4320/4000 -> 250 W; ED2P 44800/25920/20000 -> 250 W.
    for (const auto& o : caps.optima) {
        SCOPED_TRACE(o.environment + "/" + o.workload);
        if (o.workload == "resnet") {
            EXPECT_EQ(o.cap_min_energy_w, 150.0);
            EXPECT_EQ(o.cap_min_edp_w, 200.0);
            EXPECT_EQ(o.cap_min_ed2p_w, 200.0);
        } else {
            EXPECT_EQ(o.cap_min_energy_w, 150.0);
            EXPECT_EQ(o.cap_min_edp_w, 250.0);
            EXPECT_EQ(o.cap_min_ed2p_w, 250.0);
        }
    }
    EXPECT_EQ(caps.optima[0].environment, "bare");
    EXPECT_EQ(caps.optima[0].workload, "resnet");
    EXPECT_NEAR(caps.optima[0].min_energy_j, 1500.0, 1e-9);
    EXPECT_NEAR(caps.optima[0].min_edp_js, 15500.0, 1e-9);
    EXPECT_NEAR(caps.optima[0].min_ed2p_js2, 155000.0, 1e-7);

    // Overheads per cap against bare from the medians of the synthetic runs, and their average
    // and maximum over the three caps.
    ASSERT_EQ(caps.overheads.size(), 12U);  // 2 environments x 2 workloads x 3 caps
    ASSERT_EQ(caps.summary.size(), 4U);
    for (const auto& s : caps.summary) {
        SCOPED_TRACE(s.environment + "/" + s.workload);
        EXPECT_EQ(s.caps, 3U);
        double t_sum = 0, e_sum = 0, edp_sum = 0, t_max = -1e9, e_max = -1e9, edp_max = -1e9;
        for (double cap : kCaps) {
            const t::CellValues env = t::synthetic_cell(s.workload, s.environment, cap);
            const t::CellValues base = t::synthetic_cell(s.workload, "bare", cap);
            const double tp = 100.0 * (t::plain_median(env.t) / t::plain_median(base.t) - 1.0);
            const double ep = 100.0 * (t::plain_median(env.e) / t::plain_median(base.e) - 1.0);
            const double dp = 100.0 * (t::plain_median(env.edp) / t::plain_median(base.edp) - 1.0);
            t_sum += tp;
            e_sum += ep;
            edp_sum += dp;
            t_max = std::max(t_max, tp);
            e_max = std::max(e_max, ep);
            edp_max = std::max(edp_max, dp);
        }
        EXPECT_NEAR(s.time_avg_pct, t_sum / 3.0, 1e-9);
        EXPECT_NEAR(s.time_max_pct, t_max, 1e-9);
        EXPECT_NEAR(s.energy_avg_pct, e_sum / 3.0, 1e-9);
        EXPECT_NEAR(s.energy_max_pct, e_max, 1e-9);
        EXPECT_NEAR(s.edp_avg_pct, edp_sum / 3.0, 1e-9);
        EXPECT_NEAR(s.edp_max_pct, edp_max, 1e-9);
    }
    // podman/resnet and bare/resnet lost no run: T overheads 1, 3, 5% -> avg 3, max 5; E 0, 2,
    // 4% -> avg 2; EDP (1.01 1.00, 1.03 1.02, 1.05 1.04) -> 1, 5.06, 9.2% -> avg 5.0866.., max 9.2.
    const auto it = std::find_if(caps.summary.begin(), caps.summary.end(), [](const auto& s) {
        return s.environment == "podman" && s.workload == "resnet";
    });
    ASSERT_NE(it, caps.summary.end());
    EXPECT_NEAR(it->time_avg_pct, 3.0, 1e-9);
    EXPECT_NEAR(it->time_max_pct, 5.0, 1e-9);
    EXPECT_NEAR(it->energy_avg_pct, 2.0, 1e-9);
    EXPECT_NEAR(it->energy_max_pct, 4.0, 1e-9);
    EXPECT_NEAR(it->edp_avg_pct, (1.0 + 5.06 + 9.2) / 3.0, 1e-9);
    EXPECT_NEAR(it->edp_max_pct, 9.2, 1e-9);
}

TEST_F(StatsStoreTest, BlockedPlanIsWarnedShuffledIsNot) {
    const StoreAnalysis shuffled = analyse(m_shuffled);
    EXPECT_EQ(count_warnings(shuffled, "far apart in time"), 0U);
    for (const auto& b : shuffled.blocks) EXPECT_TRUE(b.time_warnings.empty());

    const StoreAnalysis blocked = analyse(m_blocked);
    // Every block: its three environments ran one after the other, three pairs do not overlap.
    ASSERT_EQ(blocked.blocks.size(), 6U);
    for (const auto& b : blocked.blocks) {
        ASSERT_EQ(b.time_warnings.size(), 3U);
        EXPECT_NE(b.time_warnings[0].find("do not overlap in time"), std::string::npos)
            << b.time_warnings[0];
    }
    EXPECT_EQ(count_warnings(blocked, "groups were measured in blocks far apart in time"), 18U);
    EXPECT_TRUE(has_warning(blocked, "workload 'resnet', GPU cap 150 W: groups were measured"));
    // The statistics themselves do not depend on the order.
    EXPECT_NEAR(blocked.blocks[0].analysis.groups[0].d.median,
                shuffled.blocks[0].analysis.groups[0].d.median, 1e-12);
}

TEST(StatsStoreTimeRule, OverlapAndMedianDistance) {
    // Interleaved: no warning.
    std::vector<GroupStartTimes> g = {{"a", {0, 20, 40, 60, 80}}, {"b", {10, 30, 50, 70, 90}}};
    EXPECT_TRUE(far_apart_in_time(g).empty());
    // Disjoint ranges.
    g = {{"a", {0, 10, 20}}, {"b", {30, 40, 50}}};
    auto w = far_apart_in_time(g);
    ASSERT_EQ(w.size(), 1U);
    EXPECT_EQ(w[0], "'a' (runs 1-3 of 6 by start time) and 'b' (runs 4-6) do not overlap in time");
    // Overlapping, but medians 70 s apart out of a 100 s span (> 50%).
    g = {{"a", {0, 10, 20, 30, 100}}, {"b", {25, 80, 90, 95, 100}}};
    w = far_apart_in_time(g);
    ASSERT_EQ(w.size(), 1U);
    EXPECT_NE(w[0].find("70 s apart, 70% of the block's 100 s (threshold 50%)"), std::string::npos)
        << w[0];
    // Same data, a threshold above 70%: no warning.
    EXPECT_TRUE(far_apart_in_time(g, 0.75).empty());
    // Groups with one run cannot be interleaved: not judged. No span: nothing.
    g = {{"a", {0}}, {"b", {100}}};
    EXPECT_TRUE(far_apart_in_time(g).empty());
    g = {{"a", {5, 5}}, {"b", {5, 5}}};
    EXPECT_TRUE(far_apart_in_time(g).empty());
    EXPECT_THROW((void)far_apart_in_time(g, 0.0), Error);
    EXPECT_THROW((void)far_apart_in_time(g, 1.5), Error);
}

TEST_F(StatsStoreTest, OtherMetricsFactorsAndBaselines) {
    StoreAnalysisOptions o;
    o.metric = "wall_s";
    StoreAnalysis a = analyse(m_shuffled, o);
    EXPECT_NEAR(a.blocks[0].analysis.groups[0].d.median, 12.0, 1e-12);
    o.metric = "gpu_energy_j";
    a = analyse(m_shuffled, o);
    EXPECT_NEAR(a.blocks[0].analysis.groups[0].d.median, 0.7 * 1500.0, 1e-9);
    o.metric = "edp_js";
    a = analyse(m_shuffled, o);
    EXPECT_NEAR(a.blocks[0].analysis.groups[0].d.median, 18000.0, 1e-7);

    // Caps as groups: one block per workload and environment, groups "150 W", "200 W", "250 W".
    o = {};
    o.by = StoreFactor::kGpuCap;
    o.baseline = "250 W";
    a = analyse(m_shuffled, o);
    ASSERT_EQ(a.blocks.size(), 6U);
    EXPECT_EQ(*a.blocks[0].workload, "resnet");
    EXPECT_EQ(*a.blocks[0].environment, "bare");
    EXPECT_FALSE(a.blocks[0].has_gpu_cap);
    ASSERT_EQ(a.blocks[0].analysis.groups.size(), 3U);
    EXPECT_EQ(a.blocks[0].analysis.groups[0].name, "150 W");
    EXPECT_EQ(a.blocks[0].analysis.groups[2].name, "250 W");
    ASSERT_EQ(a.caps.size(), 1U);
    EXPECT_EQ(a.caps[0].baseline, "bare");  // the cap table compares environments

    // Another baseline environment.
    o = {};
    o.baseline = "docker";
    a = analyse(m_shuffled, o);
    EXPECT_EQ(a.caps[0].baseline, "docker");
    EXPECT_EQ(a.blocks[0].analysis.baseline[0].group, "bare");

    // A baseline that is no group, an unknown metric.
    o = {};
    o.baseline = "kvm";
    try {
        (void)analyse(m_shuffled, o);
        FAIL() << "expected an error";
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("use baseline 'kvm': no done run has environment "
                                             "'kvm'"),
                  std::string::npos)
            << e.what();
        EXPECT_NE(e.hint().find("'bare', 'docker', 'podman'"), std::string::npos) << e.hint();
    }
    o = {};
    o.metric = "joules";
    EXPECT_THROW((void)analyse(m_shuffled, o), Error);
}

// Every energy `analyze DB` shows says when it includes the CPU-time estimate: the blocks whose
// runs' energy does, the cap tables built from them, a note under the opening line, the JSON.
TEST_F(StatsStoreTest, SaysWhichEnergiesIncludeTheCpuEstimate) {
    const Store store(m_shuffled, Store::Mode::kReadOnly);
    std::vector<joulebench::RunRecord> runs = store.observations();
    for (auto& r : runs) r.total_includes_estimate = r.workload == "bert";
    const auto experiment = store.experiment();
    const auto parsed = joulebench::analysis::parse_store_experiment(&*experiment);
    StoreAnalysisOptions o;
    o.analysis.bootstrap.resamples = 200;
    const StoreAnalysis a = joulebench::analysis::analyse_store_runs(runs, parsed, o, "x.db");
    EXPECT_TRUE(a.cpu.estimated);
    EXPECT_FALSE(a.cpu.attributed || a.cpu.shared);
    for (const auto& b : a.blocks) EXPECT_EQ(b.cpu.estimated, *b.workload == "bert");

    using joulebench::TableFormat;
    const std::string text = joulebench::analysis::render(a, TableFormat::kText);
    EXPECT_NE(text.find("Note: CPU estimated: the energy of the runs under headings so marked "
                        "includes the CPU-time estimate (no CPU energy sensor; method "
                        "`estimated`), not a measured counter."),
              std::string::npos)
        << text;
    EXPECT_NE(text.find("== Block: workload 'bert', GPU cap 150 W (CPU estimated) =="),
              std::string::npos);
    EXPECT_NE(text.find("== Block: workload 'resnet', GPU cap 150 W =="), std::string::npos);
    EXPECT_NE(text.find("== Cap tables (CPU estimated) =="), std::string::npos);
    const std::string csv = joulebench::analysis::render(a, TableFormat::kCsv);
    EXPECT_NE(csv.find("block,bert,,150,,true,false,false\n"), std::string::npos) << csv;
    EXPECT_NE(csv.find("block,resnet,,150,,false,false,false\n"), std::string::npos);

    const auto j = joulebench::analysis::to_json(a);
    EXPECT_EQ(j.at("cpu_estimated"), true);
    EXPECT_EQ(j.at("cpu_attributed"), false);
    EXPECT_EQ(j.at("blocks").at(0).at("cpu_estimated"), false);  // resnet comes first
    EXPECT_EQ(j.at("blocks").at(3).at("cpu_estimated"), true);

    // Times are no energies: without the cap tables nothing is marked.
    o.metric = "wall_s";
    o.cap_tables = false;
    const std::string times = joulebench::analysis::render(
        joulebench::analysis::analyse_store_runs(runs, parsed, o, "x.db"), TableFormat::kText);
    EXPECT_EQ(times.find("CPU estimated"), std::string::npos) << times;
}

TEST(StatsStore, StoreWithoutDoneRunsIsAnError) {
    const t::TempDir dir("joulebench-stats-store");
    const auto db = dir.path() / "planned.db";
    {
        const auto spec = joulebench::parse_experiment_text(t::analyze_store_experiment("shuffled"),
                                                            "analyze-db.toml");
        Store store(db);
        store.record_experiment(joulebench::experiment_record(spec));
        store.add_planned_runs(joulebench::make_plan(spec).runs);
    }
    try {
        (void)analyse(db);
        FAIL() << "expected an error";
    } catch (const Error& e) {
        EXPECT_EQ(e.category(), joulebench::ErrorCategory::kNotFound);
        EXPECT_NE(std::string(e.what()).find("no done run with a value of energy_j (90 runs: 0 "
                                             "done, 0 failed, 0 timeout, 0 interrupted, 90 not "
                                             "run)"),
                  std::string::npos)
            << e.what();
    }
}

}  // namespace

namespace {

// `analyze DB` without --by compares along what the runs vary: environment first, then
// workload, GPU cap, CPU cap (issue 22, item 11: quickstart's two workloads on one environment
// showed no comparison).
TEST(VaryingFactor, TheFirstFactorWithMoreThanOneLevel) {
    using joulebench::RunRecord;
    using joulebench::analysis::varying_factor;
    const auto run = [](std::string w, std::string e, std::optional<double> gpu, std::optional<double> cpu) {
        RunRecord r;
        r.workload = std::move(w);
        r.environment = std::move(e);
        r.gpu_cap_w = gpu;
        r.cpu_cap_w = cpu;
        return r;
    };
    const std::vector<RunRecord> one_env{run("a", "bare", 150, {}), run("b", "bare", 250, {})};
    EXPECT_EQ(varying_factor(one_env), StoreFactor::kWorkload);
    const std::vector<RunRecord> two_env{run("a", "bare", {}, {}), run("a", "docker", {}, {})};
    EXPECT_EQ(varying_factor(two_env), StoreFactor::kEnvironment);
    const std::vector<RunRecord> caps{run("a", "bare", 150, {}), run("a", "bare", {}, {})};
    EXPECT_EQ(varying_factor(caps), StoreFactor::kGpuCap);
    const std::vector<RunRecord> cpu{run("a", "bare", {}, 50), run("a", "bare", {}, 60)};
    EXPECT_EQ(varying_factor(cpu), StoreFactor::kCpuCap);
    const std::vector<RunRecord> none{run("a", "bare", {}, {})};
    EXPECT_EQ(varying_factor(none), StoreFactor::kEnvironment);
}

}  // namespace
