// NvmlSensor against the fake libnvidia-ml.so.1 (loaded with dlopen), and against tables with
// optional entries removed (a missing symbol cannot be simulated by one .so).

#include <chrono>
#include <cmath>
#include <thread>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "fakes/fake_nvml_builder.hpp"
#include "fakes/test_support.hpp"
#include "sensors/nvml/nvml_backend.hpp"
#include "sensors/nvml/nvml_sensor.hpp"

namespace joulebench::nvml {
namespace {

using ::testing::Contains;
using ::testing::HasSubstr;
using test::FakeNvmlEnvironment;
using test::FakeNvmlState;
using test::TempDir;
using namespace std::chrono_literals;

class NvmlSensorTest : public ::testing::Test {
protected:
    // The sensor of GPU `index` (all GPUs selected).
    std::unique_ptr<Sensor> open_sensor(int index = 0) {
        m_probe = probe_nvml(NvmlProbeOptions{});
        for (auto& sensor : m_probe.sensors) {
            if (sensor->info().index == index) return std::move(sensor);
        }
        ADD_FAILURE() << "no sensor for GPU " << index;
        return nullptr;
    }

    // A sample with the steady-clock interval around the call, so tests can bound the truth.
    struct Bracketed {
        std::optional<EnergySample> sample;
        Clock::time_point before;
        Clock::time_point after;
    };
    static Bracketed take(Sensor& sensor) {
        Bracketed b;
        b.before = Clock::now();
        b.sample = sensor.sample();
        b.after = Clock::now();
        return b;
    }

