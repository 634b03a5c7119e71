#pragma once
// The one ordered list of backends: NVML GPUs, then ROCm SMI (AMD) GPUs, then powercap (RAPL)
// zones, then hwmon (amd_energy, amdgpu, i915/xe, board sensors), then the CPU-time estimate,
// which is only used when no CPU package sensor was found. Probing never throws; every backend
// returns what it found and why it skipped the rest, for `joulebench sensors -v`.
//
// One device seen by two backends is counted once: a domain whose device identity
// (SensorInfo::device_identity: a PCI bus id, a CPU package) an earlier backend already measures
// is dropped and listed among its backend's skipped things as a duplicate, with the reason the
// earlier backend is preferred (docs/sensors.md). ROCm SMI goes before hwmon, so an AMD GPU seen
// by both is measured through ROCm SMI's energy counter, not hwmon's integrated power.
//
// GPUs of every backend share one index space (gpu_inventory.hpp): `nvml.gpus` (`--gpus`, a run's
// GPU slot) selects among all of them by global index, and every GPU sensor's info carries its
// global index and vendor.

#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "joulebench/error.hpp"
#include "joulebench/sensor.hpp"
#include "sensors/estimate/process_tree.hpp"
#include "sensors/nvml/nvml_backend.hpp"
#include "sensors/rocm/rocm_backend.hpp"

namespace joulebench {

struct ProbeOptions {
    /// `$JOULEBENCH_POWERCAP_ROOT`, default /sys/class/powercap.
    std::filesystem::path powercap_root = default_powercap_root();
    /// `$JOULEBENCH_HWMON_ROOT`, default /sys/class/hwmon.
    std::filesystem::path hwmon_root = default_hwmon_root();
    /// The NVML library, and `gpus`: the selection of every vendor's GPUs by global index.
    nvml::NvmlProbeOptions nvml;
    /// AMD GPUs' library; `nvml.gpus` (global indices) selects them too.
    rocm::RocmProbeOptions rocm;
    /// --cpu-tdp: package TDP for the CPU estimate.
    std::optional<double> cpu_tdp_w;
    /// Use the CPU-time estimate when no CPU sensor exists (needs a process to follow).
    bool allow_estimate = true;
    /// The process-tree clock the estimate reads; created by probe_all when null.
    std::shared_ptr<estimate::ProcessTreeCpuClock> cpu_clock;

    static std::filesystem::path default_powercap_root();
    static std::filesystem::path default_hwmon_root();
};

/// What one backend reported, without its sensors.
struct BackendReport {
    std::string backend;
    std::size_t sensors = 0;
    std::vector<std::string> skipped;
    std::vector<std::string> notes;
};

struct SensorSet {
    std::vector<std::unique_ptr<Sensor>> sensors;  ///< in backend order
    std::vector<BackendReport> backends;
    /// An invalid --gpus selection (the caller fails with exit status 2).
    std::optional<Error> selection_error;
    /// The clock followed by the estimate, when the estimate is in use.
    std::shared_ptr<estimate::ProcessTreeCpuClock> cpu_clock;
    [[nodiscard]] bool has_measured_cpu() const;
    [[nodiscard]] bool uses_estimate() const;
    /// The sensors as plain pointers, in order (what a Sampler takes); they stay owned by this
    /// set, which must outlive them.
    [[nodiscard]] std::vector<Sensor*> pointers() const {
        std::vector<Sensor*> out;
        out.reserve(sensors.size());
        for (const auto& s : sensors) out.push_back(s.get());
        return out;
    }
};

/// Probes every backend in order. Never throws.
SensorSet probe_all(const ProbeOptions& options) noexcept;

/// Adds one backend's probe to `set`: its sensors, except those whose device identity a sensor
/// already in `set` has (listed in its report's `skipped` as duplicates, with the reason), and
/// its report. A backend that found nothing and has nothing to say (hwmon on a machine without
/// energy or power files) adds no report, so such a machine's output is as without the backend.
void add_backend(SensorSet& set, BackendProbe probe);

/// Why `kept_backend`'s reading of a device is preferred over `dropped_backend`'s.
std::string duplicate_preference(const std::string& kept_backend, const std::string& dropped_backend);

}  // namespace joulebench
