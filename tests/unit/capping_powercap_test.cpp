// The CPU package capper against fake powercap trees: the long-term constraint is written in
// microwatts, read back, range-checked against constraint_0_max_power_uw, and restored.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "capping/cap_session.hpp"
#include "capping/powercap_capper.hpp"
#include "capping/scoped_cap.hpp"
#include "fakes/fake_powercap_builder.hpp"
#include "fakes/test_support.hpp"
#include "joulebench/error.hpp"

namespace joulebench::capping {
namespace {

using ::testing::HasSubstr;
using test::FakePowercapTree;
using test::read_file;
using test::TempDir;

class PowercapCapperTest : public ::testing::Test {
protected:
    TempDir m_dir{"joulebench-powercap-caps"};
    FakePowercapTree m_tree{m_dir.path() / "powercap"};
    CapJournal m_journal{m_dir.path() / "state" / "caps"};

    std::string limit_of(const std::string& zone) {
        return read_file(m_tree.root() / zone / "constraint_0_power_limit_uw");
    }
    std::vector<std::unique_ptr<PowercapCapper>> cappers() {
        std::vector<std::string> skipped;
        return powercap_package_cappers(m_tree.root(), skipped);
    }
};

TEST_F(PowercapCapperTest, FindsOnlyPackageZonesWithTheirLongTermConstraint) {
    m_tree.add_typical_socket(0, 40.0, 20.0, 4.0);
    m_tree.add_typical_socket(1, 40.0, 20.0, 4.0);
    m_tree.add_zone("intel-rapl:2", "psys", 90.0);
    const auto list = cappers();
    ASSERT_EQ(list.size(), 2U);
    const auto& c = *list[1];
    EXPECT_EQ(c.info().id, "package1");
    EXPECT_EQ(c.info().key, "intel-rapl:1");
    EXPECT_EQ(c.info().backend, "powercap");
    EXPECT_EQ(c.info().label, "CPU package 1 (intel-rapl:1)");
    EXPECT_EQ(c.current_limit(), Watts(165.0));
    EXPECT_EQ(c.enforced_limit(), Watts(165.0));
    EXPECT_EQ(c.constraints().min, Watts(1.0));
    EXPECT_EQ(c.constraints().max, Watts(205.0));
    EXPECT_FALSE(c.default_limit());
}

TEST_F(PowercapCapperTest, ScopedCapWritesMicrowattsAndRestoresTheOriginal) {
    m_tree.add_typical_socket(0, 40.0, 20.0, 4.0);
    {
        ScopedCap cap(std::move(cappers().at(0)), Watts(100.5), m_journal);
        EXPECT_EQ(limit_of("intel-rapl:0"), "100500000\n");
        EXPECT_EQ(cap.outcome().original, Watts(165.0));
        const auto entry = m_journal.find("powercap", "intel-rapl:0");
        ASSERT_TRUE(entry);
        EXPECT_EQ(entry->original_limit_uw, 165000000U);
        EXPECT_EQ(entry->source, (m_tree.root() / "intel-rapl:0").string());
        EXPECT_EQ(entry->name, "package-0");
        // The short-term constraint is not touched.
        EXPECT_EQ(read_file(m_tree.root() / "intel-rapl:0" / "constraint_1_power_limit_uw"), "198000000\n");
    }
    EXPECT_EQ(limit_of("intel-rapl:0"), "165000000\n");
    EXPECT_TRUE(m_journal.list().empty());
}

TEST_F(PowercapCapperTest, OutOfRangeNamesTheRangeAndWritesNothing) {
    m_tree.add_typical_socket(0, 40.0, 20.0, 4.0);
    try {
        ScopedCap cap(std::move(cappers().at(0)), Watts(250.0), m_journal);
        FAIL();
    } catch (const Error& e) {
        EXPECT_EQ(e.exit_code(), 2);
        EXPECT_THAT(e.what(), HasSubstr("CPU package 0 (intel-rapl:0) to 250 W: outside the allowed range 1 W to 205 W"));
    }
    EXPECT_EQ(limit_of("intel-rapl:0"), "165000000\n");
}

TEST_F(PowercapCapperTest, WithoutAMaxTheFallbackBoundApplies) {
    m_tree.add_zone("intel-rapl:0", "package-0", 10.0);
    m_tree.write_file("intel-rapl:0", "constraint_0_name", "long_term\n");
    m_tree.write_file("intel-rapl:0", "constraint_0_power_limit_uw", "65000000\n");
    m_tree.write_file("intel-rapl:0", "constraint_0_max_power_uw", "0\n");
    EXPECT_EQ(cappers().at(0)->constraints().max, Watts(kPowercapFallbackMaxW));
}

TEST_F(PowercapCapperTest, AZoneWithoutALongTermConstraintIsSkippedWithAReason) {
    m_tree.add_zone("intel-rapl:0", "package-0", 10.0);
    m_tree.add_zone("intel-rapl:1", "package-1", 10.0);
    m_tree.write_file("intel-rapl:1", "constraint_0_name", "short_term\n");
    std::vector<std::string> skipped;
    EXPECT_TRUE(powercap_package_cappers(m_tree.root(), skipped).empty());
    ASSERT_EQ(skipped.size(), 2U);
    EXPECT_THAT(skipped[0], HasSubstr("has no constraint_0"));
    EXPECT_THAT(skipped[1], HasSubstr("constraint_0 is 'short_term', not long_term"));
    CapRequest request;
    request.cpu_packages = Watts(50.0);
    CapEnvironment env;
    env.powercap_root = m_tree.root();
    try {
        (void)resolve_request(request, env);
        FAIL();
    } catch (const Error& e) {
        EXPECT_EQ(e.category(), ErrorCategory::kNotSupported);
        EXPECT_THAT(e.what(), HasSubstr("no CPU package can be capped"));
    }
}

TEST_F(PowercapCapperTest, DisabledLimitingIsWarnedAbout) {
    m_tree.add_typical_socket(0, 40.0, 20.0, 4.0);
    EXPECT_TRUE(cappers().at(0)->warnings().empty());
    m_tree.write_file("intel-rapl:0", "enabled", "0\n");
    const auto warnings = cappers().at(0)->warnings();
    ASSERT_EQ(warnings.size(), 1U);
    EXPECT_THAT(warnings[0], HasSubstr("not enforced"));
}

TEST_F(PowercapCapperTest, AGarbledLimitFileIsAnErrorNamingIt) {
    m_tree.add_typical_socket(0, 40.0, 20.0, 4.0);
    m_tree.write_file("intel-rapl:0", "constraint_0_power_limit_uw", "lots\n");
    try {
        (void)cappers().at(0)->current_limit();
        FAIL();
    } catch (const Error& e) {
        EXPECT_THAT(e.what(), HasSubstr("constraint_0_power_limit_uw: 'lots' is not a number of microwatts"));
    }
}

TEST_F(PowercapCapperTest, ReplayFindsTheZoneByItsJournalledFolder) {
    m_tree.add_typical_socket(0, 40.0, 20.0, 4.0);
    auto capper = std::move(cappers().at(0));
    JournalEntry leftover = new_journal_entry(capper->info(), Watts(165.0), std::nullopt, Watts(80.0));
    leftover.owner.pid = 1;
    leftover.owner.start_ticks = 1;
    m_journal.create(leftover);
    m_tree.write_file("intel-rapl:0", "constraint_0_power_limit_uw", "80000000\n");
    CapperFactory factory;
    const auto report = restore_journal(m_journal, factory, {});
    EXPECT_TRUE(report.ok()) << (report.failed.empty() ? "" : report.failed[0]);
    EXPECT_EQ(report.restored.size(), 1U);
    EXPECT_EQ(limit_of("intel-rapl:0"), "165000000\n");
    EXPECT_TRUE(m_journal.list().empty());
}

}  // namespace
}  // namespace joulebench::capping
