// The fake NVML's power model (docs/nvml.md): under a load's demand the fake draws
// min(demand, enforced limit) and its counter integrates exactly that across limit changes;
// read-modify-writes of the state file from the fake's setters, the builder and the simulated
// workload (joulebench-fake-gpu-load, a real process) lose no update. No assertion depends on
// timing: energies are bracketed by CLOCK_MONOTONIC readings taken around the calls.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "fakes/fake_nvml_builder.hpp"
#include "fakes/fake_nvml_power.hpp"
#include "fakes/test_support.hpp"
#include "sensors/nvml/nvml_backend.hpp"

namespace joulebench::nvml {
namespace {

using nlohmann::json;
using test::FakeNvmlEnvironment;
using test::FakeNvmlState;
using test::TempDir;
using ::testing::HasSubstr;

class FakeNvmlPowerTest : public ::testing::Test {
protected:
    TempDir m_dir{"joulebench-fake-nvml-power"};
    std::filesystem::path m_state_path = m_dir.path() / "state.json";
    FakeNvmlState m_state{m_state_path, 2};
    FakeNvmlEnvironment m_env{m_state_path};

    static unsigned power_mw(const NvmlDevice& device) {
        unsigned mw = 0;
        EXPECT_EQ(device.api().nvmlDeviceGetPowerUsage(device.handle(), &mw), 0);
        return mw;
    }
    static unsigned long long counter_mj(const NvmlDevice& device) {
        unsigned long long mj = 0;
        EXPECT_EQ(device.api().nvmlDeviceGetTotalEnergyConsumption(device.handle(), &mj), 0);
        return mj;
    }
    [[nodiscard]] json gpu(unsigned index) const { return m_state.read().at("gpus").at(index); }

