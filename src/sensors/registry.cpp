#include "sensors/registry.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cstdlib>

#include "sensors/estimate/cpu_estimate.hpp"
#include "sensors/gpu_inventory.hpp"
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

// A GPU sensor seen through the machine's one GPU index space: its info carries the global index
// and the vendor (gpu_inventory.hpp); everything else is the backend's sensor.
class IndexedGpuSensor final : public Sensor {
public:
    IndexedGpuSensor(std::unique_ptr<Sensor> inner, const GpuIdentity& gpu)
        : m_inner(std::move(inner)), m_info(m_inner->info()) {
        m_info.index = gpu.index;
        m_info.vendor = std::string(to_string(gpu.vendor));
    }
    [[nodiscard]] const SensorInfo& info() const override { return m_info; }
    std::optional<EnergySample> sample() noexcept override { return m_inner->sample(); }
    [[nodiscard]] SensorHealth health() const override { return m_inner->health(); }
    [[nodiscard]] std::chrono::nanoseconds max_poll_interval() const override {
        return m_inner->max_poll_interval();
    }
    std::optional<GpuTelemetry> telemetry() noexcept override { return m_inner->telemetry(); }
    [[nodiscard]] std::optional<Joules> cross_check_energy() const override {
        return m_inner->cross_check_energy();
    }

private:
    std::unique_ptr<Sensor> m_inner;
    SensorInfo m_info;
};

using Mode = nvml::GpuSelection::Mode;

// Keeps the GPU sensors of `probe` whose GPU is among `selected` (every one for `all`), with
// their global index; the others are listed as not selected.
void keep_selected(BackendProbe& probe, const GpuMachine& machine,
                   const std::vector<GpuEntry>& selected, const nvml::GpuSelection& selection) {
    std::vector<std::unique_ptr<Sensor>> kept;
    for (auto& s : probe.sensors) {
        const SensorInfo& info = s->info();
        if (info.kind != DomainKind::kGpu) {
            kept.push_back(std::move(s));
            continue;
        }
        const GpuEntry* entry = machine.find_domain(info.backend, info.id);
        const bool chosen =
            entry != nullptr &&
            (selection.mode == Mode::kAll ||
             std::any_of(selected.begin(), selected.end(),
                         [&](const GpuEntry& e) { return e.id.index == entry->id.index; }));
        if (chosen) {
            kept.push_back(std::make_unique<IndexedGpuSensor>(std::move(s), entry->id));
        } else if (entry != nullptr || selection.mode != Mode::kAll) {
            probe.skipped.push_back(fmt::format(
                "{}: {} ({}): not selected (--gpus, a run's GPU slot){}", probe.backend, info.id,
                info.name, entry ? fmt::format(": it is GPU {}", entry->id.index) : std::string()));
        } else {
            kept.push_back(std::move(s));  // a duplicate the registry drops with its reason
        }
    }
    probe.sensors = std::move(kept);
}

BackendProbe failed_probe(const std::string& backend, const std::string& why) {
    BackendProbe probe;
    probe.backend = backend;
    probe.skipped.push_back(why);
    return probe;
}

// The NVML GPUs of a selection, by NVML's own index (so a Slurm job's checks still apply).
nvml::GpuSelection nvml_selection(const nvml::GpuSelection& selection,
                                  const std::vector<GpuEntry>& selected) {
    if (selection.mode != Mode::kList) return selection;
    std::vector<int> indices;
    for (const auto& e : selected)
        if (e.nvml) indices.push_back(e.nvml->index());
    return nvml::GpuSelection::list(std::move(indices));
}

struct GpuScope {
    GpuMachine machine;
    std::vector<GpuEntry> selected;
};

// NVML's and ROCm SMI's GPUs, those `--gpus` selects, with their global index; nullopt (and the
// set's selection_error) when the selection names no GPU here.
std::optional<GpuScope> add_gpu_backends(SensorSet& set, const ProbeOptions& options) {
    const nvml::GpuSelection& selection = options.nvml.gpus;
    GpuScope scope{GpuMachine::open({options.nvml.library, options.rocm.library, options.hwmon_root}), {}};
    const GpuMachine& machine = scope.machine;
    try {
        // No GPU at all: every backend says why below (a caller that asked for GPUs by index
        // fails on that, as `measure --gpus 3` on a machine without GPUs).
        if (!machine.gpus().empty()) scope.selected = machine.select(selection);
    } catch (const Error& e) {
        set.selection_error = e;
        set.backends.push_back({"gpus", 0, {e.what()}, {}});
        return std::nullopt;
    }
    const std::vector<GpuEntry>& selected = scope.selected;
    BackendProbe nv = machine.nvml()
                          ? nvml::probe_nvml(*machine.nvml(), nvml_selection(selection, selected),
                                             &set.selection_error)
                          : failed_probe("nvml", machine.nvml_failure());
    keep_selected(nv, machine, selected, selection);
    add_backend(set, std::move(nv));
    rocm::RocmProbeOptions rocm_options = options.rocm;
    rocm_options.none = rocm_options.none || selection.mode == Mode::kNone;
    BackendProbe amd = rocm_options.none || !machine.rocm()
                           ? rocm::probe_rocm(rocm_options)
                           : rocm::probe_rocm(machine.rocm());
    keep_selected(amd, machine, selected, selection);
    add_backend(set, std::move(amd));
    return scope;
}

}  // namespace

SensorSet probe_all(const ProbeOptions& options) noexcept {
    SensorSet set;
    try {
        const auto gpus = add_gpu_backends(set, options);
        if (!gpus) return set;
        add_backend(set, rapl::probe_powercap(options.powercap_root));
        // hwmon's GPUs (amdgpu without ROCm SMI, i915/xe) are in the same index space.
        BackendProbe hw = hwmon::probe_hwmon(options.hwmon_root);
        keep_selected(hw, gpus->machine, gpus->selected, options.nvml.gpus);
        add_backend(set, std::move(hw));
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
