#pragma once
// The fallback when no CPU energy sensor can be read (as on most CI machines and VMs): CPU energy
// estimated as the measured process tree's CPU time x the power of one busy logical CPU, where
// that power is the package TDP divided by the package's logical CPUs.
//
// This is a model, not a measurement: method `estimated`, kind `estimated-cpu`. It ignores idle and
// static power, frequency and SMT effects, and is never mixed silently with measured values: it is
// only created when no package sensor exists, and every report marks it.

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "joulebench/sensor.hpp"
#include "sensors/estimate/process_tree.hpp"

namespace joulebench::estimate {

/// Where the estimate's numbers came from.
struct CpuPowerModel {
    std::string cpu_model;            ///< /proc/cpuinfo "model name"
    double tdp_w = 0.0;               ///< package TDP
    unsigned threads_per_package = 1; ///< logical CPUs the TDP is shared by
    unsigned cpus = 1;                ///< logical CPUs online: how many can be busy at once
    std::string source;               ///< "--cpu-tdp", "table", "default"
    [[nodiscard]] double watts_per_cpu() const { return tdp_w / threads_per_package; }
    /// The most the model allows: every online CPU busy (the TDP of each package).
    [[nodiscard]] double max_power_w() const { return watts_per_cpu() * cpus; }
};

/// TDP assumed for a CPU found neither in the table nor given with --cpu-tdp; the same constant
/// CodeCarbon falls back to for unknown CPUs.
inline constexpr double kDefaultTdpW = 85.0;

/// One entry of the small TDP table: a substring of the model name, the TDP and logical CPUs of
/// the part (from the vendor's specification pages).
struct TdpEntry {
    const char* model_substring;
    double tdp_w;
    unsigned threads;
};

/// Builds the model: `tdp_override` (from --cpu-tdp) wins, then the table, then the default. The
/// logical CPUs per package come from the table entry, else /proc/cpuinfo "siblings", else the
/// number of online CPUs. `cpuinfo_text` is the content of /proc/cpuinfo (injectable for tests).
CpuPowerModel make_cpu_power_model(const std::string& cpuinfo_text, std::optional<double> tdp_override);

/// The table itself, for `sensors -v` and the README.
const TdpEntry* tdp_table(std::size_t& size);

/// Reads the tree's CPU time (process_tree.hpp) as cumulative energy. The CPU time is re-read at
/// most once per clock tick, and always after a reap; the energy never rises faster than
/// max_power_w() (CPU time a reading shows late is carried into the next readings), so no trace
/// interval exceeds what the model allows.
class CpuEstimateSensor final : public Sensor {
public:
    CpuEstimateSensor(std::shared_ptr<ProcessTreeCpuClock> clock, CpuPowerModel model);

    [[nodiscard]] const SensorInfo& info() const override { return m_info; }
    std::optional<EnergySample> sample() noexcept override;
    [[nodiscard]] SensorHealth health() const override { return {}; }
    [[nodiscard]] const CpuPowerModel& model() const { return m_model; }
    [[nodiscard]] const std::shared_ptr<ProcessTreeCpuClock>& clock() const { return m_clock; }

private:
    std::shared_ptr<ProcessTreeCpuClock> m_clock;
    CpuPowerModel m_model;
    SensorInfo m_info;
    Clock::time_point m_last_read{};
    double m_last_seconds = 0.0;
    std::uint64_t m_last_reaps = 0;
    std::optional<EnergySample> m_last_sample;  // as returned, capped
};

/// Probes the estimate backend: always succeeds (it needs only procfs).
BackendProbe probe_estimate(std::shared_ptr<ProcessTreeCpuClock> clock, std::optional<double> tdp_override) noexcept;

}  // namespace joulebench::estimate
