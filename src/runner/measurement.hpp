#pragma once
// How the runner measures: the run itself from its sampler's first and last readings (the same
// definitions as `joulebench measure`, docs/measure.md), the phases an environment runs around it
// (container create, start, removal) each with a sampler of its own, and the CPU-time estimate's
// view of the workload's process tree.

#include <chrono>
#include <functional>
#include <string_view>
#include <vector>

#include "environments/environment.hpp"
#include "joulebench/records.hpp"
#include "measure/sampler.hpp"
#include "sensors/estimate/process_tree.hpp"
#include "sensors/registry.hpp"

namespace joulebench::runner {

/// The measurement of one instance from its sampler, by measure's own complete_measurement (the
/// same domains, estimate, totals and warnings as `joulebench measure`), from the times and CPU
/// times the environment reported.
[[nodiscard]] MeasureResult measurement_of(const environments::WorkloadInstance& instance,
                                           const environments::InstanceResult& result,
                                           const SensorSet& sensors, const Sampler& sampler,
                                           std::chrono::milliseconds interval);

/// Forwards the workload's pid to the CPU-time estimate, when the slot uses it (clock not null).
class ClockObserver final : public environments::InstanceObserver {
public:
    explicit ClockObserver(estimate::ProcessTreeCpuClock* clock) : m_clock(clock) {}
    void started(pid_t pid) noexcept override;
    void reaped(pid_t pid, double cpu_seconds) noexcept override;

private:
    estimate::ProcessTreeCpuClock* m_clock;
};

/// Measures each phase an environment runs around the workload with a sampler of its own: its
/// wall time, and its energy over the domains that count in the total (no trace is kept). A
/// phase gets no energy when the total would include the CPU-time estimate (it follows the
/// workload's tree, which does not exist during a phase). Without sensors (remote environments)
/// only wall time.
class PhaseSampler final : public environments::PhaseRecorder {
public:
    PhaseSampler(std::vector<Sensor*> sensors, std::chrono::milliseconds interval)
        : m_sensors(std::move(sensors)), m_interval(interval) {}

    void phase(std::string_view name, const std::function<void()>& body) override;

    [[nodiscard]] const std::vector<PhaseResult>& results() const { return m_results; }

private:
    std::vector<Sensor*> m_sensors;
    std::chrono::milliseconds m_interval;
    std::vector<PhaseResult> m_results;
};

}  // namespace joulebench::runner
