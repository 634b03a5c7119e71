#include "sensors/nvml/nvml_backend.hpp"

#include <algorithm>
#include <array>
#include <charconv>
#include <exception>
#include <numeric>
#include <string_view>

#include <fmt/format.h>

#include "sensors/nvml/nvml_sensor.hpp"

namespace joulebench::nvml {

namespace {

// Reads a fixed-size string through an NVML getter.
template <class Fn>
nvmlReturn_t read_string(Fn&& fn, unsigned buffer_size, std::string& out) {
    std::array<char, 128> buffer{};
    const unsigned size = std::min<unsigned>(buffer_size, static_cast<unsigned>(buffer.size()));
    const nvmlReturn_t rc = fn(buffer.data(), size);
    if (rc == kSuccess) {
        buffer.back() = 0;
        out = buffer.data();
    }
    return rc;
}

bool parse_hex(std::string_view text, unsigned& value) {
    if (text.empty()) return false;
    const auto* end = text.data() + text.size();
    const auto [ptr, ec] = std::from_chars(text.data(), end, value, 16);
    return ec == std::errc{} && ptr == end;
}

std::string valid_nvml_indices(std::size_t count) {
    if (count == 0) return "none (no GPUs)";
    if (count == 1) return "0";
    return fmt::format("0 to {}", count - 1);
}

}  // namespace

std::optional<PciAddress> parse_pci_bus_id(const std::string& text) {
    // domain:bus:device.function, hexadecimal; the domain has 4 or 8 digits.
    const auto first = text.find(':');
    const auto second = text.find(':', first == std::string::npos ? first : first + 1);
    const auto dot = text.find('.', second == std::string::npos ? second : second + 1);
    if (first == std::string::npos || second == std::string::npos || dot == std::string::npos) {
        return std::nullopt;
    }
    const std::string_view view(text);
    PciAddress address;
    if (!parse_hex(view.substr(0, first), address.domain) ||
        !parse_hex(view.substr(first + 1, second - first - 1), address.bus) ||
        !parse_hex(view.substr(second + 1, dot - second - 1), address.device) ||
        !parse_hex(view.substr(dot + 1), address.function)) {
        return std::nullopt;
    }
    return address;
}

GpuSelection GpuSelection::parse(const std::string& text) {
    if (text == "all") return all();
    if (text == "none") return none();
    std::vector<int> indices;
    std::string_view rest(text);
    while (true) {
        const auto comma = rest.find(',');
        const std::string_view item = rest.substr(0, comma);
        int value = -1;
        const auto [ptr, ec] = std::from_chars(item.data(), item.data() + item.size(), value);
        if (item.empty() || ec != std::errc{} || ptr != item.data() + item.size() || value < 0) {
            throw Error(ErrorCategory::kInvalidArgument,
                        fmt::format("nvml: parse --gpus '{}': '{}' is not a GPU index", text, item),
                        "use all, none, or indices separated by commas, e.g. 0,2");
        }
        indices.push_back(value);
        if (comma == std::string_view::npos) break;
        rest.remove_prefix(comma + 1);
    }
    return list(std::move(indices));
}

NvmlSystem NvmlSystem::open(const NvmlLibraryOptions& options) {
    return NvmlSystem(NvmlLibrary::load(options));
}

NvmlSystem::NvmlSystem(std::shared_ptr<const NvmlLibrary> library,
                       const std::optional<SlurmJob>& job)
    : m_library(std::move(library)) {
    const NvmlApi& api = m_library->api();
    m_notes.push_back("library: " + m_library->description());
    for (const auto& note : m_library->search_notes()) m_notes.push_back(note);
    if (api.nvmlSystemGetDriverVersion != nullptr) {
        const nvmlReturn_t rc = read_string(
            [&](char* buffer, unsigned size) { return api.nvmlSystemGetDriverVersion(buffer, size); },
            kDriverVersionBufferSize, m_driver_version);
        if (rc == kSuccess) m_notes.push_back("driver version: " + m_driver_version);
    }
    const auto missing = m_library->missing_optional();
    if (!missing.empty()) {
        std::string list;
        for (const auto& name : missing) list += (list.empty() ? "" : ", ") + name;
        m_notes.push_back("optional symbols missing (capabilities removed): " + list);
    }

    unsigned count = 0;
    if (const nvmlReturn_t rc = api.nvmlDeviceGetCount_v2(&count); rc != kSuccess) {
        throw m_library->make_error(rc, "count GPUs");
    }
    struct Found {
        unsigned nvml_index;
        nvmlDevice_t handle;
        std::string name;
        std::string uuid;
        std::string pci_bus_id;
        std::optional<PciAddress> address;
    };
    std::vector<Found> found;
    bool all_addressed = true;
    for (unsigned i = 0; i < count; ++i) {
        Found gpu{i, nullptr, {}, {}, {}, std::nullopt};
        nvmlReturn_t rc = api.nvmlDeviceGetHandleByIndex_v2(i, &gpu.handle);
        if (rc == kSuccess) {
            rc = read_string([&](char* b, unsigned n) { return api.nvmlDeviceGetName(gpu.handle, b, n); },
                             kNameBufferSize, gpu.name);
        }
        if (rc == kSuccess) {
            rc = read_string([&](char* b, unsigned n) { return api.nvmlDeviceGetUUID(gpu.handle, b, n); },
                             kUuidBufferSize, gpu.uuid);
        }
        if (rc != kSuccess) {
            // An inaccessible GPU (e.g. outside a container's device cgroup) is not ours to use.
            m_notes.push_back(fmt::format("GPU at NVML index {} skipped: {}", i,
                                          m_library->error_string(rc)));
            continue;
        }
        if (api.nvmlDeviceGetPciInfo_v3 != nullptr) {
            nvmlPciInfo_t pci{};
            if (api.nvmlDeviceGetPciInfo_v3(gpu.handle, &pci) == kSuccess) {
                pci.busId[sizeof(pci.busId) - 1] = 0;
                gpu.pci_bus_id = pci.busId;
                gpu.address = parse_pci_bus_id(gpu.pci_bus_id);
            }
        }
        all_addressed = all_addressed && gpu.address.has_value();
        found.push_back(std::move(gpu));
    }
    if (all_addressed) {
        std::stable_sort(found.begin(), found.end(),
                         [](const Found& a, const Found& b) { return *a.address < *b.address; });
    } else if (!found.empty()) {
        m_notes.emplace_back(
            "PCI bus ids not available for every GPU: GPUs ordered by NVML index, which may "
            "differ from nvidia-smi and CUDA_DEVICE_ORDER=PCI_BUS_ID");
    }
    for (std::size_t position = 0; position < found.size(); ++position) {
        auto& gpu = found[position];
        m_devices.emplace_back(m_library, gpu.handle, static_cast<int>(position), gpu.nvml_index,
                               std::move(gpu.name), std::move(gpu.uuid), std::move(gpu.pci_bus_id));
    }
    if (job) m_allocation = match_allocation(m_devices, *job);
    if (m_allocation) {
        m_notes.push_back(fmt::format("{} holds {}; the node's other GPUs are not used",
                                      m_allocation->job, m_allocation->describe()));
    }
}

std::vector<NvmlDevice> NvmlSystem::select(const GpuSelection& selection) const {
    switch (selection.mode) {
        case GpuSelection::Mode::kAll: {
            std::vector<NvmlDevice> held;
            for (const auto& d : m_devices)
                if (holds(d.index())) held.push_back(d);
            return held;
        }
        case GpuSelection::Mode::kNone: return {};
        case GpuSelection::Mode::kList: break;
    }
    std::vector<NvmlDevice> out;
    std::vector<int> seen;
    for (const int index : selection.indices) {
        if (index < 0 || static_cast<std::size_t>(index) >= m_devices.size()) {
            throw Error(ErrorCategory::kInvalidArgument,
                        fmt::format("nvml: select GPU {}: no such GPU (valid indices: {})", index,
                                    valid_nvml_indices(m_devices.size())),
                        "`joulebench sensors` lists the GPUs; indices follow PCI bus order "
                        "(as nvidia-smi)");
        }
        check_held(index, fmt::format("select GPU {}", index));
        if (std::find(seen.begin(), seen.end(), index) != seen.end()) continue;
        seen.push_back(index);
        out.push_back(m_devices[static_cast<std::size_t>(index)]);
    }
    return out;
}

BackendProbe probe_nvml(const NvmlSystem& system, const GpuSelection& selection,
                        std::optional<Error>* selection_error) noexcept {
    BackendProbe probe;
    try {
        probe.backend = "nvml";
        probe.notes = system.notes();
        if (system.devices().empty()) {
            probe.skipped.emplace_back("nvml: no GPUs");
            // An explicit list cannot be satisfied either.
            if (selection.mode == GpuSelection::Mode::kList && !selection.indices.empty()) {
                (void)system.select(selection);
            }
            return probe;
        }
        if (selection.mode == GpuSelection::Mode::kNone) {
            probe.skipped.emplace_back("nvml: no GPUs selected (--gpus none)");
            return probe;
        }
        const auto selected = system.select(selection);
        if (selected.empty() && system.allocation()) {
            probe.skipped.push_back(fmt::format("nvml: {} holds {}", system.allocation()->job,
                                                system.allocation()->describe()));
        }
        for (auto device : selected) {
            try {
                probe.sensors.push_back(std::make_unique<NvmlSensor>(std::move(device)));
            } catch (const Error& e) {
                probe.skipped.emplace_back(e.what());
            }
        }
    } catch (const Error& e) {
        probe.sensors.clear();
        try {
            probe.skipped.emplace_back(e.what());
            if (selection_error != nullptr) *selection_error = e;
        } catch (...) {
        }
    } catch (const std::exception& e) {
        probe.sensors.clear();
        try {
            probe.skipped.push_back(std::string("nvml: probe failed: ") + e.what());
        } catch (...) {
        }
    }
    return probe;
}

BackendProbe probe_nvml(const NvmlProbeOptions& options,
                        std::optional<Error>* selection_error) noexcept {
    try {
        const NvmlSystem system = NvmlSystem::open(options.library);
        return probe_nvml(system, options.gpus, selection_error);
    } catch (const std::exception& e) {
        BackendProbe probe;
        try {
            probe.backend = "nvml";
            const auto* error = dynamic_cast<const Error*>(&e);
            probe.skipped.emplace_back(error != nullptr ? e.what()
                                                        : std::string("nvml: probe failed: ") + e.what());
        } catch (...) {
        }
        return probe;
    }
}

NvmlInventory nvml_inventory(const NvmlLibraryOptions& options) {
    const NvmlSystem system = NvmlSystem::open(options);
    NvmlInventory inventory;
    inventory.library = system.library()->description();
    inventory.driver_version = system.driver_version();
    for (const auto& device : system.devices()) {
        inventory.devices.push_back({device.index(), device.nvml_index(), device.name(),
                                     device.uuid(), device.pci_bus_id()});
    }
    return inventory;
}

}  // namespace joulebench::nvml
