// The marks beside a run's energy (run's progress line, sweep's table) from its measurement:
// the runner's own warnings (src/runner/runner.cpp) and total_includes_estimate.

#include "model/cpu_energy_marks.hpp"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

namespace joulebench {
namespace {

TEST(CpuEnergyMarks, ComeFromTheEstimateFlagAndTheRunnersWarnings) {
    const auto none = cpu_energy_marks(false, {"gpu0: energy counter reset once"});
    EXPECT_FALSE(none.estimated || none.attributed || none.shared);
    EXPECT_EQ(describe(none), "");

    const auto est = cpu_energy_marks(true, {});
    EXPECT_TRUE(est.estimated);
    EXPECT_EQ(describe(est), "CPU estimated");

    // The runner's texts (runner.cpp): "<id>: attributed: ..." and "<id>: shared: ...".
    const auto attributed = cpu_energy_marks(false, {"package0: attributed: 40.0% of 12.000 J by CPU time share"});
    EXPECT_TRUE(attributed.attributed);
    EXPECT_FALSE(attributed.shared);
    EXPECT_EQ(describe(attributed), "CPU attributed");
    const auto shared = cpu_energy_marks(
        true, {"package0: shared: other runs ran at the same time and the CPU time share is unknown, so this 3.000 J includes theirs"});
    EXPECT_TRUE(shared.shared);
    EXPECT_EQ(describe(shared), "CPU estimated, shared");
    // The words alone (a workload's own message) are not the runner's marker.
    EXPECT_FALSE(cpu_energy_marks(false, {"the data is shared between runs"}).shared);
}

TEST(CpuEnergyMarks, ReadTheStoredMeasurementDocument) {
    nlohmann::json m = {{"total_includes_estimate", false},
                        {"warnings", {"dram0: shared: other runs ran at the same time", 7, "package0: attributed: 50%"}}};
    const auto marks = cpu_energy_marks(m.dump());
    EXPECT_FALSE(marks.estimated);
    EXPECT_TRUE(marks.attributed);
    EXPECT_TRUE(marks.shared);
    EXPECT_EQ(describe(marks), "CPU attributed, shared");
    // Unreadable or absent documents mark nothing and never throw.
    for (const std::string bad : {"", "{", "[1,2]", "null", R"({"warnings": "x", "total_includes_estimate": 1})"}) {
        const auto b = cpu_energy_marks(bad);
        EXPECT_FALSE(b.estimated || b.attributed || b.shared) << bad;
    }
}

TEST(CpuEnergyMarks, CombineAcrossRunsAsAnyRunHasThem) {
    CpuEnergyMarks all;
    all |= cpu_energy_marks(true, {});
    EXPECT_EQ(describe(all), "CPU estimated");
    all |= cpu_energy_marks(false, {"package0: shared: x"});
    all |= cpu_energy_marks(false, {});  // an unmarked run clears nothing
    EXPECT_TRUE(all.estimated);
    EXPECT_FALSE(all.attributed);
    EXPECT_TRUE(all.shared);
}

}  // namespace
}  // namespace joulebench
