#include "runner/measurement.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <optional>

#include "joulebench/units.hpp"
#include "measure/measure.hpp"

namespace joulebench::runner {

void ClockObserver::started(pid_t pid) noexcept {
    if (m_clock == nullptr) return;
    try {
        m_clock->attach(pid);
    } catch (...) {  // the estimate then misses this tree's live CPU time; rusage still counts
    }
}

void ClockObserver::reaped(pid_t pid, double cpu_seconds) noexcept {
    if (m_clock == nullptr) return;
    try {
        m_clock->add_reaped(pid, cpu_seconds);
    } catch (...) {
    }
}

void PhaseSampler::phase(std::string_view name, const std::function<void()>& body) {
    PhaseResult result;
    result.name = std::string(name);
    std::optional<Sampler> sampler;
    if (!m_sensors.empty()) {
        sampler.emplace(m_sensors, m_interval, nullptr);
        sampler->start();
    }
    const auto start = Clock::now();
    auto finish = [&] {
        const auto end = Clock::now();
        result.wall_s = seconds_between(start, end);
        if (sampler) {
            sampler->stop();
            double energy = 0.0;
            bool measured = true;
            std::vector<Warning> ignored;
            for (std::size_t i = 0; i < m_sensors.size(); ++i) {
                const DomainResult d = domain_result(*m_sensors[i], sampler->domains()[i], ignored);
                if (!d.counts_in_total) continue;
                energy += d.energy_j;
                measured = measured && d.info.kind != DomainKind::kEstimatedCpu;
            }
            if (measured) result.energy_j = energy;
        }
        m_results.push_back(std::move(result));
    };
    try {
        body();
    } catch (...) {
        finish();
        throw;
    }
    finish();
}

MeasureResult measurement_of(const environments::WorkloadInstance& inst,
                             const environments::InstanceResult& ir, const SensorSet& sensors,
                             const Sampler& sampler, std::chrono::milliseconds interval) {
    MeasureResult m;
    m.command = inst.command;
    m.exit_code = ir.exit_code;
    m.signal = ir.signal;
    m.started_at = ir.started_at;
    m.wall_s = seconds_between(ir.start_time, ir.end_time);
    m.cpu_user_s = ir.cpu_user_s;
    m.cpu_system_s = ir.cpu_system_s;
    m.interval_ms = static_cast<double>(interval.count());
    // The environment killed what the workload left (it counts no orphans, it ends them).
    complete_measurement(sensors, sampler, {}, 0, m);
    if (ir.left_processes) {
        m.warnings.push_back(make_warning(
            warning_code::kLeftProcesses,
            "processes the workload started were still running when it ended; they were killed"));
    }
    return m;
}

}  // namespace joulebench::runner
