// `joulebench sensors` and `measure` with the fake librocm_smi64.so.1: an AMD GPU shows up.

#include <gtest/gtest.h>
#include <time.h>

#include <cstdint>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>

#include "fakes/fake_powercap_builder.hpp"
#include "fakes/test_support.hpp"

namespace joulebench::test {
namespace {

using nlohmann::json;

std::int64_t monotonic_ns() {
    timespec ts{};
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return static_cast<std::int64_t>(ts.tv_sec) * 1000000000LL + ts.tv_nsec;
}

class RocmCli : public ::testing::Test {
protected:
    TempDir m_dir;
    FakePowercapTree m_tree{m_dir.path() / "powercap"};
    std::filesystem::path m_state = m_dir.path() / "rocm.json";

    void SetUp() override {
        m_tree.add_typical_socket(0, 40.0, 20.0, 4.0);
        const json doc{{"gpus",
                        {{{"name", "AMD Instinct MI210"},
                          {"unique_id", 0x1122334455667788ULL},
                          {"bdfid", (std::uint64_t{0x03} << 8U)},
                          {"energy_count", 0},
                          {"energy_anchor_ns", monotonic_ns()},
                          {"power_uw", 150'000'000},
                          {"cap_uw", 250'000'000},
                          {"cap_min_uw", 100'000'000},
                          {"cap_max_uw", 300'000'000}}}}};
        std::ofstream(m_state) << doc.dump();
    }
    ProcessOptions env() const {
        ProcessOptions o;
        o.env = {{"JOULEBENCH_POWERCAP_ROOT", m_tree.root().string()},
                 {"JOULEBENCH_NVML_LIBRARY", std::string("/nonexistent/libnvidia-ml.so.1")},
                 {"JOULEBENCH_ROCM_SMI_LIBRARY", std::string(JOULEBENCH_FAKE_ROCM_SMI_PATH)},
                 {"JOULEBENCH_FAKE_ROCM_SMI_STATE", m_state.string()},
                 {"JOULEBENCH_STATE_DIR", (m_dir.path() / "state").string()}};
        return o;
    }
};

TEST_F(RocmCli, SensorsVerboseShowsTheAmdGpu) {
    const auto r = run_joulebench({"sensors", "-v"}, env());
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_NE(r.out.find("amdgpu0"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("AMD Instinct MI210"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("PCI bus id: 0000:03:00.0"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("source: 0x1122334455667788"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("rocm: 1 sensor"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("resolution 15.300 uJ per count"), std::string::npos) << r.out;
}

TEST_F(RocmCli, SensorsSaysWhyWithoutTheLibrary) {
    ProcessOptions o = env();
    for (auto& [name, value] : o.env) {
        if (name == "JOULEBENCH_ROCM_SMI_LIBRARY") value = "/nonexistent/librocm_smi64.so.1";
    }
    const auto r = run_joulebench({"sensors", "-v"}, o);
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_NE(r.out.find("skipped: rocm: library not found: tried $JOULEBENCH_ROCM_SMI_LIBRARY="
                         "/nonexistent/librocm_smi64.so.1"),
              std::string::npos)
        << r.out;
}

TEST_F(RocmCli, MeasureCountsTheAmdGpu) {
    const auto r = run_joulebench({"measure", "--json", "-", "--", "sleep", "0.3"}, env());
    ASSERT_EQ(r.exit_code, 0) << r.err;
    const json j = json::parse(r.out);
    bool found = false;
    for (const auto& d : j.at("domains")) {
        if (d.at("id") == "amdgpu0") {
            found = true;
            // 150 W over about 0.3 s.
            EXPECT_NEAR(d.at("energy_j").get<double>(), 150.0 * 0.3, 150.0 * 0.15) << d.dump();
        }
    }
    EXPECT_TRUE(found) << r.out;
}

TEST_F(RocmCli, CapsShowListsTheAmdGpuWithItsRange) {
    const auto r = run_joulebench({"caps", "show", "--json"}, env());
    ASSERT_EQ(r.exit_code, 0) << r.err;
    const json j = json::parse(r.out);
    bool found = false;
    for (const auto& d : j.at("devices")) {
        if (d.at("backend") != "rocm") continue;
        found = true;
        EXPECT_EQ(d.at("id"), "amdgpu0");
        EXPECT_EQ(d.at("key"), "0x1122334455667788");
        EXPECT_DOUBLE_EQ(d.at("current_w").get<double>(), 250.0);
        EXPECT_DOUBLE_EQ(d.at("min_w").get<double>(), 100.0);
    }
    EXPECT_TRUE(found) << r.out;
}

}  // namespace
}  // namespace joulebench::test