    TempDir m_dir{"joulebench-nvml-sensor"};
    std::filesystem::path m_state_path = m_dir.path() / "state.json";
    FakeNvmlState m_state{m_state_path, 2};
    FakeNvmlEnvironment m_env{m_state_path};
    BackendProbe m_probe;
};

// Energy of a known power over a known time, through the counter: within 0.5%. The fake's counter
// is read at some instant inside [before, after] of each sample, so the truth lies in
// [P*(a1.before... )]: the tolerance is 0.5% plus the width of those brackets (a preemption).
TEST_F(NvmlSensorTest, CounterEnergyOfKnownPowerWithinHalfPercent) {
    m_state.set_power_mw(0, 250000);
    auto sensor = open_sensor(0);
    ASSERT_NE(sensor, nullptr);
    ASSERT_EQ(sensor->info().method, Method::kCounter);
    const Bracketed first = take(*sensor);
    std::this_thread::sleep_for(400ms);
    const Bracketed second = take(*sensor);
    ASSERT_TRUE(first.sample && second.sample);
    const double measured = (second.sample->energy - first.sample->energy).value();
    const double expected = 250.0 * seconds_between(first.sample->time, second.sample->time);
    const double bracket_s = seconds_between(first.before, first.after) +
                             seconds_between(second.before, second.after);
    EXPECT_NEAR(measured, expected, 0.005 * expected + 250.0 * bracket_s + 0.002);
    EXPECT_GT(measured, 250.0 * 0.39);
}

// The integrated method (energy counter NOT_SUPPORTED) with a constant power is exact up to the
// timestamps; compared with the fake's own counter (ground truth that still runs internally).
TEST_F(NvmlSensorTest, NotSupportedCounterFallsBackToIntegratedPowerWithANote) {
    m_state.set_power_mw(0, 180000).set_supported(0, "nvmlDeviceGetTotalEnergyConsumption", false);
    auto sensor = open_sensor(0);
    ASSERT_NE(sensor, nullptr);
    const SensorInfo& info = sensor->info();
    EXPECT_EQ(info.method, Method::kIntegrated);
    EXPECT_THAT(info.notes, Contains("energy counter: not supported; using integrated power"));
    EXPECT_EQ(sensor->max_poll_interval(), std::chrono::nanoseconds(100ms));
    EXPECT_FALSE(sensor->cross_check_energy().has_value());

    const double truth_start = m_state.energy_mj(0);
    const Bracketed first = take(*sensor);
    std::this_thread::sleep_for(300ms);
    const Bracketed second = take(*sensor);
    const double truth = (m_state.energy_mj(0) - truth_start) * 1e-3;
    ASSERT_TRUE(first.sample && second.sample);
    const double measured = (second.sample->energy - first.sample->energy).value();
    const double expected = 180.0 * seconds_between(first.sample->time, second.sample->time);
    EXPECT_NEAR(measured, expected, 1e-9 * expected);
    // The truth covers a slightly longer interval (it brackets both samples).
    EXPECT_LE(measured, truth + 1e-6);
    EXPECT_NEAR(measured, truth, 0.005 * truth + 180.0 * 0.01);
}

// A power step while sampling: the trapezoid misses at most |dP| * gap / 2 at the step, with gap
// the sampling interval around it; the counter gives the truth.
TEST_F(NvmlSensorTest, IntegratedAndCounterAgreeAcrossAPowerStep) {
    m_state.set_power_mw(0, 100000);
    auto sensor = open_sensor(0);
    ASSERT_NE(sensor, nullptr);
    ASSERT_TRUE(sensor->cross_check_energy().has_value());
    auto* nvml_sensor = dynamic_cast<NvmlSensor*>(sensor.get());
    ASSERT_NE(nvml_sensor, nullptr);
    double max_gap_s = 0.0;
    auto last = Clock::now();
    std::optional<EnergySample> final_sample;
    for (int i = 0; i < 60; ++i) {
        if (i == 30) m_state.set_power_mw(0, 300000);
        final_sample = sensor->sample();
        ASSERT_TRUE(final_sample.has_value());
        const auto now = Clock::now();
        max_gap_s = std::max(max_gap_s, seconds_between(last, now));
        last = now;
        std::this_thread::sleep_for(12ms);  // > kCrossCheckPeriod: every sample reads power
    }
    const double counter_j = final_sample->energy.value();
    const double integrated_j = sensor->cross_check_energy()->value();
    // Bound: the step (200 W * gap / 2), plus the 1 mJ truncation of both counter ends, plus the
    // cross-check's own start (its first reading is taken at open, like the counter's baseline).
    EXPECT_NEAR(integrated_j, counter_j, 200.0 * max_gap_s / 2.0 + 0.002)
        << "max gap " << max_gap_s << " s";
    EXPECT_GT(counter_j, 100.0 * 0.3);
}

// The trapezoid itself, with an injected clock: readings 100 W, 300 W, 300 W, 0 W at t = 0, 1,
// 1.5 and 3.5 s give (100+300)/2*1 + 300*0.5 + (300+0)/2*2 = 200 + 150 + 300 = 650 J.
Clock::time_point g_manual_now{};
Clock::time_point manual_now() noexcept { return g_manual_now; }

TEST_F(NvmlSensorTest, TrapezoidWithAnInjectedClockIsExact) {
    m_state.set_power_mw(0, 100000).set_supported(0, "nvmlDeviceGetTotalEnergyConsumption", false);
    const NvmlSystem system = NvmlSystem::open();
    g_manual_now = Clock::time_point{} + std::chrono::hours(1);
    const auto start = g_manual_now;
    NvmlSensor sensor(system.devices().at(0), &manual_now);  // first reading: 100 W at t = 0
    m_state.set_power_mw(0, 300000);
    g_manual_now = start + 1s;
    const auto s1 = sensor.sample();
    ASSERT_TRUE(s1.has_value());
    EXPECT_DOUBLE_EQ(s1->energy.value(), 200.0);
    EXPECT_EQ(s1->time, start + 1s);
    g_manual_now = start + 1500ms;
    EXPECT_DOUBLE_EQ(sensor.sample()->energy.value(), 350.0);
    m_state.set_power_mw(0, 0);
    g_manual_now = start + 3500ms;
    EXPECT_DOUBLE_EQ(sensor.sample()->energy.value(), 650.0);
    // A clock that does not advance adds nothing.
    EXPECT_DOUBLE_EQ(sensor.sample()->energy.value(), 650.0);
}

TEST_F(NvmlSensorTest, CounterResetIsFlaggedNotClamped) {
    m_state.set_power_mw(0, 200000).set_energy_mj(0, 5.0e6);
    auto sensor = open_sensor(0);
    ASSERT_NE(sensor, nullptr);
    std::this_thread::sleep_for(20ms);
    const auto before = sensor->sample();
    ASSERT_TRUE(before.has_value());
    m_state.reset_energy_counter(0);  // driver reload: the counter starts again at 0
    std::this_thread::sleep_for(50ms);
    const auto t0 = Clock::now();
    const double counter_after_reset_j = m_state.energy_mj(0) * 1e-3;
    const auto after = sensor->sample();
    const auto t1 = Clock::now();
    ASSERT_TRUE(after.has_value());

    const SensorHealth health = sensor->health();
    EXPECT_EQ(health.resets, 1U);
    EXPECT_EQ(health.failed_reads, 0U);
    ASSERT_EQ(health.events.size(), 1U);
    EXPECT_THAT(health.events[0], HasSubstr("gpu0: energy counter reset at +"));
    EXPECT_THAT(health.events[0], HasSubstr("lower bound"));
    // Cumulative energy keeps growing by the reading after the reset (energy since the reset).
    const double growth = (after->energy - before->energy).value();
    EXPECT_GE(growth, counter_after_reset_j - 0.001);
    EXPECT_LE(growth, counter_after_reset_j + 200.0 * seconds_between(t0, t1) + 0.001);
    EXPECT_GT(growth, 200.0 * 0.045);
}

TEST_F(NvmlSensorTest, InjectedErrorsAreFailedReadsAndTheCounterCoversTheGap) {
    m_state.set_power_mw(0, 150000);
    auto sensor = open_sensor(0);
    ASSERT_NE(sensor, nullptr);
    // Each read is bracketed by the fake's own counter, so the check does not depend on how long
    // a call takes (slow under sanitizers or on a loaded machine).
    const double before_first_mj = m_state.energy_mj(0);
    const auto first = sensor->sample();
    const double after_first_mj = m_state.energy_mj(0);
    ASSERT_TRUE(first.has_value());
    m_state.inject_error(0, "nvmlDeviceGetTotalEnergyConsumption", 999);
    EXPECT_FALSE(sensor->sample().has_value());
    EXPECT_FALSE(sensor->sample().has_value());
    EXPECT_EQ(sensor->health().failed_reads, 2U);
    std::this_thread::sleep_for(100ms);
    m_state.inject_error(0, "nvmlDeviceGetTotalEnergyConsumption", 0);
    const double before_later_mj = m_state.energy_mj(0);
    const auto later = sensor->sample();
    const double after_later_mj = m_state.energy_mj(0);
    ASSERT_TRUE(later.has_value());
    // The counter covers the gap: the difference spans everything between the two reads.
    const double measured_j = (later->energy - first->energy).value();
    EXPECT_GE(measured_j, (before_later_mj - after_first_mj) / 1000.0 - 1e-6);
    EXPECT_LE(measured_j, (after_later_mj - before_first_mj) / 1000.0 + 1e-6);
    EXPECT_GT(measured_j, 150.0 * 0.1 * 0.99);  // at least the 100 ms slept at 150 W
    EXPECT_EQ(sensor->health().failed_reads, 2U);
    EXPECT_EQ(sensor->health().resets, 0U);
}

TEST_F(NvmlSensorTest, IntegratedMethodCountsFailedPowerReads) {
    m_state.set_supported(1, "nvmlDeviceGetTotalEnergyConsumption", false);
    auto sensor = open_sensor(1);
    ASSERT_NE(sensor, nullptr);
    ASSERT_EQ(sensor->info().method, Method::kIntegrated);
    m_state.inject_error("nvmlDeviceGetPowerUsage", 15);  // GPU is lost
    EXPECT_FALSE(sensor->sample().has_value());
    EXPECT_EQ(sensor->health().failed_reads, 1U);
}

TEST_F(NvmlSensorTest, TelemetryReflectsTheFakeWhileItChanges) {
    auto sensor = open_sensor(0);
    ASSERT_NE(sensor, nullptr);
    m_state.set_power_mw(0, 231500)
        .set_temperature_c(0, 71)
        .set_sm_clock_mhz(0, 1980)
        .set_utilisation(0, 93, 40)
        .set_clocks_event_reasons(0, 0x4)  // SW power cap
        .set_limits(0, {300000, 280000, 100000, 400000, 350000});
    const auto telemetry = sensor->telemetry();
    ASSERT_TRUE(telemetry.has_value());
    ASSERT_TRUE(telemetry->power.has_value());
    EXPECT_DOUBLE_EQ(telemetry->power->value(), 231.5);
    EXPECT_EQ(telemetry->temperature_c, 71.0);
    EXPECT_EQ(telemetry->sm_clock_mhz, 1980U);
    EXPECT_EQ(telemetry->utilisation_pct, 93U);
    EXPECT_EQ(telemetry->throttle_reasons, 0x4U);
    ASSERT_TRUE(telemetry->enforced_limit.has_value());
    EXPECT_DOUBLE_EQ(telemetry->enforced_limit->value(), 280.0);

    // NOT_SUPPORTED removes a field; the old throttle-reasons name answers when the new one does not.
    m_state.set_supported(0, "nvmlDeviceGetTemperature", false)
        .set_supported(0, "nvmlDeviceGetCurrentClocksEventReasons", false)
        .set_clocks_event_reasons(0, 0x80);
    const auto reduced = sensor->telemetry();
    ASSERT_TRUE(reduced.has_value());
    EXPECT_FALSE(reduced->temperature_c.has_value());
    EXPECT_EQ(reduced->throttle_reasons, 0x80U);
    EXPECT_EQ(reduced->sm_clock_mhz, 1980U);
    // A transient error empties the field for one call only.
    m_state.inject_error(0, "nvmlDeviceGetClockInfo", 10);
    EXPECT_FALSE(sensor->telemetry()->sm_clock_mhz.has_value());
    m_state.inject_error(0, "nvmlDeviceGetClockInfo", 0);
    EXPECT_EQ(sensor->telemetry()->sm_clock_mhz, 1980U);
}

TEST_F(NvmlSensorTest, InfoCarriesLimitsAndPersistence) {
    m_state.set_limits(1, {300000, 280000, 100000, 400000, 350000}).set_persistence_mode(1, false);
    auto sensor = open_sensor(1);
    ASSERT_NE(sensor, nullptr);
    const SensorInfo& info = sensor->info();
    ASSERT_EQ(info.limits.size(), 1U);
    const PowerLimitInfo& limit = info.limits[0];
    EXPECT_EQ(limit.name, "power limit");
    EXPECT_EQ(limit.current, Watts(300.0));
    EXPECT_EQ(limit.enforced, Watts(280.0));
    EXPECT_EQ(limit.min, Watts(100.0));
    EXPECT_EQ(limit.max, Watts(400.0));
    EXPECT_EQ(limit.default_value, Watts(350.0));
    EXPECT_FALSE(limit.time_window.has_value());
    EXPECT_THAT(info.notes, Contains(HasSubstr("persistence mode: off")));
    EXPECT_THAT(info.notes, Contains(HasSubstr("cross-check: power readings integrated")));
}

TEST_F(NvmlSensorTest, UnsupportedLimitsAreLeftEmpty) {
    m_state.set_supported(0, "nvmlDeviceGetPowerManagementLimitConstraints", false)
        .set_supported(0, "nvmlDeviceGetPowerManagementDefaultLimit", false);
    auto sensor = open_sensor(0);
    ASSERT_NE(sensor, nullptr);
    const PowerLimitInfo& limit = sensor->info().limits.at(0);
    EXPECT_EQ(limit.current, Watts(400.0));
    EXPECT_FALSE(limit.min.has_value());
    EXPECT_FALSE(limit.max.has_value());
    EXPECT_FALSE(limit.default_value.has_value());
}

// Missing optional symbols: the fake's own table with entries removed, used through the same
// NvmlLibrary/NvmlSystem code as a dlopen'ed one.
TEST_F(NvmlSensorTest, MissingOptionalSymbolsRemoveCapabilitiesNeverFail) {
    NvmlApi api = NvmlLibrary::resolve_table(FakeNvmlEnvironment::library_path());
    api.nvmlDeviceGetTotalEnergyConsumption = nullptr;
    api.nvmlDeviceGetPciInfo_v3 = nullptr;
    api.nvmlDeviceGetTemperature = nullptr;
    api.nvmlDeviceGetCurrentClocksEventReasons = nullptr;  // old driver: only the old name
    api.nvmlDeviceGetPowerManagementDefaultLimit = nullptr;
    api.nvmlSystemGetDriverVersion = nullptr;
    m_state.set_pci_bus_id(0, "00000000:F0:00.0").set_clocks_event_reasons(1, 0x1);
    const NvmlSystem system(NvmlLibrary::from_table(api, "hand-built table"));
    EXPECT_EQ(system.driver_version(), "");
    EXPECT_THAT(system.notes(), Contains(HasSubstr("optional symbols missing (capabilities removed): nvmlSystemGetDriverVersion, nvmlDeviceGetPciInfo_v3, nvmlDeviceGetTotalEnergyConsumption")));
    EXPECT_THAT(system.notes(), Contains(HasSubstr("GPUs ordered by NVML index")));
    const BackendProbe probe = probe_nvml(system, GpuSelection::all());
    ASSERT_EQ(probe.sensors.size(), 2U);
    Sensor& sensor = *probe.sensors[1];  // NVML order kept: index 1 is NVML's GPU 1
    EXPECT_EQ(sensor.info().pci_bus_id, "");
    EXPECT_EQ(sensor.info().method, Method::kIntegrated);
    EXPECT_THAT(sensor.info().notes,
                Contains("energy counter: nvmlDeviceGetTotalEnergyConsumption not in the library; "
                         "using integrated power"));
    EXPECT_THAT(sensor.info().notes, Contains(HasSubstr("PCI bus id: not available")));
    EXPECT_FALSE(sensor.info().limits.at(0).default_value.has_value());
    EXPECT_TRUE(sensor.info().limits.at(0).max.has_value());
    const auto telemetry = sensor.telemetry();
    ASSERT_TRUE(telemetry.has_value());
    EXPECT_FALSE(telemetry->temperature_c.has_value());
    EXPECT_EQ(telemetry->throttle_reasons, 0x1U);  // through nvmlDeviceGetCurrentClocksThrottleReasons
    EXPECT_TRUE(sensor.sample().has_value());
}

TEST_F(NvmlSensorTest, MissingRequiredSymbolRejectsTheLibrary) {
    NvmlApi api = NvmlLibrary::resolve_table(FakeNvmlEnvironment::library_path());
    api.nvmlDeviceGetUUID = nullptr;
    try {
        (void)NvmlLibrary::from_table(api, "old library");
        FAIL() << "a table without nvmlDeviceGetUUID was accepted";
    } catch (const Error& e) {
        EXPECT_EQ(e.category(), ErrorCategory::kNotSupported);
        EXPECT_STREQ(e.what(), "nvml: load old library: required symbols missing: nvmlDeviceGetUUID");
    }
}

TEST_F(NvmlSensorTest, EntryPointListMatchesTheFakeExports) {
    // Every entry of nvml_api.def resolves in the fake, so the fake serves exactly our list.
    const NvmlApi api = NvmlLibrary::resolve_table(FakeNvmlEnvironment::library_path());
    const auto library = NvmlLibrary::from_table(api, "fake");
    EXPECT_TRUE(library->missing_optional().empty());
    EXPECT_EQ(nvml_entry_points().size(), 23U);
    EXPECT_EQ(std::count_if(nvml_entry_points().begin(), nvml_entry_points().end(),
                            [](const NvmlEntryPoint& e) { return e.required; }),
              7);
}

}  // namespace
}  // namespace joulebench::nvml