    test::ProcessResult run_load(const std::vector<std::string>& args,
                                 std::optional<std::string> visible = std::nullopt) const {
        std::vector<std::string> argv{JOULEBENCH_FAKE_GPU_LOAD_PATH};
        argv.insert(argv.end(), args.begin(), args.end());
        test::ProcessOptions o;
        o.env = {{"JOULEBENCH_FAKE_NVML_STATE", m_state_path.string()},
                 {"CUDA_VISIBLE_DEVICES", std::move(visible)}};
        o.timeout = std::chrono::seconds(60);
        return test::run_process(argv, o);
    }
};

TEST_F(FakeNvmlPowerTest, WithoutADemandPowerIsPowerMwWhateverTheLimit) {
    m_state.set_power_mw(0, 123000);
    const json before = gpu(0);
    const NvmlSystem system = NvmlSystem::open();
    system.devices().at(0).set_power_limit(Watts(110.0));
    EXPECT_EQ(power_mw(system.devices().at(0)), 123000U);
    // Nothing re-anchored: the counter runs on exactly as before.
    EXPECT_EQ(gpu(0).at("energy_mj"), before.at("energy_mj"));
    EXPECT_EQ(gpu(0).at("energy_anchor_ns"), before.at("energy_anchor_ns"));
}

TEST_F(FakeNvmlPowerTest, UnderADemandPowerIsTheSmallerOfDemandAndEnforcedLimit) {
    const NvmlSystem system = NvmlSystem::open();
    const NvmlDevice& device = system.devices().at(0);
    m_state.set_demand_mw(0, 250000);
    EXPECT_EQ(power_mw(device), 250000U);  // limit 400 W: the demand
    device.set_power_limit(Watts(200.0));
    EXPECT_EQ(power_mw(device), 200000U);  // capped
    device.set_power_limit(Watts(300.0));
    EXPECT_EQ(power_mw(device), 250000U);                  // above the demand: a plateau
    EXPECT_EQ(power_mw(system.devices().at(1)), 100000U);  // the other GPU: idle power
    m_state.set_demand_mw(0, std::nullopt);
    EXPECT_EQ(power_mw(device), 100000U);  // load over: power_mw
    EXPECT_FALSE(gpu(0).contains("demand_mw"));
}

// The setter folds the energy accrued at the old power into energy_mj at the moment it changes
// the limit, and the counter then advances at the new power.
TEST_F(FakeNvmlPowerTest, ALimitChangeUnderADemandKeepsTheEnergyAccruedAtTheOldPower) {
    const std::int64_t anchor0 = FakeNvmlState::monotonic_ns() - 2000000000LL;  // 2 s ago
    m_state.update([&](json& doc) {
        json& g = doc["gpus"][0];
        g["demand_mw"] = 300000;
        g["energy_mj"] = 1000.0;
        g["energy_anchor_ns"] = anchor0;
    });
    const NvmlSystem system = NvmlSystem::open();
    const NvmlDevice& device = system.devices().at(0);
    const std::int64_t before = FakeNvmlState::monotonic_ns();
    device.set_power_limit(Watts(200.0));
    const std::int64_t after = FakeNvmlState::monotonic_ns();

    const json g = gpu(0);
    const auto anchor1 = g.at("energy_anchor_ns").get<std::int64_t>();
    EXPECT_GE(anchor1, before);
    EXPECT_LE(anchor1, after);
    // 300 W from anchor0 to the change, exactly.
    const double folded = 1000.0 + 300000.0 * static_cast<double>(anchor1 - anchor0) * 1e-9;
    EXPECT_NEAR(g.at("energy_mj").get<double>(), folded, 1e-6);

    // From then on 200 W: the fake's counter lies between the values at the bracketing times.
    const std::int64_t t0 = FakeNvmlState::monotonic_ns();
    const unsigned long long read = counter_mj(device);
    const std::int64_t t1 = FakeNvmlState::monotonic_ns();
    const double low = folded + 200000.0 * static_cast<double>(t0 - anchor1) * 1e-9;
    const double high = folded + 200000.0 * static_cast<double>(t1 - anchor1) * 1e-9;
    EXPECT_GE(static_cast<double>(read), low - 1.0);  // the fake truncates to whole mJ
    EXPECT_LE(static_cast<double>(read), high);
}

// Two writers in one process, each through its own lock descriptor (flock excludes them exactly
// as it excludes two processes): the fake's setter and the builder's update, 150 times each.
// Without the lock a read-modify-write would drop the other's change.
// The interleaving behind a 67 J run stored as 1388 J: a reader loads the state while the load
// draws 160 W, is descheduled for 8 s, and meanwhile the workload ends its load (fold at 2 s,
// power 100 W). Integrating the state it loaded up to the time after the stall (10 s) would give
// more than the next read of the new state: the counter would step back, which NVML's sensor
// counts as a reset. Times are synthetic: the clock is a variable the steps move.
TEST(FakeNvmlEnergyRead, AWorkloadUpdateBetweenLoadAndClockNeverMakesTheCounterStepBack) {
    namespace fnv = fake_nvml;
    constexpr std::int64_t kS = 1'000'000'000;
    json gpu{{"energy_mj", 1'000'000.0}, {"energy_anchor_ns", 0}, {"demand_mw", 300'000},
             {"power_mw", 100'000}, {"limits", {{"enforced_mw", 160'000}}}};
    std::int64_t clock_ns = 1 * kS;
    const auto clock = [&] { return clock_ns; };
    std::vector<std::string> order;
    json loaded;
    const auto load_then_stall = [&] {
        order.emplace_back("load");
        loaded = gpu;
        // The workload ends its load while the reader is descheduled.
        clock_ns = 2 * kS;
        fnv::fold_energy(gpu, clock_ns, 0);
        gpu.erase("demand_mw");
        clock_ns = 10 * kS;
        return fnv::GpuView{&loaded, 0};
    };
    const auto first = fnv::read_energy_mj([&] { order.emplace_back("clock"); return clock(); }, load_then_stall);
    ASSERT_TRUE(first.has_value());
    EXPECT_EQ(order, (std::vector<std::string>{"clock", "load"}));
    // The true energy at the time taken first: 1000 J + 160 W x 1 s.
    EXPECT_DOUBLE_EQ(*first, 1'000'000.0 + 160'000.0);
    clock_ns += kS / 1000;
    const auto second = fnv::read_energy_mj(clock, [&] { return fnv::GpuView{&gpu, 0}; });
    ASSERT_TRUE(second.has_value());
    EXPECT_LE(*first, *second);
    // 160 W for 2 s, then 100 W for 8.001 s.
    EXPECT_NEAR(*second, 1'000'000.0 + 320'000.0 + 800'100.0, 1e-6);
    // The old order (load, then clock) read 1000 J + 160 W x 10 s: 480 J more than the next read.
    EXPECT_GT(fnv::energy_at_mj(loaded, 10 * kS, 0), *second);
}

TEST_F(FakeNvmlPowerTest, ConcurrentReadModifyWritesLoseNoUpdate) {
    constexpr int kEach = 150;
    const NvmlSystem system = NvmlSystem::open();
    const NvmlDevice& device = system.devices().at(0);
    std::thread setter([&] {
        for (int i = 0; i < kEach; ++i) device.set_power_limit(Watts(i % 2 == 0 ? 200.0 : 250.0));
    });
    for (int i = 0; i < kEach; ++i) {
        m_state.update([](json& doc) { doc["counter"] = doc.value("counter", 0) + 1; });
    }
    setter.join();
    const json doc = m_state.read();
    EXPECT_EQ(doc.at("counter").get<int>(), kEach);
    EXPECT_EQ(doc.at("calls").size(), static_cast<std::size_t>(kEach));
}

// Simulated workloads in parallel processes, with setter calls from this one: every workload's
// start and end and every setter call survive.
TEST_F(FakeNvmlPowerTest, WorkloadProcessesAndSettersLoseNoUpdate) {
    constexpr int kLoads = 4;
    constexpr int kSets = 40;
    const NvmlSystem system = NvmlSystem::open();
    const NvmlDevice& device = system.devices().at(0);
    std::vector<std::unique_ptr<test::ChildProcess>> loads;
    for (int i = 0; i < kLoads; ++i) {
        test::ProcessOptions o;
        o.env = {{"JOULEBENCH_FAKE_NVML_STATE", m_state_path.string()},
                 {"CUDA_VISIBLE_DEVICES", std::nullopt}};
        loads.push_back(std::make_unique<test::ChildProcess>(
            std::vector<std::string>{JOULEBENCH_FAKE_GPU_LOAD_PATH, "--t0", "0", "--seed", "1"},
            o));
    }
    for (int i = 0; i < kSets; ++i) device.set_power_limit(Watts(i % 2 == 0 ? 200.0 : 250.0));
    for (auto& load : loads) EXPECT_EQ(load->wait().exit_code, 0);
    const json doc = m_state.read();
    EXPECT_EQ(doc.at("calls").size(), static_cast<std::size_t>(kSets));
    EXPECT_FALSE(doc["gpus"][0].contains("demand_mw"));  // every load's end was kept
    EXPECT_EQ(doc["gpus"][0].at("power_mw").get<int>(), 0);
}

// The workload draws min(D, c) while it runs, for at least T(c) and at most its wall time, and
// its GPU is the first of CUDA_VISIBLE_DEVICES.
TEST_F(FakeNvmlPowerTest, WorkloadEnergyIsTheCappedPowerOverItsTime) {
    m_state.set_power_mw(0, 0).set_power_mw(1, 0);
    m_state.set_limits(1, {200000, 200000, 100000, 400000, 400000});
    const double e0 = m_state.energy_mj(1);
    const double other0 = m_state.energy_mj(0);
    const std::int64_t start = FakeNvmlState::monotonic_ns();
    // T = 0.2 * (1 + (300/200 - 1)^2) = 0.25 s at 200 W: 50 J.
    const auto r = run_load(
        {"--t0", "0.2", "--demand", "300", "--a", "1", "--p", "2", "--noise", "0", "--seed", "7"},
        "1,0");
    const double wall_s = static_cast<double>(FakeNvmlState::monotonic_ns() - start) * 1e-9;
    ASSERT_EQ(r.exit_code, 0) << r.err;
    const double joules = (m_state.energy_mj(1) - e0) * 1e-3;
    EXPECT_GE(joules, 200.0 * 0.25 * (1.0 - 1e-9));
    EXPECT_LE(joules, 200.0 * wall_s);
    EXPECT_DOUBLE_EQ(m_state.energy_mj(0), other0);  // GPU 0 stayed idle at 0 W
    EXPECT_FALSE(gpu(1).contains("demand_mw"));
}

TEST_F(FakeNvmlPowerTest, WorkloadProgressModePrintsEachStep) {
    const auto r = run_load({"--units", "3", "--unit-s", "0.001", "--demand", "250"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(r.out, "step 1\nstep 2\nstep 3\n");
}

TEST_F(FakeNvmlPowerTest, WorkloadRejectsBadOptionsWithStatus2) {
    for (const std::vector<std::string>& args : {std::vector<std::string>{"--noise", "-0.1"},
                                                 {"--t0", "abc"},
                                                 {"--bogus", "1"},
                                                 {"--units", "3"},
                                                 {"--units", "2", "--unit-s", "0.1", "--t0", "1"},
                                                 {"--demand", "0"},
                                                 {"--seed"}}) {
        const auto r = run_load(args);
        EXPECT_EQ(r.exit_code, 2) << args.front();
        EXPECT_THAT(r.err, HasSubstr("joulebench-fake-gpu-load: ")) << args.front();
    }
    EXPECT_FALSE(gpu(0).contains("demand_mw"));  // nothing started
}

}  // namespace
}  // namespace joulebench::nvml
