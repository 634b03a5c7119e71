#pragma once
// Host-side CPU energy of a run in a local guest (the vm environment, host_measures_cpu()): the
// guest's own measurement has its GPUs, but inside a guest the CPU is only a CPU-time estimate, so
// the runner measures this machine's CPU package and DRAM counters over the run and they replace
// the guest's CPU domains. While other runs overlap, the host's CPU energy is shared by the CPU
// time of the guest's QEMU process (all its threads) over the run, out of the machine's busy CPU
// time (attribution.hpp), and labelled attributed.

#include <sys/types.h>

#include <chrono>
#include <optional>
#include <vector>

#include "joulebench/measure_result.hpp"
#include "measure/sampler.hpp"
#include "sensors/registry.hpp"

namespace joulebench::runner {

/// CPU time (user + system) of process `pid`, all its threads and its reaped children, seconds
/// (utime + stime + cutime + cstime, read as the CPU-time estimate reads them); nullopt when it
/// cannot be read (the process is gone).
[[nodiscard]] std::optional<double> process_cpu_s(pid_t pid);

/// The counter CPU domains of `sensors` (package, core, uncore, DRAM, psys; never the CPU-time
/// estimate): what the host measures of a guest's runs and of its boot and shutdown phases.
[[nodiscard]] std::vector<Sensor*> host_cpu_sensors(const SensorSet& sensors);

class HostCpuMeasurement {
public:
    /// Samples `sensors` (host_cpu_sensors(), or none) every `interval`.
    HostCpuMeasurement(std::vector<Sensor*> sensors, std::chrono::milliseconds interval);

    /// Whether this machine has a CPU counter to measure with.
    [[nodiscard]] bool empty() const { return m_sensors.empty(); }

    /// Starts sampling; `qemu` is the guest's process whose CPU time shares the energy.
    void start(std::optional<pid_t> qemu);
    void stop();

    /// Replaces every CPU domain of `m` (the guest's) with this machine's, recomputes the total,
    /// EDP and ED2P, and, when `overlapped`, attributes them by the QEMU process's share of the
    /// machine's busy CPU time. Does nothing when empty().
    void apply(MeasureResult& m, bool overlapped) const;

private:
    std::vector<Sensor*> m_sensors;
    std::chrono::milliseconds m_interval;
    std::optional<Sampler> m_sampler;
    std::optional<pid_t> m_qemu;
    std::optional<double> m_qemu_cpu_before;
    std::optional<double> m_qemu_cpu_s;
    std::optional<double> m_busy_before;
    std::optional<double> m_busy_s;
};

}  // namespace joulebench::runner
