// `sweep` below the CLI: its experiment built in memory (model/sweep) and its per-cap summary
// (analysis/sweep_summary) over stored runs, with the medians analyse_caps exposes.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "analysis/sweep_summary.hpp"
#include "joulebench/error.hpp"
#include "model/sweep.hpp"

namespace joulebench {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

TEST(SweepExperiment, IsOneBareWorkloadUnderEveryCapWithNoFileLocation) {
    SweepRequest r;
    r.command = {"sh", "-c", "echo \"quoted\" \\\\ done"};
    r.caps_w = parse_sweep_caps("150:250:50");
    r.repetitions = 2;
    r.seed = 9;
    r.gpus = "0,2";
    const ExperimentSpec spec = sweep_experiment(r);
    EXPECT_EQ(spec.source_name, "(joulebench sweep)");
    ASSERT_EQ(spec.workloads.size(), 1U);
    EXPECT_EQ(spec.workloads[0].name, "sweep");
    EXPECT_EQ(spec.workloads[0].command, r.command);  // any argument survives the TOML text
    ASSERT_EQ(spec.environments.size(), 1U);
    EXPECT_EQ(spec.environments[0].type, EnvironmentType::kBare);
    EXPECT_THAT(spec.power_caps.gpu_w, ElementsAre(150.0, 200.0, 250.0));
    EXPECT_EQ(spec.repetitions, 2U);
    EXPECT_EQ(spec.seed, 9U);
    ASSERT_TRUE(spec.gpus.has_value());
    EXPECT_THAT(spec.gpus->devices, ElementsAre(0, 2));
    EXPECT_EQ(to_string(spec.power_caps.gpu_where), "");  // messages name no file
    EXPECT_EQ(make_plan(spec).runs.size(), 6U);
    // The recorded text parses to the same experiment (what analyze and report read back).
    const auto again = parse_experiment_text(spec.source_text, "x.toml");
    EXPECT_EQ(again.source_sha256, spec.source_sha256);
    EXPECT_EQ(again.workloads[0].command, r.command);
}

TEST(SweepExperiment, RefusesGpusThatAreNoIndicesAndBadCaps) {
    SweepRequest r;
    r.command = {"true"};
    r.caps_w = {150};
    r.gpus = "0,x";
    try {
        (void)sweep_experiment(r);
        FAIL() << "no error";
    } catch (const Error& e) {
        EXPECT_THAT(std::string(e.what()), HasSubstr("sweep: parse --gpus '0,x': 'x' is not a GPU index"));
    }
    EXPECT_THROW((void)parse_sweep_caps("250:150:50"), Error);
    EXPECT_THROW((void)parse_sweep_caps("150,150"), Error);
    EXPECT_THAT(parse_sweep_caps("100:100.3:0.1"), ElementsAre(100.0, 100.1, 100.2, 100.3));
}

RunRecord run(double cap, RunStatus status, double t, double e) {
    RunRecord r;
    r.gpu_cap_w = cap;
    r.status = status;
    r.wall_s = t;
    r.energy_j = e;
    return r;
}

TEST(SweepSummary, MediansPerCapFailuresMarksAndTheBestCaps) {
    std::vector<RunRecord> runs = {run(150, RunStatus::kDone, 2.0, 100.0),
                                   run(150, RunStatus::kDone, 4.0, 80.0),
                                   run(150, RunStatus::kDone, 3.0, 90.0),
                                   run(200, RunStatus::kDone, 1.0, 120.0),
                                   run(200, RunStatus::kFailed, 1.0, 1.0),
                                   run(250, RunStatus::kTimeout, 0.0, 0.0),
                                   run(300, RunStatus::kDone, 1.0, 1.0)};  // not a cap of the sweep
    runs[3].cpu_attributed = true;
    runs[0].total_includes_estimate = true;
    const auto s = analysis::summarise_sweep(runs, {150, 200, 250});
    ASSERT_EQ(s.rows.size(), 3U);
    EXPECT_EQ(s.rows[0].n, 3U);
    EXPECT_DOUBLE_EQ(*s.rows[0].wall_s, 3.0);
    EXPECT_DOUBLE_EQ(*s.rows[0].energy_j, 90.0);
    EXPECT_DOUBLE_EQ(*s.rows[0].edp_js, 270.0);   // median of 200, 320, 270
    EXPECT_DOUBLE_EQ(*s.rows[0].ed2p_js2, 810.0);  // median of 400, 1280, 810
    EXPECT_TRUE(s.rows[0].cpu.estimated);
    EXPECT_EQ(s.rows[1].n, 1U);
    EXPECT_EQ(s.rows[1].failed, 1U);
    EXPECT_TRUE(s.rows[1].cpu.attributed);
    EXPECT_EQ(s.rows[2].n, 0U);
    EXPECT_EQ(s.rows[2].failed, 1U);
    EXPECT_FALSE(s.rows[2].energy_j.has_value());
    ASSERT_TRUE(s.best.has_value());
    EXPECT_EQ(s.best->cap_min_energy_w, 150.0);
    EXPECT_EQ(s.best->cap_min_edp_w, 200.0);
    const std::string table = render_table(analysis::sweep_table(s, "t"), TableFormat::kText);
    EXPECT_THAT(table, HasSubstr("90*"));
    EXPECT_THAT(table, HasSubstr("120+"));
    const std::string footer = analysis::sweep_footer(s);
    EXPECT_THAT(footer, HasSubstr("* CPU estimated"));
    EXPECT_THAT(footer, HasSubstr("+ CPU attributed"));
    EXPECT_THAT(footer, ::testing::Not(HasSubstr("CPU shared")));
    EXPECT_THAT(footer, HasSubstr("best cap: E 150 W, EDP 200 W, ED2P 200 W"));
    const auto j = analysis::to_json(s, {"true"});
    EXPECT_TRUE(j["caps"][2]["energy_j"].is_null());
    EXPECT_EQ(j["best"]["edp_js"], 200.0);
}

TEST(SweepSummary, NoFinishedRunHasNoBestCap) {
    const auto s = analysis::summarise_sweep({run(150, RunStatus::kFailed, 1, 1)}, {150});
    EXPECT_FALSE(s.best.has_value());
    EXPECT_THAT(analysis::sweep_footer(s), HasSubstr("best cap: none (no run finished)"));
    EXPECT_TRUE(analysis::to_json(s, {})["best"]["energy_j"].is_null());
}

}  // namespace
}  // namespace joulebench
