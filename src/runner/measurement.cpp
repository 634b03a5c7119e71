#include "runner/measurement.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <optional>

#include "joulebench/units.hpp"
#include "measure/measure.hpp"
#include "sensors/estimate/cpu_estimate.hpp"

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
            std::vector<std::string> ignored;
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
                             const environments::InstanceResult& ir,
                             const std::vector<Sensor*>& sensors, const Sampler& sampler,
                             std::chrono::milliseconds interval) {
    MeasureResult m;
    m.command = inst.command;
    m.exit_code = ir.exit_code;
    m.signal = ir.signal;
    m.started_at = ir.started_at;
    m.wall_s = seconds_between(ir.start_time, ir.end_time);
    m.cpu_user_s = ir.cpu_user_s;
    m.cpu_system_s = ir.cpu_system_s;
    m.interval_ms = static_cast<double>(interval.count());
    apply_sampler_stats(m, sampler.stats());
    for (std::size_t i = 0; i < sensors.size(); ++i) {
        Sensor* s = sensors[i];
        DomainResult r = domain_result(*s, sampler.domains()[i], m.warnings);
        if (r.failed_reads > 0) {
            m.warnings.push_back(
                fmt::format("{}: {} failed reads: the trace has gaps", r.info.id, r.failed_reads));
        }
        if (r.health.resets > 0) {
            m.warnings.push_back(fmt::format(
                "{}: energy counter went backwards {} time(s): its energy is a lower bound",
                r.info.id, r.health.resets));
        }
        if (auto* est = dynamic_cast<estimate::CpuEstimateSensor*>(s)) {
            // The exact CPU time of this run's reaped tree: attributed to this run alone.
            const auto& model = est->model();
            const double exact = (m.cpu_user_s + m.cpu_system_s) * model.watts_per_cpu();
            r.energy_j = std::max(r.energy_j, exact);
            m.estimate = EstimateModel{model.cpu_model, model.tdp_w, model.threads_per_package,
                                       model.watts_per_cpu(), model.source};
            m.warnings.push_back("CPU energy is estimated from this run's CPU time, not measured");
        }
        if (r.counts_in_total) {
            m.total_energy_j += r.energy_j;
            if (r.info.kind == DomainKind::kEstimatedCpu) m.total_includes_estimate = true;
        }
        if (r.info.kind == DomainKind::kGpu) {
            m.gpus.push_back(gpu_result(r.info, sampler.gpus()[i]));
        }
        m.domains.push_back(std::move(r));
    }
    if (m.late_ticks > 0) {
        m.warnings.push_back(
            fmt::format("sampler: {} reads started more than one period late", m.late_ticks));
    }
    if (ir.left_processes) {
        m.warnings.push_back(
            "processes the workload started were still running when it ended; they were killed");
    }
    m.edp_js = energy_delay_product(m.total_energy_j, m.wall_s);
    m.ed2p_js2 = energy_delay_squared_product(m.total_energy_j, m.wall_s);
    return m;
}

}  // namespace joulebench::runner
