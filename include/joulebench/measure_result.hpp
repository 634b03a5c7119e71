#pragma once
/// The result of `joulebench measure`: one command run while every selected sensor was sampled.
/// Units are in the names: `_j` joules, `_w` watts, `_s` seconds. See the README for what each
/// number means and which domains add into the total.

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "joulebench/domain.hpp"
#include "joulebench/warning.hpp"

namespace joulebench {

struct DomainResult {
    SensorInfo info;
    double energy_j = 0.0;               ///< last reading - first reading
    double avg_power_w = 0.0;            ///< energy / the time between the two readings
    std::optional<double> peak_power_w;  ///< highest average over one trace interval
    SensorHealth health;
    std::uint64_t failed_reads = 0;
    bool counts_in_total = false;
    std::optional<double> cross_check_energy_j;  ///< integrated power, where a counter also exists
    std::optional<double> disagreement_pct;      ///< (counter - integrated) / integrated x 100
    std::optional<double> idle_power_w;          ///< with --idle-baseline
    std::optional<double> net_energy_j;          ///< energy - idle power x wall time
    /// How energy_j relates to this run (machine-wide domains of runs that overlapped).
    Sharing sharing = Sharing::kAlone;
    /// kAttributed: the run's share of the machine's busy CPU time (0..1) that energy_j is of
    /// measured_energy_j.
    std::optional<double> cpu_time_share;
    /// kAttributed: the energy the domain measured over the run, before attribution.
    std::optional<double> measured_energy_j;
    /// Where it was measured: a `measure` document says kHost for its own machine; the runner
    /// relabels the domains of remote (ssh) and guest (vm) measurements.
    Location measured_on = Location::kHost;
};

struct GpuResult {
    int index = -1;
    std::string id;
    std::string name;
    std::string uuid;
    std::string pci_bus_id;
    std::optional<double> mean_utilisation_pct;
    std::optional<unsigned> max_utilisation_pct;
    std::optional<double> max_temperature_c;
    std::optional<double> mean_sm_clock_mhz;
    std::uint64_t throttle_mask = 0;
    std::vector<std::string> throttle_reasons;
    std::optional<double> enforced_limit_w;
};

/// One power cap held during the run (`--power-cap`, `--cpu-power-cap`).
struct PowerCapResult {
    std::string id;    ///< "gpu0", "package0": the domain's sensor id
    std::string kind;  ///< "gpu", "package"
    int index = -1;
    std::string label;  ///< "GPU 0 (NVIDIA A100, 00000000:3B:00.0)"
    std::string key;    ///< GPU UUID, powercap zone
    double requested_w = 0.0;
    std::optional<double> enforced_w;  ///< read back after the write
    double original_w = 0.0;           ///< the limit before, written back after the run
    std::optional<double> default_w;
    bool restored = false;      ///< original written back, read back, journal cleared
    std::string restore_error;  ///< why not, when restored is false
    /// GPUs: whether NVML reported the software power cap (sw_power_cap) as a clock-event reason
    /// during the run, i.e. the cap slowed it down. CPU packages: nullopt (not observable).
    std::optional<bool> throttled;
};

struct IdleResult {
    double duration_s = 0.0;
    double power_w = 0.0;       ///< idle power of the domains that add into the total
    double energy_j = 0.0;      ///< power_w x the run's wall time
    double net_energy_j = 0.0;  ///< total_energy_j - energy_j
    std::vector<std::pair<std::string, double>> domain_power_w;
};

struct EstimateModel {
    std::string cpu_model;
    double tdp_w = 0.0;
    unsigned threads_per_package = 0;
    double watts_per_cpu = 0.0;
    std::string source;
};

/// One domain's energy over a marked phase (the same domains as the run's).
struct PhaseDomainEnergy {
    std::string id;                  ///< sensor id: "gpu0", "package0", ...
    std::optional<double> energy_j;  ///< reading at the end - reading at the begin; unset: unread
    Method method = Method::kCounter;
    bool counts_in_total = false;
};

/// A phase the workload marked itself (README "Markers": `JOULEBENCH_MARK begin NAME` / `end NAME`
/// on its standard output, or lines written to $JOULEBENCH_MARKS): its time and energy, from the
/// run's sensors read when each mark arrived. Offsets are seconds from the run's start.
struct MarkedPhase {
    std::string name;
    double begin_s = 0.0;
    double end_s = 0.0;
    double wall_s = 0.0;
    /// The domains that count in the run's total, summed; unset when one of them was not read.
    std::optional<double> energy_j;
    std::vector<PhaseDomainEnergy> domains;
    bool ended_by_run = false;  ///< never ended: it ends with the run (and has a warning)
};

struct MeasureResult {
    std::vector<std::string> command;
    int exit_code = 0;
    std::optional<int> signal;
    double started_at = 0.0;  ///< Unix seconds when the command started
    double wall_s = 0.0;      ///< from start to end of the command
    double cpu_user_s = 0.0;  ///< the command's whole process tree
    double cpu_system_s = 0.0;
    std::vector<DomainResult> domains;
    std::vector<GpuResult> gpus;
    double total_energy_j = 0.0;  ///< sum of gpu + package + dram (+ estimated-cpu)
    bool total_includes_estimate = false;
    double edp_js = 0.0;    ///< total_energy_j x wall_s
    double ed2p_js2 = 0.0;  ///< total_energy_j x wall_s^2
    std::optional<IdleResult> idle;
    std::optional<EstimateModel> estimate;
    std::vector<PowerCapResult> power_caps;  ///< empty when nothing was capped
    std::vector<Warning> warnings;           ///< each with its code (joulebench/warning.hpp)
    std::vector<MarkedPhase> phases;         ///< marked by the workload, in order of their begin
    std::uint64_t samples = 0;               ///< trace rows taken
    std::uint64_t polls = 0;                 ///< sensor reads per domain (>= samples)
    double interval_ms = 0.0;
    double poll_interval_ms = 0.0;
    std::uint64_t late_ticks = 0;
    /// CPU time joulebench's sampling thread used during the run, and that as a percentage of
    /// one core over the wall time: the monitoring overhead.
    double monitor_cpu_s = 0.0;
    double monitor_overhead_pct = 0.0;
};

/// Names of the NVML clocks-event (throttle) reason bits set in `mask`.
std::vector<std::string> throttle_reason_names(std::uint64_t mask);

}  // namespace joulebench
