// AMD GPUs as first-class GPUs, end to end on a mixed machine: the fake NVML (one NVIDIA GPU at
// 0000:17:00.0) and the fake ROCm SMI (one AMD GPU at 0000:03:00.0) loaded through the production
// dlopen paths. GPU 0 is the AMD GPU, GPU 1 the NVIDIA one (PCI bus order, docs/sensors.md).

#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <time.h>

#include <cstdint>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>

#include "fakes/fake_nvml_builder.hpp"
#include "fakes/test_support.hpp"

namespace joulebench::test {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using ::testing::HasSubstr;

class AmdGpusCli : public ::testing::Test {
protected:
    TempDir m_dir{"joulebench-amd-gpus"};
    FakeNvmlState m_nvml{m_dir.path() / "nvml.json", 1};
    fs::path m_rocm = m_dir.path() / "rocm.json";

    void SetUp() override {
        const json doc{{"gpus",
                        {{{"name", "AMD Instinct MI210"},
                          {"unique_id", 0x1122334455667788ULL},
                          {"bdfid", (std::uint64_t{0x03} << 8U)},
                          {"energy_count", 0},
                          {"energy_anchor_ns", FakeNvmlState::monotonic_ns()},
                          {"power_uw", 150'000'000},
                          {"cap_uw", 250'000'000},
                          {"cap_min_uw", 100'000'000},
                          {"cap_max_uw", 300'000'000}}}}};
        std::ofstream(m_rocm) << doc.dump();
    }
    ProcessOptions env() const {
        ProcessOptions o;
        o.env = {{"JOULEBENCH_POWERCAP_ROOT", (m_dir.path() / "no-powercap").string()},
                 {"JOULEBENCH_HWMON_ROOT", (m_dir.path() / "no-hwmon").string()},
                 {"JOULEBENCH_NVML_LIBRARY", FakeNvmlEnvironment::library_path()},
                 {"JOULEBENCH_FAKE_NVML_STATE", m_nvml.path().string()},
                 {"JOULEBENCH_ROCM_SMI_LIBRARY", std::string(JOULEBENCH_FAKE_ROCM_SMI_PATH)},
                 {"JOULEBENCH_FAKE_ROCM_SMI_STATE", m_rocm.string()},
                 {"JOULEBENCH_STATE_DIR", (m_dir.path() / "state").string()}};
        o.timeout = std::chrono::seconds(60);
        return o;
    }
    std::uint64_t amd_cap_uw() const {
        return json::parse(read_file(m_rocm))["gpus"][0]["cap_uw"].get<std::uint64_t>();
    }
    // The GPU domains of a measure --json, as "id index".
    static std::vector<std::string> gpu_domains(const std::string& out) {
        std::vector<std::string> ids;
        const json doc = json::parse(out);  // kept: the loop walks a member of it
        for (const auto& d : doc.at("domains")) {
            if (d.at("kind") == "gpu") ids.push_back(fmt::format("{} {}", d.at("id").get<std::string>(), d.at("index").get<int>()));
        }
        return ids;
    }
};

TEST_F(AmdGpusCli, SensorsNumbersEveryVendorsGpusInPciBusOrder) {
    const auto r = run_joulebench({"sensors", "--json"}, env());
    ASSERT_EQ(r.exit_code, 0) << r.err;
    std::vector<std::string> gpus;
    const json doc = json::parse(r.out);  // kept: the loop walks a member of it
    for (const auto& s : doc.at("sensors")) {
        if (s.at("kind") != "gpu") continue;
        gpus.push_back(fmt::format("{} {} {}", s.at("index").get<int>(), s.at("vendor").get<std::string>(),
                                   s.at("id").get<std::string>()));
    }
    EXPECT_THAT(gpus, ::testing::UnorderedElementsAre("0 amd amdgpu0", "1 nvidia gpu0"));
    const auto text = run_joulebench({"sensors"}, env());
    EXPECT_THAT(text.out, HasSubstr("GPU 0 (amd; --gpus 0)"));
}

TEST_F(AmdGpusCli, GpusSelectingTheAmdGpuMeasuresOnlyIt) {
    const auto amd = run_joulebench({"measure", "--gpus", "0", "--json", "-", "--", "sleep", "0.2"}, env());
    ASSERT_EQ(amd.exit_code, 0) << amd.err;
    EXPECT_THAT(gpu_domains(amd.out), ::testing::ElementsAre("amdgpu0 0"));
    const auto nvidia = run_joulebench({"measure", "--gpus", "1", "--json", "-", "--", "sleep", "0.2"}, env());
    ASSERT_EQ(nvidia.exit_code, 0) << nvidia.err;
    EXPECT_THAT(gpu_domains(nvidia.out), ::testing::ElementsAre("gpu0 1"));
}

TEST_F(AmdGpusCli, PowerCapOnTheAmdGpuIsSetDuringTheRunAndRestored) {
    const fs::path seen = m_dir.path() / "seen.json";
    const auto r = run_joulebench({"measure", "--gpus", "0", "--power-cap", "200", "--json", "-", "--", "cp",
                                   m_rocm.string(), seen.string()},
                                  env());
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(json::parse(read_file(seen))["gpus"][0]["cap_uw"].get<std::uint64_t>(), 200'000'000U);
    EXPECT_EQ(amd_cap_uw(), 250'000'000U);
    EXPECT_EQ(m_nvml.limits(0).current_mw, FakeNvmlLimits{}.current_mw);  // the NVIDIA GPU untouched
}

TEST_F(AmdGpusCli, PowerCapOutsideTheAmdRangeNamesTheRange) {
    const auto r = run_joulebench({"measure", "--gpus", "0", "--power-cap", "0=400", "--", "true"}, env());
    EXPECT_EQ(r.exit_code, 2) << r.err;
    EXPECT_THAT(r.err, HasSubstr("100 W to 300 W"));
    EXPECT_EQ(amd_cap_uw(), 250'000'000U);
}

TEST_F(AmdGpusCli, TheGuardianRestoresTheAmdCapAfterSigkill) {
    ChildProcess child({joulebench_binary(), "measure", "--gpus", "0", "--power-cap", "180", "--", "sleep", "30"},
                       env());
    ASSERT_TRUE(eventually([&] { return amd_cap_uw() == 180'000'000U; })) << child.err_so_far();
    child.send(SIGKILL);
    EXPECT_EQ(child.wait().signal, SIGKILL);
    EXPECT_TRUE(eventually([&] { return amd_cap_uw() == 250'000'000U; }));
}

TEST_F(AmdGpusCli, ABareRunOnAnAmdSlotSeesHipAndRocrVisibleDevices) {
    const fs::path file = m_dir.path() / "experiment.toml";
    const fs::path log = m_dir.path() / "env.log";
    write_file(file, fmt::format(R"([experiment]
name = "amd"
repetitions = 1

[[workload]]
name = "w"
command = ["sh", "-c", "echo ROCR=${{ROCR_VISIBLE_DEVICES-unset}} HIP=${{HIP_VISIBLE_DEVICES-unset}} CUDA=${{CUDA_VISIBLE_DEVICES-unset}} >> {}"]

[[environment]]
name = "bare"
type = "bare"

[power_caps]
gpu_w = [200]

[gpus]
devices = [0]
)",
                                 log.string()));
    const auto r = run_joulebench({"run", file.string(), "--db", (m_dir.path() / "r.db").string(), "--interval", "20"},
                                  env());
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(read_file(log), "ROCR=0 HIP=0 CUDA=-1\n");
    EXPECT_EQ(amd_cap_uw(), 250'000'000U);  // capped for the run, restored after
}

}  // namespace
}  // namespace joulebench::test
