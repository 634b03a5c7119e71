#include "capping/rocm_capper.hpp"

#include <fmt/format.h>

#include <cmath>
#include <cstdint>
#include <utility>

#include "joulebench/error.hpp"

namespace joulebench::capping {

namespace {
void require(const void* entry, const rocm::RocmDevice& device, const char* name) {
    if (entry == nullptr) {
        throw Error(
            ErrorCategory::kNotSupported,
            fmt::format("rocm: power cap of {}: {} not in the library", device.label(), name));
    }
}
}  // namespace

std::string RocmCapper::key_of(const rocm::RocmDevice& device) {
    if (!device.unique_id().empty()) return device.unique_id();
    if (!device.pci_bus_id().empty()) return "pci-" + device.pci_bus_id();
    return {};
}

RocmCapper::RocmCapper(rocm::RocmDevice device) : m_device(std::move(device)) {
    m_info.target = CapTarget::kGpu;
    m_info.index = m_device.index();
    m_info.id = fmt::format("amdgpu{}", m_device.index());
    m_info.key = key_of(m_device);
    m_info.backend = "rocm";
    m_info.source = m_info.key;
    m_info.name = m_device.name();
    m_info.label = m_device.label();
    if (m_info.key.empty()) {
        throw Error(ErrorCategory::kNotSupported,
                    fmt::format("rocm: cap {}: neither a unique id nor a PCI bus id can be read",
                                m_info.label),
                    "a cap is journalled under a stable identity so a crash can be undone");
    }
}

Watts RocmCapper::current_limit() const {
    require(reinterpret_cast<const void*>(m_device.api().rsmi_dev_power_cap_get), m_device,
            "rsmi_dev_power_cap_get");
    std::uint64_t cap_uw = 0;
    const rsmi_status_t rc = m_device.api().rsmi_dev_power_cap_get(m_device.dv_ind(), 0, &cap_uw);
    if (rc != rocm::kRsmiSuccess) {
        throw m_device.library()->make_error(rc, fmt::format("read power cap of {}", m_info.label));
    }
    return from_microwatts(cap_uw);
}

CapRange RocmCapper::constraints() const {
    require(reinterpret_cast<const void*>(m_device.api().rsmi_dev_power_cap_range_get), m_device,
            "rsmi_dev_power_cap_range_get");
    std::uint64_t max_uw = 0;
    std::uint64_t min_uw = 0;
    const rsmi_status_t rc =
        m_device.api().rsmi_dev_power_cap_range_get(m_device.dv_ind(), 0, &max_uw, &min_uw);
    if (rc != rocm::kRsmiSuccess) {
        throw m_device.library()->make_error(
            rc, fmt::format("read power cap range of {}", m_info.label));
    }
    return {from_microwatts(min_uw), from_microwatts(max_uw)};
}

std::optional<Watts> RocmCapper::default_limit() const noexcept {
    const auto fn = m_device.api().rsmi_dev_power_cap_default_get;
    if (fn == nullptr) return std::nullopt;
    std::uint64_t value_uw = 0;
    if (fn(m_device.dv_ind(), &value_uw) != rocm::kRsmiSuccess) return std::nullopt;
    return from_microwatts(value_uw);
}

void RocmCapper::set_limit(Watts limit) {
    require(reinterpret_cast<const void*>(m_device.api().rsmi_dev_power_cap_set), m_device,
            "rsmi_dev_power_cap_set");
    if (!std::isfinite(limit.value()) || limit.value() <= 0.0) {
        throw Error(ErrorCategory::kInvalidArgument,
                    fmt::format("rocm: set power cap of {} to {}: not a positive power",
                                m_info.label, format_watts(limit)));
    }
    const auto limit_uw = static_cast<std::uint64_t>(std::llround(limit.value() * 1e6));
    const rsmi_status_t rc = m_device.api().rsmi_dev_power_cap_set(m_device.dv_ind(), 0, limit_uw);
    if (rc != rocm::kRsmiSuccess) {
        throw m_device.library()->make_error(
            rc, fmt::format("set power cap of {} to {}", m_info.label, format_watts(limit)));
    }
}

}  // namespace joulebench::capping
