// joulebench_nvml_cost: what each read-only NVML call the sampler makes costs on this machine's
// driver, per GPU, as JSON on standard output (scripts/gpu_validation.sh turns it into the call
// cost table of docs/validation/gpu.md).
//
// A plain program, not a Google Benchmark: the GPU machine it is carried to may lack
// libbenchmark.so (and a compiler to build one), so it links joulebench_core only (CLI11 is
// header-only). Every call is timed on its own with std::chrono::steady_clock, so the output holds
// a distribution (median, p99, max), not only a mean; the cost of reading the clock itself is
// measured too and reported as `clock_overhead_ns`, never subtracted.
//
// NVML is opened through the project's own loader (src/sensors/nvml: $JOULEBENCH_NVML_LIBRARY,
// then libnvidia-ml.so.1), exactly as `joulebench measure` opens it. READ-ONLY: only getters are
// called (energy, power, temperature, clocks, utilisation, throttle reasons, limits, persistence
// mode); no setter of the API table is ever referenced here.
//
// Usage: joulebench_nvml_cost [--calls N] [--max-seconds S] [--warmup N] [--gpus all|0,2]
//                             [--library PATH]
// Exit status: 0 with the JSON document (also when a GPU supports none of the calls), 1 when NVML
// cannot be loaded or enumerated (error: / hint: lines on stderr), 2 for bad usage.

#include <fmt/format.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <exception>
#include <functional>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "joulebench/error.hpp"
#include "joulebench/stats.hpp"
#include "sensors/nvml/nvml_backend.hpp"
#include "sensors/nvml/nvml_sensor.hpp"

