#include "sensors/rocm/rocm_device.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <utility>

namespace joulebench::rocm {

std::string format_bdfid(std::uint64_t bdfid) {
    return fmt::format("{:04x}:{:02x}:{:02x}.{:x}", (bdfid >> 32U) & 0xffffffffU,
                       (bdfid >> 8U) & 0xffU, (bdfid >> 3U) & 0x1fU, bdfid & 0x7U);
}

RocmDevice::RocmDevice(std::shared_ptr<const RocmLibrary> library, std::uint32_t dv_ind)
    : m_library(std::move(library)), m_dv_ind(dv_ind) {
    const RocmApi& a = api();
    std::array<char, 256> name{};
    const rsmi_status_t rc = a.rsmi_dev_name_get(dv_ind, name.data(), name.size());
    if (rc != kRsmiSuccess) {
        throw m_library->make_error(rc, fmt::format("read name of device {}", dv_ind));
    }
    name.back() = 0;
    m_name = name.data();
    if (a.rsmi_dev_unique_id_get != nullptr) {
        std::uint64_t id = 0;
        if (a.rsmi_dev_unique_id_get(dv_ind, &id) == kRsmiSuccess) {
            m_unique_id = fmt::format("0x{:016x}", id);
        }
    }
    if (a.rsmi_dev_pci_id_get != nullptr) {
        std::uint64_t bdfid = 0;
        if (a.rsmi_dev_pci_id_get(dv_ind, &bdfid) == kRsmiSuccess) {
            m_bdfid = bdfid;
            m_pci_bus_id = format_bdfid(bdfid);
        }
    }
}

std::string RocmDevice::label() const {
    if (m_pci_bus_id.empty()) return fmt::format("AMD GPU {} ({})", m_index, m_name);
    return fmt::format("AMD GPU {} ({}, {})", m_index, m_name, m_pci_bus_id);
}

PowerLimitInfo RocmDevice::limit_info() const noexcept {
    PowerLimitInfo info;
    try {
        info.name = "power cap";
        const RocmApi& a = api();
        std::uint64_t value_uw = 0;
        if (a.rsmi_dev_power_cap_get != nullptr &&
            a.rsmi_dev_power_cap_get(m_dv_ind, 0, &value_uw) == kRsmiSuccess) {
            info.current = from_microwatts(value_uw);
        }
        std::uint64_t max_uw = 0;
        std::uint64_t min_uw = 0;
        if (a.rsmi_dev_power_cap_range_get != nullptr &&
            a.rsmi_dev_power_cap_range_get(m_dv_ind, 0, &max_uw, &min_uw) == kRsmiSuccess) {
            info.min = from_microwatts(min_uw);
            info.max = from_microwatts(max_uw);
        }
        if (a.rsmi_dev_power_cap_default_get != nullptr &&
            a.rsmi_dev_power_cap_default_get(m_dv_ind, &value_uw) == kRsmiSuccess) {
            info.default_value = from_microwatts(value_uw);
        }
    } catch (...) {
        // out of memory for the name: the fields read so far stand
    }
    return info;
}

std::vector<RocmDevice> RocmDevice::enumerate(const std::shared_ptr<const RocmLibrary>& library,
                                              std::vector<std::string>& notes) {
    std::uint32_t count = 0;
    const rsmi_status_t rc = library->api().rsmi_num_monitor_devices(&count);
    if (rc != kRsmiSuccess) throw library->make_error(rc, "count GPUs");
    std::vector<RocmDevice> devices;
    for (std::uint32_t dv_ind = 0; dv_ind < count; ++dv_ind) {
        try {
            devices.emplace_back(library, dv_ind);
        } catch (const Error& e) {
            notes.push_back(fmt::format("device {} left out: {}", dv_ind, e.what()));
        }
    }
    // PCI bus order, as NVIDIA GPUs are ordered (docs/nvml.md); GPUs without a BDFID keep
    // ROCm SMI's order after those with one.
    std::stable_sort(devices.begin(), devices.end(), [](const RocmDevice& x, const RocmDevice& y) {
        if (x.m_bdfid.has_value() != y.m_bdfid.has_value()) return x.m_bdfid.has_value();
        return x.m_bdfid.has_value() && *x.m_bdfid < *y.m_bdfid;
    });
    for (std::size_t i = 0; i < devices.size(); ++i) devices[i].m_index = static_cast<int>(i);
    return devices;
}

}  // namespace joulebench::rocm
