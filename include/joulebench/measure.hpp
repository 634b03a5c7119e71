#pragma once
/// The result of `joulebench measure`: one command run while every selected sensor was sampled.
/// Units are in the names: `_j` joules, `_w` watts, `_s` seconds. See the README for what each
/// number means and which domains add into the total.

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "joulebench/sensor.hpp"

namespace joulebench {

struct MeasureOptions {
    std::vector<std::string> command;               ///< argv, run directly (no shell)
    std::chrono::milliseconds interval{100};        ///< trace interval (--interval)
    std::optional<std::filesystem::path> samples_csv;  ///< --samples
    std::optional<double> idle_baseline_s;          ///< --idle-baseline SECONDS
    /// Variables set for the command (CUDA_DEVICE_ORDER=PCI_BUS_ID is added when unset).
    std::vector<std::pair<std::string, std::string>> set_env;
};

struct DomainResult {
    SensorInfo info;
    double energy_j = 0.0;                 ///< last reading - first reading
    double avg_power_w = 0.0;              ///< energy / the time between the two readings
    std::optional<double> peak_power_w;    ///< highest average over one trace interval
    SensorHealth health;
    std::uint64_t failed_reads = 0;
    bool counts_in_total = false;
    std::optional<double> cross_check_energy_j;  ///< integrated power, where a counter also exists
    std::optional<double> disagreement_pct;      ///< (counter - integrated) / integrated x 100
    std::optional<double> idle_power_w;          ///< with --idle-baseline
    std::optional<double> net_energy_j;          ///< energy - idle power x wall time
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

struct MeasureResult {
    std::vector<std::string> command;
    int exit_code = 0;
    std::optional<int> signal;
    double started_at = 0.0;     ///< Unix seconds when the command started
    double wall_s = 0.0;         ///< from start to end of the command
    double cpu_user_s = 0.0;     ///< the command's whole process tree
    double cpu_system_s = 0.0;
    std::vector<DomainResult> domains;
    std::vector<GpuResult> gpus;
    double total_energy_j = 0.0;          ///< sum of gpu + package + dram (+ estimated-cpu)
    bool total_includes_estimate = false;
    double edp_js = 0.0;                  ///< total_energy_j x wall_s
    double ed2p_js2 = 0.0;                ///< total_energy_j x wall_s^2
    std::optional<IdleResult> idle;
    std::optional<EstimateModel> estimate;
    std::vector<std::string> warnings;
    std::uint64_t samples = 0;            ///< trace rows taken
    std::uint64_t polls = 0;              ///< sensor reads per domain (>= samples)
    double interval_ms = 0.0;
    double poll_interval_ms = 0.0;
    std::uint64_t late_ticks = 0;
};

/// Names of the NVML clocks-event (throttle) reason bits set in `mask`.
std::vector<std::string> throttle_reason_names(std::uint64_t mask);

}  // namespace joulebench
