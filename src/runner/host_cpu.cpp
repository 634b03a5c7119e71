#include "runner/host_cpu.hpp"

#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>

#include "joulebench/units.hpp"
#include "measure/measure.hpp"
#include "runner/attribution.hpp"
#include "sensors/estimate/process_tree.hpp"

namespace joulebench::runner {

namespace {

bool is_cpu_kind(DomainKind k) {
    return k == DomainKind::kPackage || k == DomainKind::kCore || k == DomainKind::kUncore ||
           k == DomainKind::kDram || k == DomainKind::kPsys || k == DomainKind::kEstimatedCpu;
}

}  // namespace

std::optional<double> process_cpu_s(pid_t pid) {
    std::ifstream in(fmt::format("/proc/{}/stat", pid));
    std::string line;
    if (!std::getline(in, line)) return std::nullopt;
    // The CPU-time estimate's own parser of the line (the command name may hold spaces and ')').
    estimate::ProcStat stat;
    if (!estimate::parse_proc_stat(line.data(), line.size(), stat)) return std::nullopt;
    const long ticks = ::sysconf(_SC_CLK_TCK);
    if (ticks <= 0) return std::nullopt;
    return static_cast<double>(stat.cpu_ticks) / static_cast<double>(ticks);
}

std::vector<Sensor*> host_cpu_sensors(const SensorSet& sensors) {
    std::vector<Sensor*> out;
    for (const auto& s : sensors.sensors) {
        const DomainKind k = s->info().kind;
        if (is_cpu_kind(k) && k != DomainKind::kEstimatedCpu) out.push_back(s.get());
    }
    return out;
}

HostCpuMeasurement::HostCpuMeasurement(std::vector<Sensor*> sensors,
                                       std::chrono::milliseconds interval)
    : m_sensors(std::move(sensors)), m_interval(interval) {}

void HostCpuMeasurement::start(std::optional<pid_t> qemu) {
    if (empty()) return;
    m_qemu = qemu;
    if (qemu) m_qemu_cpu_before = process_cpu_s(*qemu);
    m_busy_before = machine_busy_cpu_s();
    m_sampler.emplace(m_sensors, m_interval, nullptr);
    m_sampler->start();
}

void HostCpuMeasurement::stop() {
    if (!m_sampler) return;
    m_sampler->stop();
    const auto busy_after = machine_busy_cpu_s();
    if (m_busy_before && busy_after) m_busy_s = *busy_after - *m_busy_before;
    if (m_qemu && m_qemu_cpu_before) {
        if (const auto after = process_cpu_s(*m_qemu)) m_qemu_cpu_s = *after - *m_qemu_cpu_before;
    }
}

void HostCpuMeasurement::apply(MeasureResult& m, bool overlapped) const {
    if (empty() || !m_sampler) return;
    m.domains.erase(std::remove_if(m.domains.begin(), m.domains.end(),
                                   [](const DomainResult& d) { return is_cpu_kind(d.info.kind); }),
                    m.domains.end());
    m.warnings.erase(
        std::remove_if(m.warnings.begin(), m.warnings.end(),
                       [](const Warning& w) { return w.code == warning_code::kCpuEstimated; }),
        m.warnings.end());
    m.estimate.reset();
    m.total_includes_estimate = false;
    std::vector<DomainResult> host;
    for (std::size_t i = 0; i < m_sensors.size(); ++i) {
        host.push_back(domain_result(*m_sensors[i], m_sampler->domains()[i], m.warnings));
        host.back().measured_on = Location::kHost;
    }
    if (overlapped) {
        // attribute_cpu_energy takes the run's CPU time from the measurement: here that is the
        // guest's QEMU process on this machine, not the workload inside the guest.
        MeasureResult share;
        share.domains = std::move(host);
        share.cpu_user_s = m_qemu_cpu_s.value_or(0.0);
        attribute_cpu_energy(share, m_qemu_cpu_s ? m_busy_s : std::nullopt);
        host = std::move(share.domains);
        for (auto& w : share.warnings) {
            w.text += " (this run's CPU time: its guest's QEMU process on this host)";
            m.warnings.push_back(std::move(w));
        }
    }
    m.domains.insert(m.domains.end(), host.begin(), host.end());
    m.total_energy_j = 0.0;
    for (const auto& d : m.domains) {
        if (d.counts_in_total) m.total_energy_j += d.energy_j;
    }
    m.edp_js = energy_delay_product(m.total_energy_j, m.wall_s);
    m.ed2p_js2 = energy_delay_squared_product(m.total_energy_j, m.wall_s);
}

}  // namespace joulebench::runner
