// Cost of the NVML backend's hot path against the fake libnvidia-ml.so.1. These figures measure
// the fake (a mutex, a stat() of its state file and a JSON lookup per call), not a driver: the
// cost of real NVML calls must be measured on a GPU machine (docs/validation/gpu.md).

#include <benchmark/benchmark.h>

#include <filesystem>
#include <memory>

#include "fakes/fake_nvml_builder.hpp"
#include "fakes/test_support.hpp"
#include "sensors/nvml/nvml_backend.hpp"
#include "sensors/nvml/nvml_sensor.hpp"

namespace {

using joulebench::nvml::GpuSelection;
using joulebench::nvml::NvmlApi;
using joulebench::nvml::NvmlSensor;
using joulebench::nvml::NvmlSystem;

// One fake GPU, NVML loaded through dlopen, for the whole benchmark run.
struct FakeGpu {
    joulebench::test::TempDir dir{"joulebench-nvml-bench"};
    joulebench::test::FakeNvmlState state{dir.path() / "state.json", 1};
    joulebench::test::FakeNvmlEnvironment env{dir.path() / "state.json"};
    NvmlSystem system = NvmlSystem::open();
    std::unique_ptr<NvmlSensor> counter_sensor = std::make_unique<NvmlSensor>(system.devices().at(0));

    static FakeGpu& instance() {
        static FakeGpu gpu;
        return gpu;
    }
    [[nodiscard]] const NvmlApi& api() const { return system.library()->api(); }
    [[nodiscard]] nvmlDevice_t handle() const { return system.devices().at(0).handle(); }
};

void BM_NvmlSensorSample(benchmark::State& state) {
    auto& sensor = *FakeGpu::instance().counter_sensor;
    for (auto _ : state) benchmark::DoNotOptimize(sensor.sample());
}
BENCHMARK(BM_NvmlSensorSample);

void BM_NvmlSensorTelemetry(benchmark::State& state) {
    auto& sensor = *FakeGpu::instance().counter_sensor;
    for (auto _ : state) benchmark::DoNotOptimize(sensor.telemetry());
}
BENCHMARK(BM_NvmlSensorTelemetry);

// Each NVML call through the table.
void BM_NvmlCallTotalEnergy(benchmark::State& state) {
    const auto& gpu = FakeGpu::instance();
    unsigned long long energy_mj = 0;
    for (auto _ : state) benchmark::DoNotOptimize(gpu.api().nvmlDeviceGetTotalEnergyConsumption(gpu.handle(), &energy_mj));
}
BENCHMARK(BM_NvmlCallTotalEnergy);

#define JOULEBENCH_BENCH_UINT_CALL(bench_name, fn)                                         \
    void bench_name(benchmark::State& state) {                                             \
        const auto& gpu = FakeGpu::instance();                                             \
        unsigned value = 0;                                                                \
        for (auto _ : state) benchmark::DoNotOptimize(gpu.api().fn(gpu.handle(), &value)); \
    }                                                                                      \
    BENCHMARK(bench_name);

JOULEBENCH_BENCH_UINT_CALL(BM_NvmlCallPowerUsage, nvmlDeviceGetPowerUsage)
JOULEBENCH_BENCH_UINT_CALL(BM_NvmlCallEnforcedPowerLimit, nvmlDeviceGetEnforcedPowerLimit)
JOULEBENCH_BENCH_UINT_CALL(BM_NvmlCallPowerManagementLimit, nvmlDeviceGetPowerManagementLimit)
JOULEBENCH_BENCH_UINT_CALL(BM_NvmlCallDefaultLimit, nvmlDeviceGetPowerManagementDefaultLimit)
#undef JOULEBENCH_BENCH_UINT_CALL

void BM_NvmlCallTemperature(benchmark::State& state) {
    const auto& gpu = FakeGpu::instance();
    unsigned value = 0;
    for (auto _ : state) {
        benchmark::DoNotOptimize(gpu.api().nvmlDeviceGetTemperature(gpu.handle(), joulebench::nvml::kTemperatureGpu, &value));
    }
}
BENCHMARK(BM_NvmlCallTemperature);

void BM_NvmlCallSmClock(benchmark::State& state) {
    const auto& gpu = FakeGpu::instance();
    unsigned value = 0;
    for (auto _ : state) {
        benchmark::DoNotOptimize(gpu.api().nvmlDeviceGetClockInfo(gpu.handle(), joulebench::nvml::kClockSm, &value));
    }
}
BENCHMARK(BM_NvmlCallSmClock);

void BM_NvmlCallUtilization(benchmark::State& state) {
    const auto& gpu = FakeGpu::instance();
    nvmlUtilization_t value{};
    for (auto _ : state) benchmark::DoNotOptimize(gpu.api().nvmlDeviceGetUtilizationRates(gpu.handle(), &value));
}
BENCHMARK(BM_NvmlCallUtilization);

void BM_NvmlCallClocksEventReasons(benchmark::State& state) {
    const auto& gpu = FakeGpu::instance();
    unsigned long long value = 0;
    for (auto _ : state) {
        benchmark::DoNotOptimize(gpu.api().nvmlDeviceGetCurrentClocksEventReasons(gpu.handle(), &value));
    }
}
BENCHMARK(BM_NvmlCallClocksEventReasons);

void BM_NvmlCallConstraints(benchmark::State& state) {
    const auto& gpu = FakeGpu::instance();
    unsigned min_mw = 0;
    unsigned max_mw = 0;
    for (auto _ : state) {
        benchmark::DoNotOptimize(gpu.api().nvmlDeviceGetPowerManagementLimitConstraints(gpu.handle(), &min_mw, &max_mw));
    }
}
BENCHMARK(BM_NvmlCallConstraints);

void BM_NvmlCallPersistenceMode(benchmark::State& state) {
    const auto& gpu = FakeGpu::instance();
    nvmlEnableState_t value = 0;
    for (auto _ : state) benchmark::DoNotOptimize(gpu.api().nvmlDeviceGetPersistenceMode(gpu.handle(), &value));
}
BENCHMARK(BM_NvmlCallPersistenceMode);

// The whole probe: dlopen (already loaded: refcount), init, enumeration, sensor construction.
void BM_NvmlProbe(benchmark::State& state) {
    (void)FakeGpu::instance();
    for (auto _ : state) {
        auto probe = joulebench::nvml::probe_nvml(joulebench::nvml::NvmlProbeOptions{});
        benchmark::DoNotOptimize(probe.sensors.size());
    }
}
BENCHMARK(BM_NvmlProbe)->Unit(benchmark::kMicrosecond);

}  // namespace
