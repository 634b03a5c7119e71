// The ROCm SMI backend through the real dlopen path of the fake librocm_smi64.so.1
// (tests/fakes/fake_rocm_smi.cpp), and the entry-point list against Debian's real library.

#include "sensors/rocm/rocm_sensor.hpp"

#include <dlfcn.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <time.h>

#include <chrono>
#include <cstdint>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "fakes/fake_hwmon_builder.hpp"
#include "fakes/test_support.hpp"
#include "sensors/registry.hpp"
#include "sensors/rocm/rocm_backend.hpp"
#include "sensors/rocm/rocm_device.hpp"
#include "sensors/rocm/rocm_library.hpp"

namespace joulebench::rocm {
namespace {

using nlohmann::json;
using test::ScopedEnv;
using test::TempDir;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

constexpr double kResolutionUj = 15.3;  // what the fake answers unless told

std::int64_t monotonic_ns() {
    timespec ts{};
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return static_cast<std::int64_t>(ts.tv_sec) * 1000000000LL + ts.tv_nsec;
}

std::uint64_t bdfid(std::uint64_t domain, std::uint64_t bus, std::uint64_t device,
                    std::uint64_t function) {
    return (domain << 32U) | (bus << 8U) | (device << 3U) | function;
}

json gpu(const std::string& name, std::uint64_t id, std::uint64_t pci) {
    return {{"name", name},
            {"unique_id", id},
            {"bdfid", pci},
            {"energy_count", 1000},
            {"power_uw", 200'000'000},
            {"cap_uw", 250'000'000},
            {"cap_min_uw", 100'000'000},
            {"cap_max_uw", 300'000'000},
            {"cap_default_uw", 300'000'000}};
}

class RocmTest : public ::testing::Test {
protected:
    TempDir m_dir{"joulebench-rocm"};
    std::filesystem::path m_state = m_dir.path() / "state.json";
    ScopedEnv m_library{"JOULEBENCH_ROCM_SMI_LIBRARY", std::string(JOULEBENCH_FAKE_ROCM_SMI_PATH)};
    ScopedEnv m_state_env{"JOULEBENCH_FAKE_ROCM_SMI_STATE", m_state.string()};
    json m_doc{{"gpus", json::array({gpu("AMD Instinct MI210", 0x1122334455667788ULL,
                                         bdfid(0, 0x03, 0, 0))})}};

