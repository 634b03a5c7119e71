// Gang mode's spread between GPUs (analysis/gpu_spread.hpp), from observations as
// Store::observations() gives them.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "analysis/gpu_spread.hpp"

namespace joulebench::analysis {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

RunRecord instance(const std::string& env, double cap, int gpu, double energy, double wall,
                   RunStatus status = RunStatus::kDone) {
    RunRecord r;
    r.run_id = env + std::to_string(cap) + std::to_string(gpu) + std::to_string(energy);
    r.workload = "w";
    r.environment = env;
    r.gpu_cap_w = cap;
    r.status = status;
    r.instances = 2;
    r.instance = gpu;
    r.gpu = gpu;
    r.energy_j = energy;
    r.wall_s = wall;
    return r;
}

TEST(GpuSpread, EachGpusMedianAndHowFarItLiesAboveTheLowestUnderTheSameCap) {
    const std::vector<RunRecord> obs = {
        instance("bare", 150, 0, 100, 10), instance("bare", 150, 0, 102, 10),
        instance("bare", 150, 0, 98, 10),  instance("bare", 150, 1, 105, 11),
        instance("bare", 150, 1, 104, 11), instance("bare", 150, 1, 106, 12),
        instance("bare", 150, 1, 999, 99, RunStatus::kFailed),  // not done: left out
        instance("kvm", 150, 0, 110, 12),  instance("kvm", 150, 1, 121, 12),
    };
    Table t = gpu_spread_table(obs, "w", {"bare", "kvm"});
    ASSERT_EQ(t.rows.size(), 4U);
    EXPECT_THAT(t.note, Not(HasSubstr("attributed")));
    EXPECT_THAT(t.note, Not(HasSubstr("estimate")));
    EXPECT_THAT(t.rows[0], ::testing::ElementsAre("bare", "150 W", "0", "3", "100", "10", "+0.00"));
    EXPECT_THAT(t.rows[1], ::testing::ElementsAre("bare", "150 W", "1", "3", "105", "11", "+5.00"));
    EXPECT_THAT(t.rows[2], ::testing::ElementsAre("kvm", "150 W", "0", "1", "110", "12", "+0.00"));
    EXPECT_THAT(t.rows[3], ::testing::ElementsAre("kvm", "150 W", "1", "1", "121", "12", "+10.00"));

    // The note says how the energies were obtained.
    std::vector<RunRecord> marked = obs;
    marked[0].cpu_attributed = true;
    marked[1].total_includes_estimate = true;
    t = gpu_spread_table(marked, "w", {"bare", "kvm"});
    EXPECT_THAT(t.note, HasSubstr("attributed by CPU-time share"));
    EXPECT_THAT(t.note, HasSubstr("some include the CPU-time estimate"));
}

TEST(GpuSpread, RunsOutsideGangModeGiveATableWithoutRowsThatSaysSo) {
    RunRecord slots = instance("bare", 150, 0, 100, 10);
    slots.instances = 0;
    const Table t = gpu_spread_table({slots}, "w", {"bare"});
    EXPECT_TRUE(t.rows.empty());
    EXPECT_EQ(t.note, "No gang-mode runs.");
}

}  // namespace
}  // namespace joulebench::analysis
