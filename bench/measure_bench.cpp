// Cost of one sample per CPU backend, and of the pieces of a sampler tick. The whole-program
// overhead of `joulebench measure` (CPU share at 10 Hz..1 kHz, wall time added to `true`) is
// measured by bench/measure_overhead.sh. NVML sample costs are in nvml_bench.cpp.

#include <benchmark/benchmark.h>
#include <unistd.h>

#include "fakes/fake_powercap_builder.hpp"
#include "fakes/test_support.hpp"
#include "joulebench/measure_result.hpp"
#include "model/measure_json.hpp"
#include "sensors/estimate/cpu_estimate.hpp"
#include "sensors/rapl/powercap_sensor.hpp"

namespace {

using namespace joulebench;

// One RAPL zone read: pread of energy_uj on an open descriptor, parse, unwrap. Against a tmpfs
// file this is the system-call cost; sysfs adds the driver's MSR read (about 1-2 us more).
void BM_PowercapSample(benchmark::State& state) {
    test::TempDir dir;
    test::FakePowercapTree tree(dir.path());
    tree.add_zone("intel-rapl:0", "package-0", 50.0);
    std::vector<std::string> skipped;
    rapl::PowercapSensor sensor(rapl::discover_zones(dir.path(), skipped).at(0));
    for (auto _ : state) benchmark::DoNotOptimize(sensor.sample());
}
BENCHMARK(BM_PowercapSample);

// Reading the CPU time of a one-process tree (this process): one pread of /proc/PID/stat,
// without the 10 ms cache the estimate sensor puts in front of it.
void BM_ProcessTreeCpuSeconds(benchmark::State& state) {
    estimate::ProcessTreeCpuClock clock;
    clock.attach(::getpid());
    benchmark::DoNotOptimize(clock.cpu_seconds());  // first call scans for members
    for (auto _ : state) benchmark::DoNotOptimize(clock.cpu_seconds());
}
BENCHMARK(BM_ProcessTreeCpuSeconds);

// What the sampler pays per tick for the estimate: mostly the cached path.
void BM_CpuEstimateSample(benchmark::State& state) {
    auto clock = std::make_shared<estimate::ProcessTreeCpuClock>();
    clock->attach(::getpid());
    estimate::CpuPowerModel model;
    model.tdp_w = 85.0;
    model.threads_per_package = 2;
    estimate::CpuEstimateSensor sensor(clock, model);
    for (auto _ : state) benchmark::DoNotOptimize(sensor.sample());
}
BENCHMARK(BM_CpuEstimateSample);

// Serialising a typical result (8 GPUs, 2 sockets) to JSON: paid once per run.
void BM_MeasureToJson(benchmark::State& state) {
    MeasureResult r;
    r.command = {"python3", "train.py"};
    for (int i = 0; i < 12; ++i) {
        DomainResult d;
        d.info.id = "gpu" + std::to_string(i);
        d.info.kind = DomainKind::kGpu;
        d.energy_j = 1000.0 + i;
        r.domains.push_back(d);
    }
    for (auto _ : state) benchmark::DoNotOptimize(measure_to_json(r).dump());
}
BENCHMARK(BM_MeasureToJson);

}  // namespace
