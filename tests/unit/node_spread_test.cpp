// analyze's warning when one cell's runs differ between the nodes they ran on (shards of one
// experiment on several nodes: docs/slurm.md).

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "analysis/node_spread.hpp"

namespace joulebench::analysis {
namespace {

using ::testing::HasSubstr;

RunRecord done(const std::string& workload, std::int64_t session, double energy) {
    RunRecord r;
    r.run_id = workload + std::to_string(session) + std::to_string(energy);
    r.workload = workload;
    r.environment = "bare";
    r.gpu_cap_w = 200.0;
    r.status = RunStatus::kDone;
    r.session_id = session;
    r.energy_j = energy;
    r.wall_s = 10.0;
    return r;
}

TEST(NodeDifferences, ACellThatDiffersBetweenNodesIsNamed) {
    std::vector<RunRecord> runs;
    for (int i = 0; i < 8; ++i) {
        runs.push_back(done("resnet", 1, 100.0 + i * 0.1));  // node a
        runs.push_back(done("resnet", 2, 130.0 + i * 0.1));  // node b: 30% more
        runs.push_back(done("bert", 1, 50.0 + i * 0.1));     // the same on both
        runs.push_back(done("bert", 2, 50.05 + i * 0.1));
    }
    const std::map<std::int64_t, std::string> nodes = {{1, "gpu01"}, {2, "gpu02"}};
    const auto warnings = node_differences(runs, nodes, "energy_j");
    ASSERT_EQ(warnings.size(), 1u);
    EXPECT_THAT(warnings[0], HasSubstr("resnet in bare at 200 W: energy_j differs between nodes"));
    EXPECT_THAT(warnings[0], HasSubstr("gpu01: median 100.35 of 8 runs"));
    EXPECT_THAT(warnings[0], HasSubstr("Bonferroni-adjusted over 2 cells"));
    // The same runs with their time, equal everywhere: nothing to say.
    EXPECT_TRUE(node_differences(runs, nodes, "wall_s").empty());
}

TEST(NodeDifferences, NothingOnOneNodeOrWithTooFewRuns) {
    std::vector<RunRecord> runs;
    for (int i = 0; i < 8; ++i) {
        runs.push_back(done("resnet", 1, 100.0 + i));
        runs.push_back(done("resnet", 2, 200.0 + i));
    }
    EXPECT_TRUE(node_differences(runs, {{1, "gpu01"}, {2, "gpu01"}}, "energy_j").empty());
    // Node b has one run of the cell: not tested.
    std::vector<RunRecord> few(runs.begin(), runs.begin() + 3);
    EXPECT_TRUE(node_differences(few, {{1, "gpu01"}, {2, "gpu02"}}, "energy_j").empty());
    // Failed runs do not count.
    for (auto& r : runs)
        if (r.session_id == 2) r.status = RunStatus::kFailed;
    EXPECT_TRUE(node_differences(runs, {{1, "gpu01"}, {2, "gpu02"}}, "energy_j").empty());
}

}  // namespace
}  // namespace joulebench::analysis
