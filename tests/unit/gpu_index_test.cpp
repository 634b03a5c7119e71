// One GPU index space across vendors (sensors/gpu_inventory.hpp): a mixed machine of fake NVML,
// fake ROCm SMI and a fake hwmon tree, through the real loaders and probe_all.

#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "fakes/fake_hwmon_builder.hpp"
#include "fakes/fake_nvml_builder.hpp"
#include "fakes/test_support.hpp"
#include "sensors/gpu_inventory.hpp"
#include "sensors/registry.hpp"

namespace joulebench {
namespace {

using test::ScopedEnv;
using test::TempDir;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

// GPU 0: Intel i915 at 0000:00:02.0 (hwmon only); GPU 1: AMD at 0000:03:00.0 (ROCm SMI, and hwmon
// amdgpu, a duplicate); GPU 2: NVIDIA at 0000:17:00.0; GPU 3: AMD at 0000:20:00.0; GPU 4: NVIDIA at
// 0000:27:00.0.
class MixedMachine : public ::testing::Test {
protected:
    TempDir m_dir{"joulebench-gpu-index"};
    std::filesystem::path m_nvml_state = m_dir.path() / "nvml.json";
    test::FakeNvmlState m_nvml{m_nvml_state, 2};
    test::FakeNvmlEnvironment m_nvml_env{m_nvml_state};
    std::filesystem::path m_rocm_state = m_dir.path() / "rocm.json";
    ScopedEnv m_rocm_library{"JOULEBENCH_ROCM_SMI_LIBRARY", std::string(JOULEBENCH_FAKE_ROCM_SMI_PATH)};
    ScopedEnv m_rocm_state_env{"JOULEBENCH_FAKE_ROCM_SMI_STATE", m_rocm_state.string()};
    test::FakeHwmonTree m_hwmon{m_dir.path() / "sys"};

    void SetUp() override {
        const auto amd = [](const char* name, unsigned long long id, unsigned bus) {
            return nlohmann::json{{"name", name},          {"unique_id", id},
                                  {"bdfid", bus << 8U},    {"power_uw", 120'000'000},
                                  {"cap_uw", 250'000'000}, {"cap_min_uw", 100'000'000},
                                  {"cap_max_uw", 300'000'000}};
        };
        const nlohmann::json doc{{"gpus",
                                  {amd("AMD Instinct MI210", 0x11, 0x20), amd("AMD Radeon PRO W7900", 0x22, 0x03)}}};
        std::ofstream(m_rocm_state) << doc.dump();
        m_hwmon.add_device("hwmon0", "i915", std::string("0000:00:02.0"));
        m_hwmon.add_energy("hwmon0", 1, 1'000'000);
        m_hwmon.add_device("hwmon1", "amdgpu", std::string("0000:03:00.0"));
        m_hwmon.add_power("hwmon1", 1, "average", 50'000'000);
    }
    GpuMachineOptions options() const {
        GpuMachineOptions o;
        o.hwmon_root = m_hwmon.root();
        o.rocm.driver_markers = {m_dir.path().string()};
        return o;
    }
    ProbeOptions probe(const std::string& gpus) const {
        ProbeOptions p;
        p.hwmon_root = m_hwmon.root();
        p.powercap_root = m_dir.path() / "no-powercap";
        p.rocm.library.driver_markers = {m_dir.path().string()};
        p.nvml.gpus = nvml::GpuSelection::parse(gpus);
        p.allow_estimate = false;
        return p;
    }
};

TEST_F(MixedMachine, EveryGpuOnceInPciBusOrderWithItsVendorIndex) {
    const GpuMachine machine = GpuMachine::open(options());
    std::vector<std::string> seen;
    for (const auto& e : machine.gpus()) {
        seen.push_back(fmt::format("{} {} {}#{} {}", e.id.index, e.id.pci_bus_id, to_string(e.id.vendor),
                                   e.id.vendor_index, e.id.domain_id));
        EXPECT_TRUE(e.id.mixed);
    }
    EXPECT_THAT(seen, ElementsAre("0 0000:00:02.0 intel#0 hwmon-gpu0",
                                  "1 0000:03:00.0 amd#0 amdgpu0",
                                  "2 00000000:17:00.0 nvidia#0 gpu0",
                                  "3 0000:20:00.0 amd#1 amdgpu1",
                                  "4 00000000:27:00.0 nvidia#1 gpu1"));
}

TEST_F(MixedMachine, GpusListSelectsAcrossVendorsAndSensorsCarryTheGlobalIndex) {
    SensorSet set = probe_all(probe("3,0"));
    ASSERT_FALSE(set.selection_error) << set.selection_error->what();
    std::vector<std::string> gpus;
    for (const auto& s : set.sensors) {
        if (s->info().kind != DomainKind::kGpu) continue;
        gpus.push_back(fmt::format("{} {} {}", s->info().id, s->info().index, s->info().vendor));
    }
    EXPECT_THAT(gpus, ElementsAre("amdgpu1 3 amd", "hwmon-gpu0 0 intel"));
}

TEST_F(MixedMachine, AllMeasuresEveryGpuOnceAndAnIndexPastTheLastNamesTheRange) {
    SensorSet set = probe_all(probe("all"));
    int gpus = 0;
    for (const auto& s : set.sensors) gpus += s->info().kind == DomainKind::kGpu ? 1 : 0;
    EXPECT_EQ(gpus, 5);  // hwmon's amdgpu is ROCm SMI's GPU 1, counted once
    SensorSet bad = probe_all(probe("5"));
    ASSERT_TRUE(bad.selection_error);
    EXPECT_THAT(bad.selection_error->what(), HasSubstr("select GPU 5: no such GPU (valid indices: 0 to 4)"));
}

}  // namespace
}  // namespace joulebench
