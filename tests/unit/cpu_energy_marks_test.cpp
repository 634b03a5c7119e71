// The marks beside a run's energy (run's progress line, sweep's table) from the facts a
// measurement and a stored run carry: total_includes_estimate and each domain's sharing (set by
// the runner's CPU attribution, src/runner/attribution.cpp), never from warning texts.

#include "model/cpu_energy_marks.hpp"

#include <gtest/gtest.h>

namespace joulebench {
namespace {

DomainResult domain(const char* id, DomainKind kind, Sharing sharing) {
    DomainResult d;
    d.info.id = id;
    d.info.kind = kind;
    d.sharing = sharing;
    return d;
}

TEST(CpuEnergyMarks, ComeFromTheEstimateFlagAndTheDomainsSharing) {
    MeasureResult m;
    m.domains = {domain("gpu0", DomainKind::kGpu, Sharing::kAlone)};
    m.warnings = {make_warning(warning_code::kCounterReset, "gpu0: energy counter reset once")};
    const auto none = cpu_energy_marks(m);
    EXPECT_FALSE(none.estimated || none.attributed || none.shared);
    EXPECT_EQ(describe(none), "");

    m.total_includes_estimate = true;
    const auto est = cpu_energy_marks(m);
    EXPECT_TRUE(est.estimated);
    EXPECT_EQ(describe(est), "CPU estimated");

    MeasureResult a;
    a.domains = {domain("gpu0", DomainKind::kGpu, Sharing::kAlone),
                 domain("package0", DomainKind::kPackage, Sharing::kAttributed)};
    const auto attributed = cpu_energy_marks(a);
    EXPECT_TRUE(attributed.attributed);
    EXPECT_FALSE(attributed.shared);
    EXPECT_EQ(describe(attributed), "CPU attributed");

    MeasureResult s;
    s.total_includes_estimate = true;
    s.domains = {domain("package0", DomainKind::kPackage, Sharing::kShared)};
    const auto shared = cpu_energy_marks(s);
    EXPECT_TRUE(shared.shared);
    EXPECT_EQ(describe(shared), "CPU estimated, shared");
    // Words in a warning (a workload's own message, or the runner's) are not the fact.
    MeasureResult words;
    words.warnings = {make_warning(warning_code::kOther, "the data is shared between runs"),
                      make_warning(warning_code::kCpuShared, "package0: shared: x")};
    EXPECT_FALSE(cpu_energy_marks(words).shared);
}

TEST(CpuEnergyMarks, ReadTheStoredRunsFlags) {
    RunRecord r;
    r.cpu_attributed = true;
    r.cpu_shared = true;
    const auto marks = cpu_energy_marks(r);
    EXPECT_FALSE(marks.estimated);
    EXPECT_TRUE(marks.attributed);
    EXPECT_TRUE(marks.shared);
    EXPECT_EQ(describe(marks), "CPU attributed, shared");
    const auto nothing = cpu_energy_marks(RunRecord{});
    EXPECT_FALSE(nothing.estimated || nothing.attributed || nothing.shared);
}

TEST(CpuEnergyMarks, CombineAcrossRunsAsAnyRunHasThem) {
    CpuEnergyMarks all;
    RunRecord estimated;
    estimated.total_includes_estimate = true;
    all |= cpu_energy_marks(estimated);
    EXPECT_EQ(describe(all), "CPU estimated");
    RunRecord shared;
    shared.cpu_shared = true;
    all |= cpu_energy_marks(shared);
    all |= cpu_energy_marks(RunRecord{});  // an unmarked run clears nothing
    EXPECT_TRUE(all.estimated);
    EXPECT_FALSE(all.attributed);
    EXPECT_TRUE(all.shared);
}

}  // namespace
}  // namespace joulebench
