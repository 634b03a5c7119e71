#include "sensors/registry.hpp"

#include <fmt/format.h>

#include <cstdlib>

#include "sensors/estimate/cpu_estimate.hpp"
#include "sensors/hwmon/hwmon_sensor.hpp"
#include "sensors/rapl/powercap_sensor.hpp"

namespace joulebench {

std::filesystem::path ProbeOptions::default_powercap_root() {
    if (const char* env = std::getenv("JOULEBENCH_POWERCAP_ROOT"); env != nullptr && *env != 0) return env;
    return "/sys/class/powercap";
}

std::filesystem::path ProbeOptions::default_hwmon_root() {
    if (const char* env = std::getenv("JOULEBENCH_HWMON_ROOT"); env != nullptr && *env != 0) return env;
    return "/sys/class/hwmon";
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

std::string duplicate_preference(const std::string& kept_backend, const std::string& dropped_backend) {
    if (kept_backend == "powercap" && dropped_backend == "hwmon") {
        return "RAPL through powercap is preferred: the kernel's own driver for the same package "
               "energy register, with a stated wrap range, and the one `caps` and `--cap` act on "
               "(amd_energy reads that register too, and left the kernel in 5.13)";
    }
    return fmt::format("the backend probed first ({}) is preferred", kept_backend);
}

void add_backend(SensorSet& set, BackendProbe probe) {
    BackendReport report;
    report.backend = probe.backend;
    report.skipped = std::move(probe.skipped);
    report.notes = std::move(probe.notes);
    std::vector<std::unique_ptr<Sensor>> kept;
    for (auto& s : probe.sensors) {
        const SensorInfo& info = s->info();
        const Sensor* earlier = nullptr;
        if (!info.device_identity.empty()) {
            for (const auto& e : set.sensors) {
                if (e->info().device_identity == info.device_identity) earlier = e.get();
            }
        }
        if (earlier == nullptr) {
            kept.push_back(std::move(s));
            continue;
        }
        const SensorInfo& e = earlier->info();
        report.skipped.push_back(fmt::format(
            "{}: {} ({}, {}): duplicate of {} ({}): both measure {}; counted once: {}",
            probe.backend, info.id, info.name, info.source, e.id, e.backend, info.device_identity,
            duplicate_preference(e.backend, probe.backend)));
    }
    report.sensors = kept.size();
    if (kept.empty() && report.skipped.empty() && report.notes.empty()) {
        return;  // no energy or power file under the hwmon root: nothing to show
    }
    for (auto& s : kept) set.sensors.push_back(std::move(s));
    set.backends.push_back(std::move(report));
}

namespace {

// hwmon's GPUs are not NVML's: a `--gpus` list or `none` (a runner slot's GPU) selects NVML GPUs
// by index, so hwmon GPUs are measured only when every GPU is (`--gpus all`, the default).
BackendProbe hwmon_probe(const ProbeOptions& options) {
    BackendProbe probe = hwmon::probe_hwmon(options.hwmon_root);
    if (options.nvml.gpus.mode == nvml::GpuSelection::Mode::kAll) return probe;
    std::vector<std::unique_ptr<Sensor>> kept;
    for (auto& s : probe.sensors) {
        if (s->info().kind == DomainKind::kGpu) {
            probe.skipped.push_back(fmt::format(
                "hwmon: {} ({}): left out: a GPU selection (--gpus, a run's GPU slot) names NVML "
                "GPUs; hwmon GPUs are measured with --gpus all only",
                s->info().id, s->info().name));
        } else {
            kept.push_back(std::move(s));
        }
    }
    probe.sensors = std::move(kept);
    return probe;
}

}  // namespace

SensorSet probe_all(const ProbeOptions& options) noexcept {
    SensorSet set;
    try {
        add_backend(set, nvml::probe_nvml(options.nvml, &set.selection_error));
        rocm::RocmProbeOptions rocm_options = options.rocm;
        rocm_options.none = rocm_options.none ||
                            options.nvml.gpus.mode == nvml::GpuSelection::Mode::kNone;
        add_backend(set, rocm::probe_rocm(rocm_options));
        add_backend(set, rapl::probe_powercap(options.powercap_root));
        add_backend(set, hwmon_probe(options));
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
            add_backend(set, estimate::probe_estimate(set.cpu_clock, options.cpu_tdp_w));
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
