#include "runner/attribution.hpp"

#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>

#include "joulebench/units.hpp"

namespace joulebench::runner {

void OverlapTracker::begin(const std::string& run_id, const std::string& machine) {
    std::lock_guard lock(m_mutex);
    auto& active = m_active[machine];
    if (!active.empty()) {
        m_overlapped.insert(run_id);
        m_overlapped.insert(active.begin(), active.end());
    }
    active.insert(run_id);
}

bool OverlapTracker::end(const std::string& run_id, const std::string& machine) {
    std::lock_guard lock(m_mutex);
    m_active[machine].erase(run_id);
    return m_overlapped.erase(run_id) != 0;
}

std::optional<double> machine_busy_cpu_s() {
    std::ifstream in("/proc/stat");
    std::string label;
    unsigned long long user = 0, nice = 0, system = 0, idle = 0, iowait = 0, irq = 0, softirq = 0,
                       steal = 0;
    if (!(in >> label >> user >> nice >> system >> idle >> iowait >> irq >> softirq >> steal) ||
        label != "cpu") {
        return std::nullopt;
    }
    const long ticks = ::sysconf(_SC_CLK_TCK);
    if (ticks <= 0) return std::nullopt;
    return static_cast<double>(user + nice + system + irq + softirq + steal) /
           static_cast<double>(ticks);
}

namespace {

bool machine_wide(DomainKind k) {
    return k == DomainKind::kPackage || k == DomainKind::kDram || k == DomainKind::kCore ||
           k == DomainKind::kUncore || k == DomainKind::kPsys || k == DomainKind::kPlatform;
}

}  // namespace

void mark_node_shared(MeasureResult& m, const std::string& why) {
    for (auto& d : m.domains) {
        if (!machine_wide(d.info.kind) || d.measured_on == Location::kRemote) continue;
        d.sharing = Sharing::kShared;
        m.warnings.push_back(make_warning(
            warning_code::kCpuShared,
            fmt::format("{}: shared: {}; other jobs on the node ran at the same time, so this "
                        "{:.3f} J includes theirs",
                        d.info.id, why, d.energy_j)));
    }
}

void attribute_cpu_energy(MeasureResult& m, std::optional<double> busy_s) {
    const double run_cpu_s = m.cpu_user_s + m.cpu_system_s;
    std::optional<double> share;
    if (busy_s && *busy_s > 0) share = std::clamp(run_cpu_s / *busy_s, 0.0, 1.0);
    for (auto& d : m.domains) {
        if (!machine_wide(d.info.kind)) continue;
        if (!share) {
            d.sharing = Sharing::kShared;
            m.warnings.push_back(make_warning(
                warning_code::kCpuShared,
                fmt::format("{}: shared: other runs ran at the same time and the CPU time share is "
                            "unknown, so this {:.3f} J includes theirs",
                            d.info.id, d.energy_j)));
            continue;
        }
        const double measured = d.energy_j;
        d.sharing = Sharing::kAttributed;
        d.cpu_time_share = *share;
        d.measured_energy_j = measured;
        d.energy_j = measured * *share;
        d.avg_power_w *= *share;
        if (d.peak_power_w) *d.peak_power_w *= *share;
        if (d.counts_in_total) m.total_energy_j -= measured - d.energy_j;
        m.warnings.push_back(make_warning(
            warning_code::kCpuAttributed,
            fmt::format("{}: attributed: {:.3f} J of the {:.3f} J measured while other runs "
                        "overlapped, by this run's share of the machine's busy CPU time ({:.3f} "
                        "of {:.3f} CPU-s, {:.1f}%)",
                        d.info.id, d.energy_j, measured, run_cpu_s, *busy_s, *share * 100.0)));
    }
    m.edp_js = energy_delay_product(m.total_energy_j, m.wall_s);
    m.ed2p_js2 = energy_delay_squared_product(m.total_energy_j, m.wall_s);
}

}  // namespace joulebench::runner
