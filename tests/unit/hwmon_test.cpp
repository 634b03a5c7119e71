// The hwmon backend against fake hwmon trees written as the kernel writes them: counters that
// advance and reset, power readings integrated, kinds and labels, and duplicates of RAPL.

#include <gtest/gtest.h>

#include <algorithm>

#include "fakes/fake_hwmon_builder.hpp"
#include "fakes/fake_powercap_builder.hpp"
#include "fakes/test_support.hpp"
#include "sensors/device_identity.hpp"
#include "sensors/hwmon/hwmon_sensor.hpp"
#include "sensors/registry.hpp"

namespace joulebench::hwmon {
namespace {

using test::FakeHwmonTree;
using test::TempDir;

const Sensor* find(const std::vector<std::unique_ptr<Sensor>>& sensors, const std::string& id) {
    for (const auto& s : sensors) {
        if (s->info().id == id) return s.get();
    }
    return nullptr;
}

std::string joined(const std::vector<std::string>& lines) {
    std::string out;
    for (const auto& l : lines) out += l + "\n";
    return out;
}

bool mentions(const std::vector<std::string>& lines, const std::string& text) {
    return joined(lines).find(text) != std::string::npos;
}

// A test clock for the integrating sensors: each call returns the time set.
Clock::time_point g_now{};
Clock::time_point test_now() noexcept { return g_now; }

TEST(HwmonCounter, AddsDeltasAndCountsADecreaseAsARestartFromZero) {
    CounterTracker t;
    bool reset = false;
    EXPECT_EQ(t.add(1'000'000, reset), 0U);
    EXPECT_EQ(t.add(3'500'000, reset), 2'500'000U);
    EXPECT_FALSE(reset);
    // Driver reloaded: the counter starts again from zero and has counted 400 000 uJ since.
    EXPECT_EQ(t.add(400'000, reset), 400'000U);
    EXPECT_TRUE(reset);
    EXPECT_EQ(t.resets, 1U);
    EXPECT_EQ(t.add(500'000, reset), 100'000U);
    EXPECT_FALSE(reset);
    // A 64-bit counter near its top is no wrap either: a decrease is always a restart.
    CounterTracker top;
    (void)top.add(UINT64_MAX - 10, reset);
    EXPECT_EQ(top.add(5, reset), 5U);
    EXPECT_TRUE(reset);
}

TEST(HwmonIdentity, PciBusIdsOfTheKernelAndOfNvmlMeetInOneKey) {
    EXPECT_EQ(pci_identity("0000:03:00.0"), "pci:0000:03:00.0");
    EXPECT_EQ(pci_identity("00000000:03:00.0"), "pci:0000:03:00.0");
    EXPECT_EQ(pci_identity("0000:C1:00.0"), "pci:0000:c1:00.0");
    EXPECT_EQ(pci_identity("hwmon3"), "");
    EXPECT_EQ(pci_identity("AMDI0010:00"), "");
    EXPECT_EQ(cpu_package_identity(1), "cpu-package:1");
}

TEST(HwmonSensor, EnergyFromACounterAcrossAReset) {
    TempDir dir;
    FakeHwmonTree tree(dir.path());
    tree.add_device("hwmon2", "amd_energy");
    tree.add_energy("hwmon2", 1, 7'000'000'000ULL, "Esocket0");
    std::vector<std::string> skipped;
    auto channels = discover_channels(tree.root(), skipped);
    ASSERT_EQ(channels.size(), 1U) << joined(skipped);
    HwmonSensor s(channels[0]);
    EXPECT_EQ(s.info().method, Method::kCounter);
    EXPECT_FALSE(s.info().wrap_range.has_value());
    EXPECT_DOUBLE_EQ(s.sample()->energy.value(), 0.0);
    tree.advance("hwmon2", 1, 5'000'000);  // 5 J
    EXPECT_NEAR(s.sample()->energy.value(), 5.0, 1e-9);
    tree.set_energy("hwmon2", 1, 1'250'000);  // reset, then 1.25 J since
    EXPECT_NEAR(s.sample()->energy.value(), 6.25, 1e-9);
    tree.advance("hwmon2", 1, 750'000);
    EXPECT_NEAR(s.sample()->energy.value(), 7.0, 1e-9);
    const auto h = s.health();
    EXPECT_EQ(h.resets, 1U);
    EXPECT_EQ(h.wraps, 0U);
    ASSERT_EQ(h.events.size(), 1U);
    EXPECT_NE(h.events[0].find("went back"), std::string::npos) << h.events[0];
    EXPECT_NE(h.events[0].find("energy1_input"), std::string::npos) << h.events[0];
}

TEST(HwmonSensor, IntegratesAveragePowerWithTheTrapezoidRule) {
    TempDir dir;
    FakeHwmonTree tree(dir.path());
    tree.add_device("hwmon4", "amdgpu", "0000:03:00.0");
    tree.add_power("hwmon4", 1, "average", 100'000'000, "PPT");  // 100 W
    std::vector<std::string> skipped;
    auto channels = discover_channels(tree.root(), skipped);
    ASSERT_EQ(channels.size(), 1U);
    g_now = Clock::time_point{} + std::chrono::seconds(100);
    HwmonSensor s(channels[0], &test_now);
    EXPECT_EQ(s.info().method, Method::kIntegrated);
    EXPECT_EQ(s.max_poll_interval(), std::chrono::nanoseconds(kIntegratedMaxPoll));
    EXPECT_EQ(s.info().update_period, std::chrono::microseconds(kDefaultPowerUpdatePeriod));
    EXPECT_DOUBLE_EQ(s.sample()->energy.value(), 0.0);
    g_now += std::chrono::seconds(1);
    tree.set_power("hwmon4", 1, "average", 200'000'000);  // 200 W
    EXPECT_NEAR(s.sample()->energy.value(), 150.0, 1e-9);  // (100 + 200) / 2 * 1 s
    g_now += std::chrono::milliseconds(500);
    EXPECT_NEAR(s.sample()->energy.value(), 250.0, 1e-9);  // + 200 W * 0.5 s
    g_now += std::chrono::milliseconds(250);
    tree.set_power("hwmon4", 1, "average", 0);
    EXPECT_NEAR(s.sample()->energy.value(), 275.0, 1e-9);  // + (200 + 0) / 2 * 0.25 s
    EXPECT_EQ(s.health().failed_reads, 0U);
}

TEST(HwmonDiscovery, KindsLabelsAndOneDomainPerGpu) {
    TempDir dir;
    FakeHwmonTree tree(dir.path());
    tree.add_device("hwmon0", "coretemp");
    tree.add_temperature("hwmon0", 1, 45000);
    tree.add_device("hwmon1", "amd_energy");
    tree.add_energy("hwmon1", 1, 10, "Ecore000");
    tree.add_energy("hwmon1", 2, 10, "Ecore001");
    tree.add_energy("hwmon1", 3, 10, "Esocket0");
    tree.add_energy("hwmon1", 4, 10, "Esocket1");
    tree.add_device("hwmon2", "amdgpu", "0000:c1:00.0");
    tree.add_power("hwmon2", 1, "average", 30'000'000, "PPT");
    tree.add_power("hwmon2", 1, "input", 31'000'000, "PPT");
    tree.add_temperature("hwmon2", 1, 50000);
    tree.add_device("hwmon3", "xe", "0000:03:00.0");
    tree.add_energy("hwmon3", 1, 10, "pkg");
    tree.add_energy("hwmon3", 2, 10, "card");
    tree.add_device("hwmon5", "acpi_power_meter");
    tree.add_power("hwmon5", 1, "average", 250'000'000);
    tree.write_file("hwmon5", "update_interval", "1000\n");

    const BackendProbe probe = probe_hwmon(tree.root());
    ASSERT_EQ(probe.sensors.size(), 5U) << joined(probe.skipped);
    // GPUs in PCI order: the xe at 03:00.0 first, then the amdgpu at c1:00.0.
    const Sensor* xe = find(probe.sensors, "hwmon-gpu0");
    const Sensor* amd = find(probe.sensors, "hwmon-gpu1");
    ASSERT_TRUE(xe && amd);
    EXPECT_EQ(xe->info().kind, DomainKind::kGpu);
    EXPECT_EQ(xe->info().method, Method::kCounter);
    EXPECT_EQ(xe->info().name, "xe card");
    EXPECT_EQ(xe->info().source, (tree.root() / "hwmon3" / "energy2_input").string());
    EXPECT_EQ(xe->info().pci_bus_id, "0000:03:00.0");
    EXPECT_EQ(xe->info().device_identity, "pci:0000:03:00.0");
    EXPECT_EQ(xe->max_poll_interval(), std::chrono::nanoseconds(kIntelGpuMaxPoll));
    EXPECT_EQ(amd->info().kind, DomainKind::kGpu);
    EXPECT_EQ(amd->info().index, 1);
    EXPECT_EQ(amd->info().method, Method::kIntegrated);
    EXPECT_EQ(amd->info().name, "amdgpu PPT");
    EXPECT_EQ(amd->info().source, (tree.root() / "hwmon2" / "power1_average").string());
    for (int socket : {0, 1}) {
        const Sensor* pkg = find(probe.sensors, "hwmon-package" + std::to_string(socket));
        ASSERT_TRUE(pkg) << socket;
        EXPECT_EQ(pkg->info().kind, DomainKind::kPackage);
        EXPECT_EQ(pkg->info().index, socket);
        EXPECT_EQ(pkg->info().device_identity, cpu_package_identity(socket));
        EXPECT_EQ(pkg->info().update_period, std::chrono::microseconds(1000));
    }
    const Sensor* meter = find(probe.sensors, "hwmon5-power1");
    ASSERT_TRUE(meter);
    EXPECT_EQ(meter->info().kind, DomainKind::kPlatform);
    EXPECT_FALSE(counts_in_total(meter->info().kind));
    EXPECT_EQ(meter->info().method, Method::kIntegrated);
    EXPECT_EQ(meter->info().update_period, std::chrono::microseconds(1'000'000));
    EXPECT_TRUE(meter->info().device_identity.empty());

    EXPECT_TRUE(mentions(probe.skipped, "2 per-core counters (Ecore*) skipped")) << joined(probe.skipped);
    EXPECT_TRUE(mentions(probe.skipped, "hwmon3 (xe) energy1_input (pkg): another reading of the same GPU"))
        << joined(probe.skipped);
    EXPECT_FALSE(mentions(probe.skipped, "coretemp")) << joined(probe.skipped);
    EXPECT_FALSE(mentions(probe.skipped, "hwmon0")) << joined(probe.skipped);
    // power1_input of the amdgpu is the same channel as its power1_average, read instead.
    EXPECT_FALSE(mentions(probe.skipped, "power1_input")) << joined(probe.skipped);
    EXPECT_EQ(probe.skipped.size(), 2U) << joined(probe.skipped);
}

TEST(HwmonDiscovery, TemperatureOnlyOrMissingHwmonGivesNothingAndNoReport) {
    TempDir dir;
    FakeHwmonTree tree(dir.path());
    tree.add_device("hwmon0", "coretemp");
    tree.add_temperature("hwmon0", 1, 45000);
    tree.add_device("hwmon1", "nvme", "0000:01:00.0");
    tree.add_temperature("hwmon1", 1, 38000);
    for (const auto& root : {tree.root(), dir.path() / "missing"}) {
        const BackendProbe probe = probe_hwmon(root);
        EXPECT_TRUE(probe.sensors.empty());
        EXPECT_TRUE(probe.skipped.empty()) << joined(probe.skipped);
        EXPECT_TRUE(probe.notes.empty());
        ProbeOptions options;
        options.nvml.gpus = nvml::GpuSelection::parse("none");
        options.powercap_root = dir.path() / "no-powercap";
        options.hwmon_root = root;
        options.allow_estimate = false;
        const SensorSet set = probe_all(options);
        EXPECT_TRUE(set.sensors.empty());
        for (const auto& b : set.backends) EXPECT_NE(b.backend, "hwmon");
    }
}

TEST(HwmonRegistry, RaplWinsOverAmdEnergyForTheSamePackage) {
    TempDir dir;
    test::FakePowercapTree rapl(dir.path() / "powercap");
    rapl.add_typical_socket(0, 40.0, 20.0, 4.0);
    FakeHwmonTree tree(dir.path() / "sys");
    tree.add_device("hwmon1", "amd_energy");
    tree.add_energy("hwmon1", 1, 10, "Esocket0");
    tree.add_energy("hwmon1", 2, 10, "Esocket1");  // a socket RAPL does not list here
    ProbeOptions options;
    options.nvml.gpus = nvml::GpuSelection::parse("none");
    options.powercap_root = rapl.root();
    options.hwmon_root = tree.root();
    const SensorSet set = probe_all(options);
    EXPECT_TRUE(find(set.sensors, "package0"));
    EXPECT_FALSE(find(set.sensors, "hwmon-package0"));
    EXPECT_TRUE(find(set.sensors, "hwmon-package1"));
    EXPECT_FALSE(set.uses_estimate());
    const BackendReport* hwmon = nullptr;
    for (const auto& b : set.backends) {
        if (b.backend == "hwmon") hwmon = &b;
    }
    ASSERT_TRUE(hwmon);
    EXPECT_EQ(hwmon->sensors, 1U);
    ASSERT_EQ(hwmon->skipped.size(), 1U) << joined(hwmon->skipped);
    const std::string& why = hwmon->skipped[0];
    EXPECT_NE(why.find("hwmon-package0 (amd_energy Esocket0"), std::string::npos) << why;
    EXPECT_NE(why.find("duplicate of package0 (powercap)"), std::string::npos) << why;
    EXPECT_NE(why.find("cpu-package:0"), std::string::npos) << why;
    EXPECT_NE(why.find("RAPL through powercap is preferred"), std::string::npos) << why;
}

// A sensor that only states facts: for the duplicate mechanism between any two backends.
class StubSensor final : public Sensor {
public:
    StubSensor(std::string id, std::string backend, std::string identity) {
        m_info.id = std::move(id);
        m_info.kind = DomainKind::kGpu;
        m_info.backend = std::move(backend);
        m_info.device_identity = std::move(identity);
    }
    [[nodiscard]] const SensorInfo& info() const override { return m_info; }
    std::optional<EnergySample> sample() noexcept override { return std::nullopt; }
    [[nodiscard]] SensorHealth health() const override { return {}; }

private:
    SensorInfo m_info;
};

TEST(HwmonRegistry, TheFirstBackendOfADeviceIdentityKeepsIt) {
    SensorSet set;
    BackendProbe first;
    first.backend = "rocm-smi";
    first.sensors.push_back(std::make_unique<StubSensor>("gpu0", "rocm-smi", "pci:0000:03:00.0"));
    add_backend(set, std::move(first));
    BackendProbe second;
    second.backend = "hwmon";
    second.sensors.push_back(std::make_unique<StubSensor>("hwmon-gpu0", "hwmon", "pci:0000:03:00.0"));
    second.sensors.push_back(std::make_unique<StubSensor>("hwmon-gpu1", "hwmon", "pci:0000:04:00.0"));
    second.sensors.push_back(std::make_unique<StubSensor>("hwmon5-power1", "hwmon", ""));
    add_backend(set, std::move(second));
    ASSERT_EQ(set.sensors.size(), 3U);
    EXPECT_EQ(set.sensors[1]->info().id, "hwmon-gpu1");
    EXPECT_EQ(set.sensors[2]->info().id, "hwmon5-power1");
    ASSERT_EQ(set.backends.size(), 2U);
    EXPECT_EQ(set.backends[1].sensors, 2U);
    ASSERT_EQ(set.backends[1].skipped.size(), 1U);
    EXPECT_NE(set.backends[1].skipped[0].find("duplicate of gpu0 (rocm-smi)"), std::string::npos);
    EXPECT_NE(set.backends[1].skipped[0].find("the backend probed first (rocm-smi) is preferred"),
              std::string::npos);
    // A backend with nothing found and nothing to say adds no report.
    BackendProbe empty;
    empty.backend = "hwmon";
    add_backend(set, std::move(empty));
    EXPECT_EQ(set.backends.size(), 2U);
}

TEST(HwmonRegistry, GpusNoneLeavesHwmonGpusOutAndSaysSo) {
    TempDir dir;
    FakeHwmonTree tree(dir.path());
    tree.add_device("hwmon2", "amdgpu", "0000:c1:00.0");
    tree.add_power("hwmon2", 1, "average", 30'000'000, "PPT");
    tree.add_device("hwmon5", "acpi_power_meter");
    tree.add_power("hwmon5", 1, "average", 250'000'000);
    ProbeOptions options;
    options.nvml.gpus = nvml::GpuSelection::parse("none");
    options.powercap_root = dir.path() / "no-powercap";
    options.hwmon_root = tree.root();
    options.allow_estimate = false;
    const SensorSet set = probe_all(options);
    ASSERT_EQ(set.sensors.size(), 1U);
    EXPECT_EQ(set.sensors[0]->info().id, "hwmon5-power1");
    bool said = false;
    for (const auto& b : set.backends) {
        if (b.backend == "hwmon") said = mentions(b.skipped, "hwmon-gpu0 (amdgpu PPT): not selected");
    }
    EXPECT_TRUE(said);
}

}  // namespace
}  // namespace joulebench::hwmon
