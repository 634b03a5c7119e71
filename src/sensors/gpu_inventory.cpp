#include "sensors/gpu_inventory.hpp"

#include <algorithm>

#include <fmt/format.h>

#include "sensors/device_identity.hpp"

namespace joulebench {

std::string_view to_string(GpuVendor vendor) {
    switch (vendor) {
        case GpuVendor::kNvidia: return "nvidia";
        case GpuVendor::kAmd: return "amd";
        case GpuVendor::kIntel: return "intel";
        case GpuVendor::kUnknown: break;
    }
    return "unknown";
}

namespace {

GpuVendor vendor_of_driver(std::string_view driver) {
    if (driver == "amdgpu") return GpuVendor::kAmd;
    if (driver == "i915" || driver == "xe") return GpuVendor::kIntel;
    if (driver == "nouveau") return GpuVendor::kNvidia;
    return GpuVendor::kUnknown;
}

std::string valid_gpu_indices(std::size_t count) {
    if (count == 0) return "none (no GPUs)";
    if (count == 1) return "0";
    return fmt::format("0 to {}", count - 1);
}

}  // namespace

std::vector<GpuEntry> build_gpu_index(const std::vector<nvml::NvmlDevice>& nvml,
                                      const std::vector<rocm::RocmDevice>& rocm,
                                      const std::vector<hwmon::ChannelDescription>& hwmon) {
    std::vector<GpuEntry> out;
    const auto seen = [&](const std::string& bus_id) {
        const std::string identity = pci_identity(bus_id);
        if (identity.empty()) return false;
        return std::any_of(out.begin(), out.end(), [&](const GpuEntry& e) {
            return pci_identity(e.id.pci_bus_id) == identity;
        });
    };
    for (const auto& d : nvml) {
        GpuEntry e;
        e.id = {-1, d.name(), d.uuid(), d.pci_bus_id(), GpuVendor::kNvidia, -1, "nvml", d.index(),
                fmt::format("gpu{}", d.index()), {}, false};
        e.nvml = d;
        out.push_back(std::move(e));
    }
    for (const auto& d : rocm) {
        if (seen(d.pci_bus_id())) continue;
        GpuEntry e;
        e.id = {-1, d.name(), d.unique_id(), d.pci_bus_id(), GpuVendor::kAmd, -1, "rocm", d.index(),
                fmt::format("amdgpu{}", d.index()), {}, false};
        e.rocm = d;
        out.push_back(std::move(e));
    }
    for (const auto& c : hwmon) {
        if (c.kind != DomainKind::kGpu || seen(c.pci_bus_id)) continue;
        GpuEntry e;
        e.id = {-1, c.label.empty() ? c.driver : fmt::format("{} {}", c.driver, c.label), {},
                c.pci_bus_id, vendor_of_driver(c.driver), -1, "hwmon", c.index, c.id,
                c.file.parent_path(), false};
        out.push_back(std::move(e));
    }
    // PCI bus order; a GPU without a bus id goes after, in the order found.
    std::stable_sort(out.begin(), out.end(), [](const GpuEntry& a, const GpuEntry& b) {
        const auto pa = nvml::parse_pci_bus_id(a.id.pci_bus_id);
        const auto pb = nvml::parse_pci_bus_id(b.id.pci_bus_id);
        if (pa && pb) return *pa < *pb;
        return pa.has_value() && !pb.has_value();
    });
    for (std::size_t i = 0; i < out.size(); ++i) {
        out[i].id.index = static_cast<int>(i);
        int same_vendor = 0;
        for (std::size_t j = 0; j < i; ++j) same_vendor += out[j].id.vendor == out[i].id.vendor ? 1 : 0;
        out[i].id.vendor_index = same_vendor;
        out[i].id.mixed = std::any_of(out.begin(), out.end(), [&](const GpuEntry& e) {
            return e.id.vendor != out[i].id.vendor;
        });
    }
    return out;
}

GpuMachine::GpuMachine(std::optional<nvml::NvmlSystem> nvml,
                       std::shared_ptr<const rocm::RocmLibrary> rocm,
                       std::vector<hwmon::ChannelDescription> hwmon)
    : m_nvml(std::move(nvml)), m_rocm(std::move(rocm)) {
    std::vector<rocm::RocmDevice> amd;
    if (m_rocm) {
        try {
            std::vector<std::string> notes;
            amd = rocm::RocmDevice::enumerate(m_rocm, notes);
        } catch (const std::exception& e) {
            m_rocm_failure = e.what();
        }
    }
    m_gpus = build_gpu_index(m_nvml ? m_nvml->devices() : std::vector<nvml::NvmlDevice>{}, amd, hwmon);
}

GpuMachine GpuMachine::open(const GpuMachineOptions& options) noexcept {
    std::optional<nvml::NvmlSystem> nvml;
    std::string nvml_failure;
    std::optional<Error> nvml_error;
    std::shared_ptr<const rocm::RocmLibrary> amd;
    std::string rocm_failure;
    std::vector<hwmon::ChannelDescription> channels;
    try {
        try {
            nvml.emplace(nvml::NvmlSystem::open(options.nvml));
        } catch (const Error& e) {
            nvml_failure = e.what();
            nvml_error = e;
        } catch (const std::exception& e) {
            nvml_failure = std::string("nvml: probe failed: ") + e.what();
        }
        try {
            amd = rocm::RocmLibrary::load(options.rocm);
        } catch (const Error& e) {
            rocm_failure = e.what();
        } catch (const std::exception& e) {
            rocm_failure = std::string("rocm: probe failed: ") + e.what();
        }
        std::vector<std::string> skipped;  // hwmon's own probe reports them
        channels = hwmon::discover_channels(options.hwmon_root, skipped);
        GpuMachine machine(std::move(nvml), std::move(amd), std::move(channels));
        machine.m_nvml_failure = std::move(nvml_failure);
        machine.m_nvml_error = std::move(nvml_error);
        if (machine.m_rocm_failure.empty()) machine.m_rocm_failure = std::move(rocm_failure);
        return machine;
    } catch (const std::exception& e) {
        GpuMachine machine;
        try {
            machine.m_nvml_failure = std::string("gpus: probe failed: ") + e.what();
        } catch (...) {
        }
        return machine;
    }
}

bool GpuMachine::holds(const GpuEntry& entry) const {
    if (!entry.nvml || !m_nvml) return true;
    return m_nvml->holds(entry.nvml->index());
}

std::vector<GpuEntry> GpuMachine::select(const nvml::GpuSelection& selection) const {
    using Mode = nvml::GpuSelection::Mode;
    std::vector<GpuEntry> out;
    if (selection.mode == Mode::kNone) return out;
    if (selection.mode == Mode::kAll) {
        for (const auto& e : m_gpus)
            if (holds(e)) out.push_back(e);
        return out;
    }
    std::vector<int> seen;
    for (const int index : selection.indices) {
        if (index < 0 || static_cast<std::size_t>(index) >= m_gpus.size()) {
            throw Error(ErrorCategory::kInvalidArgument,
                        fmt::format("gpus: select GPU {}: no such GPU (valid indices: {})", index,
                                    valid_gpu_indices(m_gpus.size())),
                        "`joulebench sensors` lists the GPUs of every vendor; indices follow PCI "
                        "bus order");
        }
        const GpuEntry& e = m_gpus[static_cast<std::size_t>(index)];
        if (e.nvml && m_nvml) m_nvml->check_held(e.nvml->index(), fmt::format("select GPU {}", index));
        if (std::find(seen.begin(), seen.end(), index) != seen.end()) continue;
        seen.push_back(index);
        out.push_back(e);
    }
    return out;
}

const GpuEntry* GpuMachine::find_domain(std::string_view backend, std::string_view domain_id) const {
    for (const auto& e : m_gpus) {
        if (e.id.backend == backend && e.id.domain_id == domain_id) return &e;
    }
    return nullptr;
}

}  // namespace joulebench
