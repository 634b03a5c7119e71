// Inside a Slurm job: which of the GPUs NVML lists the job holds (docs/slurm.md).

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>

#include "sensors/nvml/nvml_backend.hpp"

namespace joulebench::nvml {

namespace {

bool is_uuid(const std::string& item) {
    return item.rfind("GPU-", 0) == 0 || item.rfind("MIG-", 0) == 0;
}

// By the minor numbers of SLURM_STEP_GPUS / SLURM_JOB_GPUS; unset when NVML cannot say a
// device's minor number.
std::optional<GpuAllocation> by_minor(const std::vector<NvmlDevice>& devices, const SlurmJob& job) {
    GpuAllocation a;
    std::vector<unsigned> missing;
    for (const unsigned minor : *job.gpu_minors) {
        bool found = false;
        for (const auto& d : devices) {
            const auto m = d.minor_number();
            if (!m) return std::nullopt;
            if (*m == minor) {
                a.held.push_back(d.index());
                found = true;
            }
        }
        if (!found) missing.push_back(minor);
    }
    a.how = fmt::format("{}, by device minor number", job.gpu_source);
    if (!missing.empty()) {
        a.how += fmt::format("; /dev/nvidia{} not listed by NVML", fmt::join(missing, ", /dev/nvidia"));
    }
    return a;
}

GpuAllocation by_visible(const std::vector<NvmlDevice>& devices, const SlurmJob& job) {
    GpuAllocation a;
    const auto& visible = *job.visible_devices;
    const std::string variable = fmt::format("CUDA_VISIBLE_DEVICES={}", fmt::join(visible, ","));
    if (!visible.empty() && std::all_of(visible.begin(), visible.end(), is_uuid)) {
        for (const auto& uuid : visible) {
            for (const auto& d : devices)
                if (d.uuid() == uuid) a.held.push_back(d.index());
        }
        a.how = variable + ", by UUID";
        if (a.held.size() != visible.size()) a.how += " (not every UUID is a GPU NVML lists)";
        return a;
    }
    if (visible.size() == devices.size()) {
        for (const auto& d : devices) a.held.push_back(d.index());
        a.how = variable + ", NVML listing only the job's GPUs";
        return a;
    }
    a.how = fmt::format(
        "{} gives indices, and NVML lists {} GPUs: which ones the job holds cannot be told "
        "without SLURM_JOB_GPUS, so none is used",
        variable, devices.size());
    return a;
}

}  // namespace

std::string GpuAllocation::describe() const {
    if (held.empty()) return fmt::format("no GPU ({})", how);
    return fmt::format("GPU {} ({})", fmt::join(held, ", "), how);
}

std::optional<GpuAllocation> match_allocation(const std::vector<NvmlDevice>& devices,
                                              const SlurmJob& job) {
    if (const char* v = std::getenv("JOULEBENCH_SLURM_GPUS"); v != nullptr && std::strcmp(v, "ignore") == 0)
        return std::nullopt;
    std::optional<GpuAllocation> a;
    if (job.gpu_minors) a = by_minor(devices, job);
    if (!a && job.visible_devices) a = by_visible(devices, job);
    if (!a && job.gpu_minors) {
        a.emplace();
        a->how = fmt::format(
            "{}, but NVML gives no device minor numbers to match them to, so none is used",
            job.gpu_source);
    }
    if (!a) {
        a.emplace();
        a->how = job.gpu_source.empty()
                     ? "the job was given no GPUs: no SLURM_JOB_GPUS or CUDA_VISIBLE_DEVICES"
                     : job.gpu_source;
    }
    a->job = job.label();
    std::sort(a->held.begin(), a->held.end());
    a->held.erase(std::unique(a->held.begin(), a->held.end()), a->held.end());
    return a;
}

bool NvmlSystem::holds(int index) const {
    if (!m_allocation) return true;
    return std::find(m_allocation->held.begin(), m_allocation->held.end(), index) !=
           m_allocation->held.end();
}

void NvmlSystem::check_held(int index, std::string_view what) const {
    if (holds(index)) return;
    throw Error(ErrorCategory::kInvalidArgument,
                fmt::format("nvml: {}: {} does not hold it; it holds {}", what, m_allocation->job,
                            m_allocation->describe()),
                "ask Slurm for GPUs (--gres=gpu:N or --gpus=N) and use the ones it gives; "
                "JOULEBENCH_SLURM_GPUS=ignore disables this check where GPUs are not Slurm "
                "resources");
}

}  // namespace joulebench::nvml
