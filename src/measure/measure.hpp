#pragma once
// Runs one command under measurement: idle baseline (optional), first readings, the command,
// last readings, then the per-domain results and the warnings a user needs.

#include <chrono>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "joulebench/measure_result.hpp"
#include "measure/sampler.hpp"
#include "sensors/registry.hpp"

namespace joulebench {

struct MeasureOptions {
    std::vector<std::string> command;                  ///< argv, run directly (no shell)
    std::chrono::milliseconds interval{100};           ///< trace interval (--interval)
    std::optional<std::filesystem::path> samples_csv;  ///< --samples
    std::optional<double> idle_baseline_s;             ///< --idle-baseline SECONDS
    /// Variables set for the command (CUDA_DEVICE_ORDER=PCI_BUS_ID is added when unset).
    std::vector<std::pair<std::string, std::string>> set_env;
    /// Also gets the trace rows (with the --samples file's, if any): the live views. May be null.
    TraceSink* observer = nullptr;
};

/// Runs `options.command` while sampling `sensors`. Throws Error before anything runs when the
/// command cannot be found or the samples file cannot be created; once the command runs, its
/// failure is data (exit_code), not an exception.
MeasureResult run_measurement(const MeasureOptions& options, SensorSet& sensors);

/// GPUs asked for by index (`gpus` a list) but NVML found none to read: Error kInvalidArgument
/// "`what`: no GPU can be read here: WHY" (what: "measure: --gpus 0"), so a measurement never
/// silently goes without the GPUs it was asked for. Nothing for other selections.
void check_gpus_readable(const std::string& what, const nvml::GpuSelection& gpus, const SensorSet& sensors);

// Building blocks shared by `measure` and the experiment runner, which samples concurrent runs
// itself (it cannot use run_measurement's wait4(-1)) but reports them the same way.

/// The measurement of a command from its sampler's readings, the same in `measure` and the
/// runner: `result` holds the command, exit status, wall and CPU times (set first); this adds the
/// sampler's statistics, every domain of `set` (energy, power, health, cross-check; idle power
/// and net energy when `idle_power_w` has one per sensor), the GPUs' telemetry, the total with
/// the CPU-time estimate settled from the CPU times, the warnings of all these and of the run as a
/// whole (`orphans_alive`: processes the command left running), EDP and ED2P.
void complete_measurement(const SensorSet& set, const Sampler& sampler,
                          const std::vector<double>& idle_power_w, std::size_t orphans_alive,
                          MeasureResult& result);
/// The same from a window of a sampler (window_between, Sampler::whole): what a Python window
/// (src/measure/window_monitor.hpp) reports.
void complete_measurement(const SensorSet& set, const SamplerWindow& window,
                          const std::vector<double>& idle_power_w, std::size_t orphans_alive,
                          MeasureResult& result);

/// Copies the sampler's counters (samples, polls, poll period, late ticks, monitoring CPU) into
/// `result`; needs result.wall_s set first.
void apply_sampler_stats(MeasureResult& result, const SamplerStats& stats);

/// A domain's energy (last minus first reading), average and peak power, health and whether it
/// counts in the total; a domain never read successfully gets 0 J and a warning in `warnings`.
DomainResult domain_result(const Sensor& sensor, const DomainSamples& samples,
                           std::vector<Warning>& warnings);

/// A GPU's telemetry summary (utilisation, temperature, clock, throttle reasons, limit).
GpuResult gpu_result(const SensorInfo& info, const GpuTelemetrySummary& telemetry);

}  // namespace joulebench
