// analyze --phase (src/analysis/phase_runs.hpp): the runs as one marked phase sees them.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <vector>

#include "analysis/phase_runs.hpp"

namespace joulebench::analysis {
namespace {

using ::testing::HasSubstr;

RunRecord run(const std::string& id, RunStatus status = RunStatus::kDone, int instance = 0) {
    RunRecord r;
    r.run_id = id;
    r.status = status;
    r.instance = instance;
    r.wall_s = 10.0;
    r.energy_j = 1000.0;
    r.gpu_energy_j = 800.0;
    r.cpu_energy_j = 200.0;
    r.edp_js = 10000.0;
    r.ed2p_js2 = 100000.0;
    r.net_energy_j = 500.0;
    return r;
}

MarkedPhaseRecord phase(const std::string& run_id, const std::string& name, double wall_s, double gpu_j,
                        double cpu_j, int instance = 0, bool ended_by_run = false) {
    MarkedPhaseRecord p;
    p.run_id = run_id;
    p.instance = instance;
    p.phase.name = name;
    p.phase.wall_s = wall_s;
    p.phase.energy_j = gpu_j + cpu_j;
    p.phase.ended_by_run = ended_by_run;
    p.phase.domains = {{"gpu0", gpu_j, Method::kCounter, true},
                       {"package0", cpu_j, Method::kCounter, true},
                       {"core0", 1.0, Method::kCounter, false}};
    return p;
}

DomainKinds kinds_of(const std::vector<std::pair<std::string, int>>& runs) {
    DomainKinds k;
    for (const auto& key : runs) k[key] = {{"gpu0", "gpu"}, {"package0", "package"}, {"core0", "core"}};
    return k;
}

TEST(PhaseRuns, APhaseGivesTimeEnergyItsPartsAndEdpOfItsOwn) {
    const std::vector<RunRecord> runs{run("r1")};
    const std::vector<MarkedPhaseRecord> phases{phase("r1", "warmup", 1.0, 50.0, 10.0),
                                                phase("r1", "measured", 2.0, 300.0, 40.0)};
    const PhaseRuns p = phase_runs(runs, phases, kinds_of({{"r1", 0}}), "measured");
    ASSERT_EQ(p.runs.size(), 1U);
    const RunRecord& r = p.runs[0];
    EXPECT_DOUBLE_EQ(*r.wall_s, 2.0);
    EXPECT_DOUBLE_EQ(*r.energy_j, 340.0);
    EXPECT_DOUBLE_EQ(*r.gpu_energy_j, 300.0);
    EXPECT_DOUBLE_EQ(*r.cpu_energy_j, 40.0);
    EXPECT_DOUBLE_EQ(*r.edp_js, 680.0);
    EXPECT_DOUBLE_EQ(*r.ed2p_js2, 1360.0);
    EXPECT_FALSE(r.net_energy_j.has_value());
    EXPECT_EQ(p.marked, 1U);
    EXPECT_TRUE(p.warnings.empty());
}

TEST(PhaseRuns, RepeatedPhasesAreSummedAndUnendedOnesCounted) {
    const std::vector<RunRecord> runs{run("r1"), run("r2")};
    const std::vector<MarkedPhaseRecord> phases{
        phase("r1", "epoch", 1.0, 100.0, 0.0), phase("r1", "epoch", 3.0, 300.0, 0.0),
        phase("r2", "epoch", 2.0, 200.0, 0.0, 0, /*ended_by_run=*/true)};
    const PhaseRuns p = phase_runs(runs, phases, kinds_of({{"r1", 0}, {"r2", 0}}), "epoch");
    EXPECT_DOUBLE_EQ(*p.runs[0].wall_s, 4.0);
    EXPECT_DOUBLE_EQ(*p.runs[0].energy_j, 400.0);
    EXPECT_DOUBLE_EQ(*p.runs[0].edp_js, 1600.0);
    EXPECT_EQ(p.repeated, 1U);
    EXPECT_EQ(p.unended, 1U);
    ASSERT_EQ(p.warnings.size(), 2U);
    EXPECT_THAT(p.warnings[0], HasSubstr("phase 'epoch': marked more than once in 1 run: their times and energies are summed"));
    EXPECT_THAT(p.warnings[1], HasSubstr("1 occurrence never ended: it ends with the run"));
}

TEST(PhaseRuns, UnmarkedDoneRunsLoseTheirValuesOtherStatusesPassAndGangInstancesMatch) {
    const std::vector<RunRecord> runs{run("r1", RunStatus::kDone, 0), run("r1", RunStatus::kDone, 1),
                                      run("r2"), run("r3", RunStatus::kFailed)};
    const std::vector<MarkedPhaseRecord> phases{phase("r1", "p", 1.0, 10.0, 0.0, 1)};
    const PhaseRuns p = phase_runs(runs, phases, kinds_of({{"r1", 1}}), "p");
    ASSERT_EQ(p.runs.size(), 4U);
    EXPECT_FALSE(p.runs[0].energy_j.has_value());  // instance 0 did not mark it
    EXPECT_DOUBLE_EQ(*p.runs[1].energy_j, 10.0);
    EXPECT_FALSE(p.runs[2].wall_s.has_value());
    EXPECT_EQ(p.runs[3].status, RunStatus::kFailed);
    EXPECT_DOUBLE_EQ(*p.runs[3].energy_j, 1000.0);
    EXPECT_EQ(p.marked, 1U);
    EXPECT_EQ(p.unmarked, 2U);
    ASSERT_EQ(p.warnings.size(), 1U);
    EXPECT_EQ(p.warnings[0], "phase 'p': 2 done runs did not mark it and are left out");
}

TEST(PhaseRuns, AnUnreadDomainLeavesTheEnergyUnknownButTheTime) {
    const std::vector<RunRecord> runs{run("r1")};
    std::vector<MarkedPhaseRecord> phases{phase("r1", "p", 1.5, 10.0, 5.0)};
    phases[0].phase.energy_j.reset();
    const PhaseRuns p = phase_runs(runs, phases, kinds_of({{"r1", 0}}), "p");
    EXPECT_DOUBLE_EQ(*p.runs[0].wall_s, 1.5);
    EXPECT_FALSE(p.runs[0].energy_j.has_value());
    EXPECT_FALSE(p.runs[0].edp_js.has_value());
    EXPECT_EQ(p.unread, 1U);
    EXPECT_THAT(p.warnings.back(), HasSubstr("its energy is unknown in 1 run"));
}

TEST(PhaseRuns, TheCpuEstimateInAPhaseAndASharedCpuAreMarked) {
    std::vector<RunRecord> runs{run("r1")};
    runs[0].cpu_attributed = true;
    std::vector<MarkedPhaseRecord> phases{phase("r1", "p", 1.0, 10.0, 5.0)};
    phases[0].phase.domains[1].id = "cpu-estimate";
    DomainKinds k;
    k[{"r1", 0}] = {{"gpu0", "gpu"}, {"cpu-estimate", "estimated-cpu"}};
    const PhaseRuns p = phase_runs(runs, phases, k, "p");
    EXPECT_TRUE(p.runs[0].total_includes_estimate);
    EXPECT_TRUE(p.runs[0].cpu_shared);
    EXPECT_FALSE(p.runs[0].cpu_attributed);
    EXPECT_DOUBLE_EQ(*p.runs[0].cpu_energy_j, 5.0);
}

}  // namespace
}  // namespace joulebench::analysis