namespace {

using joulebench::Error;
using joulebench::nvml::NvmlDevice;
using joulebench::nvml::NvmlSensor;
using json = nlohmann::ordered_json;
using SteadyClock = std::chrono::steady_clock;

struct Options {
    std::size_t calls = 1000;
    double max_seconds = 2.0;
    std::size_t warmup = 10;
    std::string gpus = "all";
    std::string library;
};

// One timed thing: a callable returning an NVML code (sample()/telemetry() return success). The
// std::function indirection costs a few ns, below the clock's own cost and far below a driver call.
struct Probe {
    std::string name;
    std::string used_by;  // "sample", "telemetry", "open" (read once when a sensor is opened)
    // nullptr: the library lacks the symbol.
    std::function<nvmlReturn_t()> call;
};

bool unsupported(nvmlReturn_t rc) {
    return rc == joulebench::nvml::kErrorNotSupported ||
           rc == joulebench::nvml::kErrorFunctionNotFound;
}

double ns_between(SteadyClock::time_point a, SteadyClock::time_point b) {
    return std::chrono::duration<double, std::nano>(b - a).count();
}

// Median of back-to-back steady_clock::now() pairs: the floor under every figure below.
double clock_overhead_ns() {
    std::vector<double> samples;
    samples.reserve(10000);
    for (int i = 0; i < 10000; ++i) {
        const auto a = SteadyClock::now();
        const auto b = SteadyClock::now();
        samples.push_back(ns_between(a, b));
    }
    return joulebench::stats::median(samples);
}

json time_probe(const Probe& probe, const Options& options,
                const joulebench::nvml::NvmlLibrary& library) {
    json out;
    out["call"] = probe.name;
    out["used_by"] = probe.used_by;
    out["status"] = nullptr;  // keeps the key's place in the document; set below
    if (!probe.call) {
        out["status"] = "missing";
        out["detail"] = "symbol not in the library";
        return out;
    }
    // The first call decides: NOT_SUPPORTED ends the probe (the sampler drops the field for good).
    const auto first_start = SteadyClock::now();
    const nvmlReturn_t first = probe.call();
    const auto first_end = SteadyClock::now();
    if (unsupported(first)) {
        out["status"] = "not_supported";
        out["detail"] = library.error_string(first);
        return out;
    }
    out["first_call_ns"] = ns_between(first_start, first_end);
    for (std::size_t i = 0; i < options.warmup; ++i) (void)probe.call();

    std::vector<double> ns;
    ns.reserve(options.calls);
    std::size_t failures = 0;
    nvmlReturn_t first_failure = joulebench::nvml::kSuccess;
    const auto budget_end =
        SteadyClock::now() + std::chrono::duration_cast<SteadyClock::duration>(
                                 std::chrono::duration<double>(options.max_seconds));
    while (ns.size() < options.calls) {
        const auto start = SteadyClock::now();
        const nvmlReturn_t rc = probe.call();
        const auto end = SteadyClock::now();
        ns.push_back(ns_between(start, end));
        if (rc != joulebench::nvml::kSuccess) {
            if (failures == 0) first_failure = rc;
            ++failures;
        }
        if (end >= budget_end) break;  // a slow call: keep the run within its time budget
    }
    std::sort(ns.begin(), ns.end());
    out["status"] = failures == 0 ? "ok" : "errors";
    out["n"] = ns.size();
    out["median_ns"] = joulebench::stats::quantile_sorted(ns, 0.5);
    out["p99_ns"] = joulebench::stats::quantile_sorted(ns, 0.99);
    out["min_ns"] = ns.front();
    out["max_ns"] = ns.back();
    double sum = 0.0;
    for (const double v : ns) sum += v;
    out["mean_ns"] = sum / static_cast<double>(ns.size());
    out["failures"] = failures;
    if (failures > 0) {
        out["detail"] = fmt::format("{} of {} calls failed, first with {} ({})", failures,
                                    ns.size(), joulebench::nvml::return_code_name(first_failure),
                                    library.error_string(first_failure));
    }
    return out;
}

std::vector<Probe> raw_call_probes(const NvmlDevice& device) {
    namespace nv = joulebench::nvml;
    const nv::NvmlApi& api = device.api();
    const nvmlDevice_t h = device.handle();
    std::vector<Probe> probes;
    // Values land in these statics: the calls must write somewhere, and nothing reads them.
    static unsigned long long u64 = 0;
    static unsigned u32 = 0;
    static unsigned u32b = 0;
    static nvmlUtilization_t utilisation{};
    static nvmlEnableState_t state = 0;

    auto add_u32 = [&](const char* name, const char* used_by,
                       nvmlReturn_t (*fn)(nvmlDevice_t, unsigned*)) {
        probes.push_back(
            {name, used_by,
             fn ? std::function<nvmlReturn_t()>([fn, h] { return fn(h, &u32); }) : nullptr});
    };
    auto add_u64 = [&](const char* name, const char* used_by,
                       nvmlReturn_t (*fn)(nvmlDevice_t, unsigned long long*)) {
        probes.push_back(
            {name, used_by,
             fn ? std::function<nvmlReturn_t()>([fn, h] { return fn(h, &u64); }) : nullptr});
    };

    add_u64("nvmlDeviceGetTotalEnergyConsumption", "sample",
            api.nvmlDeviceGetTotalEnergyConsumption);
    add_u32("nvmlDeviceGetPowerUsage", "sample, telemetry", api.nvmlDeviceGetPowerUsage);
    {
        auto* fn = api.nvmlDeviceGetTemperature;
        probes.push_back({"nvmlDeviceGetTemperature(GPU)", "telemetry",
                          fn ? std::function<nvmlReturn_t()>(
                                   [fn, h] { return fn(h, nv::kTemperatureGpu, &u32); })
                             : nullptr});
    }
    {
        auto* fn = api.nvmlDeviceGetClockInfo;
        probes.push_back(
            {"nvmlDeviceGetClockInfo(SM)", "telemetry",
             fn ? std::function<nvmlReturn_t()>([fn, h] { return fn(h, nv::kClockSm, &u32); })
                : nullptr});
    }
    {
        auto* fn = api.nvmlDeviceGetUtilizationRates;
        probes.push_back(
            {"nvmlDeviceGetUtilizationRates", "telemetry",
             fn ? std::function<nvmlReturn_t()>([fn, h] { return fn(h, &utilisation); })
                : nullptr});
    }
    add_u64("nvmlDeviceGetCurrentClocksEventReasons", "telemetry",
            api.nvmlDeviceGetCurrentClocksEventReasons);
    add_u64("nvmlDeviceGetCurrentClocksThrottleReasons", "telemetry (fallback)",
            api.nvmlDeviceGetCurrentClocksThrottleReasons);
    add_u32("nvmlDeviceGetEnforcedPowerLimit", "telemetry, open",
            api.nvmlDeviceGetEnforcedPowerLimit);
    add_u32("nvmlDeviceGetPowerManagementLimit", "open", api.nvmlDeviceGetPowerManagementLimit);
    {
        auto* fn = api.nvmlDeviceGetPowerManagementLimitConstraints;
        probes.push_back(
            {"nvmlDeviceGetPowerManagementLimitConstraints", "open",
             fn ? std::function<nvmlReturn_t()>([fn, h] { return fn(h, &u32, &u32b); }) : nullptr});
    }
    add_u32("nvmlDeviceGetPowerManagementDefaultLimit", "open",
            api.nvmlDeviceGetPowerManagementDefaultLimit);
    {
        auto* fn = api.nvmlDeviceGetPersistenceMode;
        probes.push_back(
            {"nvmlDeviceGetPersistenceMode", "open",
             fn ? std::function<nvmlReturn_t()>([fn, h] { return fn(h, &state); }) : nullptr});
    }
    return probes;
}

json measure_device(const NvmlDevice& device, const Options& options) {
    const auto& library = *device.library();
    json gpu;
    gpu["index"] = device.index();
    gpu["name"] = device.name();
    gpu["uuid"] = device.uuid();
    gpu["pci_bus_id"] = device.pci_bus_id().empty() ? json(nullptr) : json(device.pci_bus_id());
    json calls = json::array();
    for (const auto& probe : raw_call_probes(device))
        calls.push_back(time_probe(probe, options, library));

    // The sensor's own entry points, as the sampler calls them once per tick.
    try {
        auto sensor = std::make_shared<NvmlSensor>(device);
        gpu["method"] = std::string(joulebench::to_string(sensor->info().method));
        gpu["notes"] = sensor->info().notes;
        const Probe sample{"NvmlSensor::sample()", "sampler, every tick", [sensor] {
                               return sensor->sample() ? joulebench::nvml::kSuccess
                                                       : joulebench::nvml::kErrorUnknown;
                           }};
        json s = time_probe(sample, options, library);
        s["note"] = fmt::format(
            "one energy-counter read per call (integrated method: one power read); with a counter "
            "and power readings, one extra power read at most every {} ms for the cross-check",
            NvmlSensor::kCrossCheckPeriod.count());
        calls.push_back(std::move(s));
        const Probe telemetry{"NvmlSensor::telemetry()", "sampler, every trace row", [sensor] {
                                  return sensor->telemetry() ? joulebench::nvml::kSuccess
                                                             : joulebench::nvml::kErrorUnknown;
                              }};
        json t = time_probe(telemetry, options, library);
        t["note"] =
            "power, temperature, SM clock, utilisation, throttle reasons and enforced limit, "
            "each supported one read once";
        calls.push_back(std::move(t));
        const auto health = sensor->health();
        gpu["sensor_failed_reads"] = health.failed_reads;
        gpu["sensor_resets"] = health.resets;
    } catch (const Error& e) {
        gpu["method"] = nullptr;
        gpu["notes"] = json::array({std::string(e.what())});
        calls.push_back({{"call", "NvmlSensor::sample()"},
                         {"used_by", "sampler, every tick"},
                         {"status", "not_supported"},
                         {"detail", e.what()}});
        calls.push_back({{"call", "NvmlSensor::telemetry()"},
                         {"used_by", "sampler, every trace row"},
                         {"status", "not_supported"},
                         {"detail", e.what()}});
    }
    gpu["calls"] = std::move(calls);
    return gpu;
}

int run(const Options& options) {
    joulebench::nvml::NvmlLibraryOptions library_options;
    if (!options.library.empty()) library_options.explicit_path = options.library;
    const auto selection = joulebench::nvml::GpuSelection::parse(options.gpus);
    const auto system = joulebench::nvml::NvmlSystem::open(library_options);
    const auto devices = system.select(selection);

    json out;
    out["schema_version"] = 1;
    out["tool"] = "joulebench_nvml_cost";
    out["joulebench_version"] = JOULEBENCH_VERSION;
    out["library"] = system.library()->description();
    out["driver_version"] =
        system.driver_version().empty() ? json(nullptr) : json(system.driver_version());
    out["missing_optional_symbols"] = system.library()->missing_optional();
    out["calls_per_function"] = options.calls;
    out["max_seconds_per_function"] = options.max_seconds;
    out["warmup_calls"] = options.warmup;
    out["clock"] = "std::chrono::steady_clock, one reading before and after each call";
    out["clock_overhead_ns"] = clock_overhead_ns();
    json gpus = json::array();
    for (const auto& device : devices) gpus.push_back(measure_device(device, options));
    out["gpus"] = std::move(gpus);
    std::cout << out.dump(2) << '\n';
    std::cout.flush();
    return std::cout ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
    CLI::App app{"joulebench_nvml_cost: time each read-only NVML call joulebench's sampler makes"};
    Options options;
    app.add_option("--calls", options.calls, "timed calls per function (default 1000)")
        ->check(CLI::Range(std::size_t{1}, std::size_t{10000000}));
    app.add_option("--max-seconds", options.max_seconds,
                   "stop timing a function after this long even before --calls (default 2)")
        ->check(CLI::PositiveNumber);
    app.add_option("--warmup", options.warmup, "untimed calls first (default 10)");
    app.add_option("--gpus", options.gpus, "all, or joulebench indices (PCI order) such as 0,2");
    app.add_option(
        "--library", options.library,
        "NVML library to load (default: $JOULEBENCH_NVML_LIBRARY, then libnvidia-ml.so.1)");
    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        const int rc = app.exit(e);
        return rc == 0 ? 0 : 2;
    }
    try {
        return run(options);
    } catch (const Error& e) {
        return joulebench::report_error(e);
    } catch (const std::exception& e) {
        std::fflush(stdout);
        fmt::print(stderr, "error: nvml_cost: internal: {}\n", e.what());
        return 1;
    }
}
