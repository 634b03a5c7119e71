// `joulebench sensors` and `measure` end to end with a fake hwmon tree (JOULEBENCH_HWMON_ROOT):
// the real binary reads it through the production hwmon backend.

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "fakes/fake_hwmon_builder.hpp"
#include "fakes/fake_powercap_builder.hpp"
#include "fakes/test_support.hpp"

namespace joulebench::test {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

ProcessOptions with_hwmon(const fs::path& powercap_root, const fs::path& hwmon_root) {
    ProcessOptions o;
    o.env = {{"JOULEBENCH_POWERCAP_ROOT", powercap_root.string()},
             {"JOULEBENCH_NVML_LIBRARY", "/nonexistent/libnvidia-ml.so.1"},
             {"JOULEBENCH_HWMON_ROOT", hwmon_root.string()}};
    return o;
}

// An AMD machine: RAPL package-0, amd_energy for the same socket, an amdgpu without ROCm SMI.
void amd_machine(FakePowercapTree& rapl, FakeHwmonTree& hwmon) {
    rapl.add_zone("intel-rapl:0", "package-0", 50.0);
    hwmon.add_device("hwmon0", "k10temp");
    hwmon.add_temperature("hwmon0", 1, 48000);
    hwmon.add_device("hwmon1", "amd_energy");
    hwmon.add_energy("hwmon1", 1, 1000, "Esocket0");
    hwmon.add_energy("hwmon1", 2, 1000, "Ecore000");
    hwmon.add_device("hwmon2", "amdgpu", "0000:03:00.0");
    hwmon.add_power("hwmon2", 1, "average", 40'000'000, "PPT");
}

TEST(HwmonCli, SensorsListsTheHwmonDomainsAndTheDuplicate) {
    TempDir dir;
    FakePowercapTree rapl(dir.path() / "powercap");
    FakeHwmonTree hwmon(dir.path() / "sys");
    amd_machine(rapl, hwmon);
    auto r = run_joulebench({"sensors", "--json"}, with_hwmon(rapl.root(), hwmon.root()));
    ASSERT_EQ(r.exit_code, 0) << r.err;
    const auto j = json::parse(r.out);
    ASSERT_EQ(j.at("sensors").size(), 2U) << r.out;
    EXPECT_EQ(j.at("sensors")[0].at("id"), "package0");
    EXPECT_EQ(j.at("sensors")[0].at("device_identity"), "cpu-package:0");
    const auto& gpu = j.at("sensors")[1];
    EXPECT_EQ(gpu.at("id"), "hwmon-gpu0");
    EXPECT_EQ(gpu.at("kind"), "gpu");
    EXPECT_EQ(gpu.at("method"), "integrated");
    EXPECT_EQ(gpu.at("backend"), "hwmon");
    EXPECT_EQ(gpu.at("pci_bus_id"), "0000:03:00.0");
    EXPECT_EQ(gpu.at("device_identity"), "pci:0000:03:00.0");
    EXPECT_EQ(gpu.at("counts_in_total"), true);

    auto v = run_joulebench({"sensors", "-v"}, with_hwmon(rapl.root(), hwmon.root()));
    ASSERT_EQ(v.exit_code, 0) << v.err;
    EXPECT_NE(v.out.find("hwmon-gpu0"), std::string::npos) << v.out;
    EXPECT_NE(v.out.find("device: pci:0000:03:00.0\n"), std::string::npos) << v.out;
    EXPECT_NE(v.out.find("device: cpu-package:0\n"), std::string::npos) << v.out;
    EXPECT_NE(v.out.find("  hwmon: 1 sensor\n"), std::string::npos) << v.out;
    EXPECT_NE(v.out.find("skipped: hwmon: hwmon-package0 (amd_energy Esocket0"), std::string::npos) << v.out;
    EXPECT_NE(v.out.find("duplicate of package0 (powercap)"), std::string::npos) << v.out;
    EXPECT_NE(v.out.find("per-core counter (Ecore*) skipped"), std::string::npos) << v.out;
    EXPECT_EQ(v.out.find("k10temp"), std::string::npos) << v.out;
}

TEST(HwmonCli, MeasureReportsHwmonDomainsWithKindAndMethod) {
    TempDir dir;
    FakePowercapTree rapl(dir.path() / "powercap");  // no zone: the CPU comes from amd_energy
    FakeHwmonTree hwmon(dir.path() / "sys");
    hwmon.add_device("hwmon1", "amd_energy");
    hwmon.add_energy("hwmon1", 1, 1000, "Esocket0");
    hwmon.add_device("hwmon2", "amdgpu", "0000:03:00.0");
    hwmon.add_power("hwmon2", 1, "average", 40'000'000, "PPT");
    auto r = run_joulebench({"measure", "--json", "-", "--", "sleep", "0.3"},
                            with_hwmon(rapl.root(), hwmon.root()));
    ASSERT_EQ(r.exit_code, 0) << r.err;
    const auto j = json::parse(r.out);
    const json* gpu = nullptr;
    const json* pkg = nullptr;
    for (const auto& d : j.at("domains")) {
        if (d.at("id") == "hwmon-gpu0") gpu = &d;
        if (d.at("id") == "hwmon-package0") pkg = &d;
        EXPECT_NE(d.at("kind"), "estimated-cpu") << r.out;
    }
    ASSERT_TRUE(gpu && pkg) << r.out;
    EXPECT_EQ(gpu->at("kind"), "gpu");
    EXPECT_EQ(gpu->at("method"), "integrated");
    EXPECT_EQ(gpu->at("backend"), "hwmon");
    // 40 W held for the whole run: the trapezoid gives 40 W times the time between first and
    // last read, which is within the run.
    EXPECT_NEAR(gpu->at("avg_power_w").get<double>(), 40.0, 0.5) << r.out;
    EXPECT_GT(gpu->at("energy_j").get<double>(), 40.0 * 0.2) << r.out;
    EXPECT_EQ(pkg->at("kind"), "package");
    EXPECT_EQ(pkg->at("method"), "counter");
}

}  // namespace
}  // namespace joulebench::test