    void write() {
        const auto tmp = m_state.string() + ".new";
        std::ofstream(tmp) << m_doc.dump();
        std::filesystem::rename(tmp, m_state);
    }
    // Markers that exist, so the standard names would be searched too (not reached: the
    // environment variable's library loads first).
    RocmProbeOptions options() const {
        RocmProbeOptions o;
        o.library.driver_markers = {m_dir.path().string()};
        return o;
    }
    BackendProbe probe() {
        write();
        return probe_rocm(options());
    }
    std::unique_ptr<RocmSensor> open_sensor() {
        write();
        auto library = RocmLibrary::load(options().library);
        std::vector<std::string> notes;
        auto devices = RocmDevice::enumerate(library, notes);
        EXPECT_FALSE(devices.empty());
        return std::make_unique<RocmSensor>(devices.at(0));
    }
};

TEST(RocmRealLibrary, HasEveryEntryPointOfTheList) {
    // Debian 12's librocm-smi64-1 (`make deps`); no GPU needed: only the names are looked up.
    void* handle = dlopen("librocm_smi64.so.1", RTLD_NOW | RTLD_LOCAL);
    if (handle == nullptr) {
        GTEST_SKIP() << "librocm_smi64.so.1 not installed (apt-get install librocm-smi64-1): "
                     << dlerror();
    }
    std::vector<std::string> missing;
    for (const auto& entry : rocm_entry_points()) {
        if (dlsym(handle, std::string(entry.name).c_str()) == nullptr) {
            missing.push_back(std::string(entry.name) + (entry.required ? " (required)" : ""));
        }
    }
    dlclose(handle);
    EXPECT_THAT(missing, ElementsAre()) << "rocm_smi_api.def names symbols the real library lacks";
}

TEST(RocmDeviceFormat, BdfidAsSysfsPciAddress) {
    EXPECT_EQ(format_bdfid(bdfid(0, 0x03, 0, 0)), "0000:03:00.0");
    EXPECT_EQ(format_bdfid(bdfid(0x10, 0xc1, 0x1f, 7)), "0010:c1:1f.7");
}

TEST_F(RocmTest, ProbeShowsIdentityInPciOrder) {
    m_doc["gpus"].push_back(gpu("AMD Radeon PRO W7900", 0xabcdULL, bdfid(0, 0x01, 0, 0)));
    const BackendProbe p = probe();
    EXPECT_EQ(p.backend, "rocm");
    ASSERT_EQ(p.sensors.size(), 2U) << ::testing::PrintToString(p.skipped);
    const SensorInfo& first = p.sensors[0]->info();  // bus 01 comes first
    EXPECT_EQ(first.id, "amdgpu0");
    EXPECT_EQ(first.name, "AMD Radeon PRO W7900");
    EXPECT_EQ(first.pci_bus_id, "0000:01:00.0");
    EXPECT_EQ(first.source, "0x000000000000abcd");
    const SensorInfo& second = p.sensors[1]->info();
    EXPECT_EQ(second.id, "amdgpu1");
    EXPECT_EQ(second.index, 1);
    EXPECT_EQ(second.kind, DomainKind::kGpu);
    EXPECT_EQ(second.method, Method::kCounter);
    EXPECT_EQ(second.backend, "rocm");
    EXPECT_EQ(second.name, "AMD Instinct MI210");
    EXPECT_EQ(second.source, "0x1122334455667788");
    ASSERT_EQ(second.limits.size(), 1U);
    EXPECT_DOUBLE_EQ(second.limits[0].current->value(), 250.0);
    EXPECT_DOUBLE_EQ(second.limits[0].min->value(), 100.0);
    EXPECT_DOUBLE_EQ(second.limits[0].max->value(), 300.0);
    EXPECT_DOUBLE_EQ(second.limits[0].default_value->value(), 300.0);
    EXPECT_THAT(p.notes, ::testing::Contains(HasSubstr("library: $JOULEBENCH_ROCM_SMI_LIBRARY=")));
}

TEST_F(RocmTest, EnergyAdvancesAtTheKnownRateAndCrossChecks) {
    m_doc["gpus"][0]["power_uw"] = 250'000'000;  // 250 W
    m_doc["gpus"][0]["energy_anchor_ns"] = monotonic_ns();
    auto sensor = open_sensor();
    const auto first = sensor->sample();
    ASSERT_TRUE(first.has_value());
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    const auto second = sensor->sample();
    ASSERT_TRUE(second.has_value());
    const double elapsed_s = seconds_between(first->time, second->time);
    const double energy_j = second->energy.value() - first->energy.value();
    // The fake's clock and the sensor's are both CLOCK_MONOTONIC, read a few microseconds apart.
    EXPECT_NEAR(energy_j, 250.0 * elapsed_s, 250.0 * 0.002 + 1e-3);
    ASSERT_TRUE(sensor->cross_check_energy().has_value());
    EXPECT_NEAR(sensor->cross_check_energy()->value(),
                250.0 * seconds_between(first->time, second->time), 250.0 * 0.02 + 0.5);
    EXPECT_EQ(sensor->health().failed_reads, 0U);
    EXPECT_EQ(sensor->health().wraps, 0U);
    ASSERT_TRUE(sensor->telemetry()->power.has_value());
    EXPECT_DOUBLE_EQ(sensor->telemetry()->power->value(), 250.0);
}

TEST_F(RocmTest, A32BitAccumulatorWrapIsUnwrapped) {
    constexpr std::uint64_t kRange = std::uint64_t{1} << 32U;
    m_doc["gpus"][0]["counter_bits"] = 32;
    m_doc["gpus"][0]["energy_count"] = kRange - 1000;
    auto sensor = open_sensor();
    ASSERT_TRUE(sensor->info().wrap_range.has_value());
    EXPECT_NEAR(sensor->info().wrap_range->value(),
                static_cast<double>(kRange) * kResolutionUj * 1e-6, 1.0);
    EXPECT_GT(sensor->max_poll_interval(), std::chrono::seconds(1));
    m_doc["gpus"][0]["energy_count"] = 500;  // 1500 counts later, across the wrap
    write();
    const auto s = sensor->sample();
    ASSERT_TRUE(s.has_value());
    EXPECT_NEAR(s->energy.value(), 1500 * kResolutionUj * 1e-6, 1e-6);
    EXPECT_EQ(sensor->health().wraps, 1U);
    EXPECT_EQ(sensor->health().resets, 0U);
}

TEST_F(RocmTest, A64BitCounterGoingBackIsAResetNotAWrap) {
    m_doc["gpus"][0]["energy_count"] = std::uint64_t{1} << 40U;
    auto sensor = open_sensor();
    EXPECT_FALSE(sensor->info().wrap_range.has_value());
    EXPECT_EQ(sensor->max_poll_interval(), std::chrono::nanoseconds{0});
    m_doc["gpus"][0]["energy_count"] = 2000;
    write();
    const auto s = sensor->sample();
    ASSERT_TRUE(s.has_value());
    EXPECT_NEAR(s->energy.value(), 2000 * kResolutionUj * 1e-6, 1e-6);  // energy since the reset
    const SensorHealth h = sensor->health();
    EXPECT_EQ(h.resets, 1U);
    EXPECT_EQ(h.wraps, 0U);
    ASSERT_EQ(h.events.size(), 1U);
    EXPECT_THAT(h.events[0], HasSubstr("energy counter reset"));
    EXPECT_THAT(h.events[0], HasSubstr("lower bound"));
}

TEST_F(RocmTest, AnImplausibleWrapIsAReset) {
    // Below 2^32 but going back by far more than 3 kW could explain in the time between reads.
    m_doc["gpus"][0]["energy_count"] = 100;
    auto sensor = open_sensor();
    m_doc["gpus"][0]["energy_count"] = 50;
    write();
    ASSERT_TRUE(sensor->sample().has_value());
    EXPECT_EQ(sensor->health().resets, 1U);
    EXPECT_EQ(sensor->health().wraps, 0U);
}

TEST_F(RocmTest, FailedReadsAreCountedNotThrown) {
    auto sensor = open_sensor();
    m_doc["gpus"][0]["errors"] = {{"rsmi_dev_energy_count_get", 3}};  // RSMI_STATUS_FILE_ERROR
    write();
    EXPECT_FALSE(sensor->sample().has_value());
    EXPECT_EQ(sensor->health().failed_reads, 1U);
    m_doc["gpus"][0].erase("errors");
    write();
    EXPECT_TRUE(sensor->sample().has_value());
}

TEST_F(RocmTest, WithoutTheAccumulatorPowerIsIntegrated) {
    m_doc["gpus"][0]["errors"] = {{"rsmi_dev_energy_count_get", 2}};  // NOT_SUPPORTED
    const BackendProbe p = probe();
    ASSERT_EQ(p.sensors.size(), 1U);
    EXPECT_EQ(p.sensors[0]->info().method, Method::kIntegrated);
    EXPECT_THAT(
        p.sensors[0]->info().notes,
        ::testing::Contains(HasSubstr("energy counter: not supported; using integrated power")));
    EXPECT_GT(p.sensors[0]->max_poll_interval(), std::chrono::nanoseconds{0});
}

TEST_F(RocmTest, NeitherEnergyNorPowerSkipsTheGpuNamingBoth) {
    m_doc["gpus"][0]["errors"] = {{"rsmi_dev_energy_count_get", 2}, {"rsmi_dev_power_ave_get", 4}};
    const BackendProbe p = probe();
    EXPECT_TRUE(p.sensors.empty());
    ASSERT_EQ(p.skipped.size(), 1U);
    EXPECT_THAT(
        p.skipped[0],
        HasSubstr("rocm: open energy sensor of AMD GPU 0 (AMD Instinct MI210, 0000:03:00.0)"));
    EXPECT_THAT(p.skipped[0], HasSubstr("energy counter: not supported"));
    EXPECT_THAT(p.skipped[0],
                HasSubstr("power readings: read failed at open (RSMI_STATUS_PERMISSION"));
}

TEST_F(RocmTest, InitFailureIsTheSkipReasonWithTheLibraryText) {
    m_doc["init_status"] = 4;  // RSMI_STATUS_PERMISSION
    const BackendProbe p = probe();
    EXPECT_TRUE(p.sensors.empty());
    ASSERT_EQ(p.skipped.size(), 1U);
    EXPECT_THAT(p.skipped[0], HasSubstr("rocm: rsmi_init failed: RSMI_STATUS_PERMISSION"));
}

TEST_F(RocmTest, NoGpusAndAGpuWithoutANameAreSaid) {
    m_doc["gpus"] = json::array();
    EXPECT_THAT(probe().skipped, ElementsAre("rocm: no GPUs"));
    m_doc["gpus"] = json::array({gpu("A", 1, bdfid(0, 1, 0, 0)), gpu("B", 2, bdfid(0, 2, 0, 0))});
    m_doc["gpus"][0]["errors"] = {{"rsmi_dev_name_get", 3}};
    const BackendProbe p = probe();
    ASSERT_EQ(p.sensors.size(), 1U);
    EXPECT_EQ(p.sensors[0]->info().name, "B");
    EXPECT_THAT(p.notes,
                ::testing::Contains(HasSubstr(
                    "device 0 left out: rocm: read name of device 0: RSMI_STATUS_FILE_ERROR")));
}

TEST_F(RocmTest, NoneSelectedIsASkip) {
    RocmProbeOptions o = options();
    o.none = true;
    write();
    EXPECT_THAT(probe_rocm(o).skipped, ElementsAre("rocm: no GPUs selected (--gpus none)"));
}

TEST_F(RocmTest, MissingLibraryNamesEveryAttemptOrWhyNotSearched) {
    const ScopedEnv library("JOULEBENCH_ROCM_SMI_LIBRARY",
                            std::string("/nonexistent/librocm_smi64.so.1"));
    RocmProbeOptions o = options();
    o.library.candidates = {"librocm_smi64_absent.so.1"};
    BackendProbe p = probe_rocm(o);
    ASSERT_EQ(p.skipped.size(), 1U);
    EXPECT_THAT(p.skipped[0],
                HasSubstr("rocm: library not found: tried "
                          "$JOULEBENCH_ROCM_SMI_LIBRARY=/nonexistent/librocm_smi64.so.1 "
                          "(/nonexistent/librocm_smi64.so.1: cannot open shared object file"));
    EXPECT_THAT(p.skipped[0],
                HasSubstr(", librocm_smi64_absent.so.1 (librocm_smi64_absent.so.1: cannot open"));
    o.library.driver_markers = {(m_dir.path() / "no-kfd").string()};
    p = probe_rocm(o);
    ASSERT_EQ(p.skipped.size(), 1U);
    EXPECT_THAT(
        p.skipped[0],
        HasSubstr("librocm_smi64_absent.so.1 not searched (no amdgpu KFD loaded: none of "));
}

TEST_F(RocmTest, MissingOptionalSymbolsRemoveCapabilitiesAndAreNoted) {
    write();
    RocmApi api = RocmLibrary::resolve_table(JOULEBENCH_FAKE_ROCM_SMI_PATH);
    api.rsmi_dev_energy_count_get = nullptr;
    api.rsmi_dev_unique_id_get = nullptr;
    const auto library = RocmLibrary::from_table(api, "hand-built");
    EXPECT_THAT(library->missing_optional(),
                ElementsAre("rsmi_dev_unique_id_get", "rsmi_dev_energy_count_get"));
    const BackendProbe p = probe_rocm(library);
    ASSERT_EQ(p.sensors.size(), 1U);
    EXPECT_EQ(p.sensors[0]->info().method, Method::kIntegrated);
    EXPECT_THAT(p.notes, ::testing::Contains(
                             HasSubstr("not in the library (capabilities removed): "
                                       "rsmi_dev_unique_id_get, rsmi_dev_energy_count_get")));
    api.rsmi_dev_name_get = nullptr;
    try {
        (void)RocmLibrary::from_table(api, "hand-built");
        FAIL() << "a required symbol missing must throw";
    } catch (const Error& e) {
        EXPECT_EQ(e.category(), ErrorCategory::kNotSupported);
        EXPECT_THAT(e.what(), HasSubstr("required symbols missing: rsmi_dev_name_get"));
    }
}

// The same GPU through ROCm SMI and hwmon's amdgpu (the same PCI device): counted once, by ROCm
// SMI's energy counter; hwmon lists its reading as a duplicate. A second amdgpu that ROCm SMI
// does not see stays with hwmon.
TEST_F(RocmTest, AGpuSeenByHwmonTooIsCountedOnceThroughRocmSmi) {
    write();
    test::FakeHwmonTree tree(m_dir.path() / "sys");
    tree.add_device("hwmon2", "amdgpu", std::string("0000:03:00.0"));
    tree.add_power("hwmon2", 1, "average", 120000000, "PPT");
    tree.add_device("hwmon3", "amdgpu", std::string("0000:04:00.0"));
    tree.add_power("hwmon3", 1, "average", 80000000, "PPT");
    ProbeOptions o;
    o.rocm = options();
    o.nvml.library.explicit_path = (m_dir.path() / "no-libnvidia-ml.so.1").string();  // no NVIDIA GPU
    o.powercap_root = m_dir.path() / "no-powercap";
    o.hwmon_root = tree.root();
    const SensorSet set = probe_all(o);
    std::vector<std::string> ids;
    for (const auto& sensor : set.sensors) ids.push_back(sensor->info().id);
    EXPECT_THAT(ids, ::testing::Contains("amdgpu0"));
    std::size_t gpus = 0;
    for (const auto& sensor : set.sensors) gpus += sensor->info().kind == DomainKind::kGpu ? 1U : 0U;
    EXPECT_EQ(gpus, 2U) << "one GPU through ROCm SMI, the other through hwmon";
    std::string skipped;
    for (const auto& b : set.backends) {
        if (b.backend == "hwmon") {
            for (const auto& line : b.skipped) skipped += line + "\n";
        }
    }
    EXPECT_THAT(skipped, HasSubstr("duplicate of amdgpu0 (rocm)"));
    EXPECT_THAT(skipped, HasSubstr("pci:0000:03:00.0"));
}

}  // namespace
}  // namespace joulebench::rocm
