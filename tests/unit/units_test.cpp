#include <gtest/gtest.h>

#include "joulebench/error.hpp"
#include "joulebench/sensor.hpp"
#include "joulebench/units.hpp"

namespace joulebench {
namespace {

TEST(Units, EnergyOverTimeIsPower) {
    const Joules e(500.0);
    const Watts p = e / Seconds(2.0);
    EXPECT_DOUBLE_EQ(p.value(), 250.0);
    EXPECT_DOUBLE_EQ((p * Seconds(4.0)).value(), 1000.0);
}

TEST(Units, EdgeConversionsCarryTheirUnit) {
    EXPECT_DOUBLE_EQ(from_microjoules(262143328850ULL).value(), 262143.32885);
    EXPECT_DOUBLE_EQ(from_millijoules(1500).value(), 1.5);
    EXPECT_DOUBLE_EQ(from_milliwatts(250000).value(), 250.0);
    EXPECT_DOUBLE_EQ(from_microwatts(95000000).value(), 95.0);
}

TEST(Sensor, OnlyGpuPackageDramAndEstimateAddIntoTheTotal) {
    EXPECT_TRUE(counts_in_total(DomainKind::kGpu));
    EXPECT_TRUE(counts_in_total(DomainKind::kPackage));
    EXPECT_TRUE(counts_in_total(DomainKind::kDram));
    EXPECT_TRUE(counts_in_total(DomainKind::kEstimatedCpu));
    EXPECT_FALSE(counts_in_total(DomainKind::kCore));
    EXPECT_FALSE(counts_in_total(DomainKind::kUncore));
    EXPECT_FALSE(counts_in_total(DomainKind::kPsys));
    EXPECT_FALSE(counts_in_total(DomainKind::kPlatform));
}

TEST(Sensor, KindNamesRoundTrip) {
    for (auto kind : {DomainKind::kGpu, DomainKind::kPackage, DomainKind::kCore, DomainKind::kUncore,
                      DomainKind::kDram, DomainKind::kPsys, DomainKind::kEstimatedCpu,
                      DomainKind::kPlatform}) {
        EXPECT_EQ(domain_kind_from_string(to_string(kind)), kind);
    }
    EXPECT_EQ(to_string(DomainKind::kEstimatedCpu), "estimated-cpu");
    EXPECT_FALSE(domain_kind_from_string("gpus").has_value());
}

TEST(Error, InvalidArgumentIsAUsageError) {
    EXPECT_EQ(Error(ErrorCategory::kInvalidArgument, "x").exit_code(), 2);
    EXPECT_EQ(Error(ErrorCategory::kNoPermission, "x", "run as root").exit_code(), 1);
    EXPECT_EQ(system_error("open /x", 13).category(), ErrorCategory::kNoPermission);
}

}  // namespace
}  // namespace joulebench
