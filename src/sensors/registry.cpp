#include "sensors/registry.hpp"

#include <cstdlib>

#include "sensors/estimate/cpu_estimate.hpp"
#include "sensors/rapl/powercap_sensor.hpp"

namespace joulebench {

std::filesystem::path ProbeOptions::default_powercap_root() {
    if (const char* env = std::getenv("JOULEBENCH_POWERCAP_ROOT"); env != nullptr && *env != 0) return env;
    return "/sys/class/powercap";
}

bool SensorSet::has_measured_cpu() const {
    for (const auto& s : sensors) {
        if (s->info().kind == DomainKind::kPackage) return true;
    }
    return false;
}

bool SensorSet::uses_estimate() const {
    for (const auto& s : sensors) {
        if (s->info().kind == DomainKind::kEstimatedCpu) return true;
    }
    return false;
}

namespace {
void take(SensorSet& set, BackendProbe probe) {
    BackendReport report;
    report.backend = probe.backend;
    report.sensors = probe.sensors.size();
    report.skipped = std::move(probe.skipped);
    report.notes = std::move(probe.notes);
    for (auto& s : probe.sensors) set.sensors.push_back(std::move(s));
    set.backends.push_back(std::move(report));
}
}  // namespace

SensorSet probe_all(const ProbeOptions& options) noexcept {
    SensorSet set;
    try {
        take(set, nvml::probe_nvml(options.nvml, &set.selection_error));
        rocm::RocmProbeOptions rocm_options = options.rocm;
        rocm_options.none = rocm_options.none ||
                            options.nvml.gpus.mode == nvml::GpuSelection::Mode::kNone;
        take(set, rocm::probe_rocm(rocm_options));
        take(set, rapl::probe_powercap(options.powercap_root));
        if (set.has_measured_cpu()) {
            BackendReport report;
            report.backend = "estimate";
            report.skipped.push_back("estimate: not used: a CPU package energy sensor was found (estimates are never mixed with measurements)");
            set.backends.push_back(std::move(report));
        } else if (!options.allow_estimate) {
            BackendReport report;
            report.backend = "estimate";
            report.skipped.push_back("estimate: not used here (no process to follow)");
            set.backends.push_back(std::move(report));
        } else {
            set.cpu_clock = options.cpu_clock ? options.cpu_clock : std::make_shared<estimate::ProcessTreeCpuClock>();
            take(set, estimate::probe_estimate(set.cpu_clock, options.cpu_tdp_w));
        }
    } catch (const std::exception& e) {
        BackendReport report;
        report.backend = "registry";
        report.skipped.push_back(std::string("probe failed: ") + e.what());
        set.backends.push_back(std::move(report));
    }
    return set;
}

}  // namespace joulebench
