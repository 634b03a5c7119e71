// The powercap backend against fake powercap trees whose counters advance and wrap.

#include <gtest/gtest.h>

#include <algorithm>
#include <thread>

#include "fakes/fake_powercap_builder.hpp"
#include "fakes/test_support.hpp"
#include "joulebench/error.hpp"
#include "sensors/rapl/powercap_sensor.hpp"

namespace joulebench::rapl {
namespace {

using test::FakePowercapTree;
using test::TempDir;

TEST(Unwrapper, AddsDeltasAndCorrectsWraps) {
    Unwrapper u;
    u.range_uj = 1000;
    EXPECT_EQ(u.add(900), 0U);   // first reading: no delta
    EXPECT_EQ(u.add(950), 50U);
    EXPECT_EQ(u.add(20), 70U);   // 950 -> 1000 (50) -> 20 (20)
    EXPECT_EQ(u.wraps, 1U);
    EXPECT_EQ(u.add(20), 0U);
    EXPECT_EQ(u.add(10), 990U);  // a full range minus 10: a second wrap
    EXPECT_EQ(u.wraps, 2U);
}

TEST(Unwrapper, TheRealRaplRangeOfTheTuDelftHost) {
    // 2^32 x 2^-14 J, as the kernel reports it in microjoules.
    Unwrapper u;
    u.range_uj = 262143999938ULL;
    u.add(262100000000ULL);
    EXPECT_EQ(u.add(5000000ULL), 262143999938ULL - 262100000000ULL + 5000000ULL);
}

struct Found {
    std::string id;
    DomainKind kind;
    int index;
};

std::vector<Found> ids(const BackendProbe& probe) {
    std::vector<Found> out;
    for (const auto& s : probe.sensors) out.push_back({s->info().id, s->info().kind, s->info().index});
    return out;
}

TEST(PowercapProbe, TwoSocketsWithSubzonesPsysAndAnMmioDuplicate) {
    TempDir dir;
    FakePowercapTree tree(dir.path());
    tree.add_typical_socket(0, 80, 50, 10);
    tree.add_zone("intel-rapl:1", "package-1", 70);
    tree.add_zone("intel-rapl:1:0", "dram", 8);
    tree.add_zone("intel-rapl:1:1", "uncore", 3);
    tree.add_zone("intel-rapl:2", "psys", 200);
    tree.add_zone("intel-rapl-mmio:0", "package-0", 80);
    const auto probe = probe_powercap(dir.path());
    const auto found = ids(probe);
    ASSERT_EQ(found.size(), 7U);
    std::vector<std::string> names;
    for (const auto& f : found) names.push_back(f.id);
    EXPECT_EQ(names, (std::vector<std::string>{"package0", "package0-core", "dram0", "package1", "dram1",
                                               "package1-uncore", "psys2"}));
    EXPECT_EQ(found[1].kind, DomainKind::kCore);
    EXPECT_EQ(found[4].kind, DomainKind::kDram);
    EXPECT_EQ(found[4].index, 1);
    EXPECT_EQ(found[6].kind, DomainKind::kPsys);
    const bool mmio_reported = std::any_of(probe.skipped.begin(), probe.skipped.end(), [](const std::string& s) {
        return s.find("intel-rapl-mmio") != std::string::npos && s.find("counted twice") != std::string::npos;
    });
    EXPECT_TRUE(mmio_reported);
    // Constraints of package 0 become power limits.
    const auto& limits = probe.sensors[0]->info().limits;
    ASSERT_EQ(limits.size(), 2U);
    EXPECT_EQ(limits[0].name, "long_term");
    EXPECT_DOUBLE_EQ(limits[0].current->value(), 165.0);
    EXPECT_DOUBLE_EQ(limits[0].max->value(), 205.0);
    EXPECT_EQ(limits[0].time_window->count(), 999424);
    EXPECT_FALSE(limits[1].max.has_value());  // max_power_uw of 0 means unknown
    ASSERT_TRUE(probe.sensors[0]->info().wrap_range.has_value());
    EXPECT_DOUBLE_EQ(probe.sensors[0]->info().wrap_range->value(), 262143.32885);
}

TEST(PowercapProbe, MissingRootUnknownNamesAndMissingRangeAreReasonsNotErrors) {
    TempDir dir;
    const auto missing = probe_powercap(dir.path() / "nope");
    EXPECT_TRUE(missing.sensors.empty());
    ASSERT_FALSE(missing.skipped.empty());
    EXPECT_NE(missing.skipped[0].find("does not exist"), std::string::npos);

    FakePowercapTree tree(dir.path());
    tree.add_zone("intel-rapl:0", "package-0", 10);
    tree.add_zone("intel-rapl:0:0", "mystery", 1);
    tree.write_file("intel-rapl:1", "name", "package-1\n");  // no counter files at all
    const auto probe = probe_powercap(dir.path());
    ASSERT_EQ(probe.sensors.size(), 1U);
    std::string all;
    for (const auto& s : probe.skipped) all += s + "\n";
    EXPECT_NE(all.find("unknown subzone name 'mystery'"), std::string::npos) << all;
    EXPECT_NE(all.find("max_energy_range_uj missing"), std::string::npos) << all;
}

TEST(PowercapProbe, EmptyTreeExplainsWhatToLoad) {
    TempDir dir;
    const auto probe = probe_powercap(dir.path());
    ASSERT_FALSE(probe.skipped.empty());
    EXPECT_NE(probe.skipped.back().find("intel_rapl_msr"), std::string::npos);
}

TEST(PowercapSensor, ReadsCumulativeEnergyAcrossWraps) {
    TempDir dir;
    FakePowercapTree tree(dir.path());
    tree.add_zone("intel-rapl:0", "package-0", 0, /*range_uj=*/1'000'000, /*start_uj=*/900'000);
    ZoneDescription z;
    std::vector<std::string> skipped;
    auto zones = discover_zones(dir.path(), skipped);
    ASSERT_EQ(zones.size(), 1U);
    PowercapSensor sensor(zones[0]);
    auto first = sensor.sample();
    ASSERT_TRUE(first);
    EXPECT_DOUBLE_EQ(first->energy.value(), 0.0);
    tree.advance("intel-rapl:0", 300'000);  // 900000 -> wraps -> 200000
    EXPECT_EQ(tree.counter_uj("intel-rapl:0"), 200'000U);
    auto second = sensor.sample();
    ASSERT_TRUE(second);
    EXPECT_NEAR(second->energy.value(), 0.3, 1e-12);
    tree.advance("intel-rapl:0", 2'500'000);  // more than two ranges at once would be lost...
    // ...which is why max_poll_interval exists: 1 J range / 1000 W / 2 = 0.5 ms, clamped to 1 ms.
    EXPECT_EQ(sensor.max_poll_interval(), std::chrono::milliseconds(1));
    EXPECT_EQ(sensor.health().wraps, 1U);
}

TEST(PowercapSensor, MaxPollIntervalGuaranteesNoMissedWrapAtPlausiblePower) {
    TempDir dir;
    FakePowercapTree tree(dir.path());
    tree.add_zone("intel-rapl:0", "package-0", 0);  // the real 262 kJ range
    std::vector<std::string> skipped;
    PowercapSensor sensor(discover_zones(dir.path(), skipped).at(0));
    // 262143 J at 1000 W wraps after 262 s; reading twice per wrap time means every 131 s.
    EXPECT_NEAR(std::chrono::duration<double>(sensor.max_poll_interval()).count(), 131.07, 0.01);
}

TEST(PowercapSensor, EnergyOfAKnownPowerWithinHalfAPercent) {
    TempDir dir;
    FakePowercapTree tree(dir.path());
    tree.add_zone("intel-rapl:0", "package-0", 120.0, 5'000'000'000ULL);
    std::vector<std::string> skipped;
    PowercapSensor sensor(discover_zones(dir.path(), skipped).at(0));
    tree.start();
    const auto a = sensor.sample();
    const double consumed_a = tree.consumed_j("intel-rapl:0");
    std::this_thread::sleep_for(std::chrono::milliseconds(400));
    const auto b = sensor.sample();
    const double consumed_b = tree.consumed_j("intel-rapl:0");
    tree.stop();
    ASSERT_TRUE(a && b);
    const double measured = (b->energy - a->energy).value();
    const double truth = consumed_b - consumed_a;
    ASSERT_GT(truth, 1.0);
    // The counter and the truth can differ by what the ticker added between a read and the
    // bookkeeping next to it: far below half a percent.
    EXPECT_NEAR(measured, truth, truth * 0.005);
}

TEST(PowercapSensor, PermissionDeniedNamesTheCveAndTheFix) {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root to create a file only root can read, then drop to nobody";
    TempDir dir;
    std::filesystem::permissions(dir.path(), std::filesystem::perms::all);
    // From a clone in a private folder nobody cannot reach the built binary: a copy it can.
    const auto binary = test::joulebench_binary_for_others(dir.path());
    FakePowercapTree tree(dir.path() / "powercap");
    tree.add_zone("intel-rapl:0", "package-0", 10);
    std::filesystem::permissions(dir.path() / "powercap" / "intel-rapl:0" / "energy_uj",
                                 std::filesystem::perms::owner_read);
    test::ProcessOptions as_nobody;
    as_nobody.env = {{"JOULEBENCH_POWERCAP_ROOT", (dir.path() / "powercap").string()},
                     {"JOULEBENCH_NVML_LIBRARY", "/nonexistent/libnvidia-ml.so.1"}};
    as_nobody.user = std::make_pair(uid_t{65534}, gid_t{65534});
    auto r = test::run_process({binary.string(), "sensors", "-v"}, as_nobody);
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_NE(r.out.find("Permission denied"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("CVE-2020-8694"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("chmod a+r"), std::string::npos) << r.out;
    // Without a readable CPU sensor, the estimate takes over, and says so.
    EXPECT_NE(r.out.find("estimated"), std::string::npos) << r.out;
}

}  // namespace
}  // namespace joulebench::rapl
