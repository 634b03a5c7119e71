#include "sensors/nvml/nvml_device.hpp"

#include <cmath>
#include <utility>

#include <fmt/format.h>

namespace joulebench::nvml {

namespace {
Error missing_symbol(const NvmlDevice& device, const char* what, const char* symbol) {
    return {ErrorCategory::kNotSupported,
            fmt::format("nvml: {} of GPU {}: not supported: {} not found in {}", what,
                        device.index(), symbol, device.library()->description()),
            "a newer NVIDIA driver provides it"};
}
}  // namespace

NvmlDevice::NvmlDevice(std::shared_ptr<const NvmlLibrary> library, nvmlDevice_t handle, int index,
                       unsigned nvml_index, std::string name, std::string uuid,
                       std::string pci_bus_id)
    : m_library(std::move(library)),
      m_handle(handle),
      m_index(index),
      m_nvml_index(nvml_index),
      m_name(std::move(name)),
      m_uuid(std::move(uuid)),
      m_pci_bus_id(std::move(pci_bus_id)) {}

std::optional<unsigned> NvmlDevice::minor_number() const noexcept {
    if (api().nvmlDeviceGetMinorNumber == nullptr) return std::nullopt;
    unsigned minor = 0;
    if (api().nvmlDeviceGetMinorNumber(m_handle, &minor) != kSuccess) return std::nullopt;
    return minor;
}

std::string NvmlDevice::label() const {
    if (m_pci_bus_id.empty()) return fmt::format("GPU {} ({})", m_index, m_name);
    return fmt::format("GPU {} ({}, {})", m_index, m_name, m_pci_bus_id);
}

unsigned NvmlDevice::read_mw(nvmlReturn_t (*fn)(nvmlDevice_t, unsigned int*),
                             const char* what) const {
    unsigned value = 0;
    const nvmlReturn_t rc = fn(m_handle, &value);
    if (rc != kSuccess) throw m_library->make_error(rc, fmt::format("read {} of GPU {}", what, m_index));
    return value;
}

Watts NvmlDevice::power_limit() const {
    if (api().nvmlDeviceGetPowerManagementLimit == nullptr) {
        throw missing_symbol(*this, "read power limit", "nvmlDeviceGetPowerManagementLimit");
    }
    return from_milliwatts(read_mw(api().nvmlDeviceGetPowerManagementLimit, "power limit"));
}

Watts NvmlDevice::enforced_power_limit() const {
    if (api().nvmlDeviceGetEnforcedPowerLimit == nullptr) {
        throw missing_symbol(*this, "read enforced power limit", "nvmlDeviceGetEnforcedPowerLimit");
    }
    return from_milliwatts(read_mw(api().nvmlDeviceGetEnforcedPowerLimit, "enforced power limit"));
}

Watts NvmlDevice::default_power_limit() const {
    if (api().nvmlDeviceGetPowerManagementDefaultLimit == nullptr) {
        throw missing_symbol(*this, "read default power limit",
                             "nvmlDeviceGetPowerManagementDefaultLimit");
    }
    return from_milliwatts(
        read_mw(api().nvmlDeviceGetPowerManagementDefaultLimit, "default power limit"));
}

PowerLimitRange NvmlDevice::power_limit_constraints() const {
    if (api().nvmlDeviceGetPowerManagementLimitConstraints == nullptr) {
        throw missing_symbol(*this, "read power limit constraints",
                             "nvmlDeviceGetPowerManagementLimitConstraints");
    }
    unsigned min_mw = 0;
    unsigned max_mw = 0;
    const nvmlReturn_t rc = api().nvmlDeviceGetPowerManagementLimitConstraints(m_handle, &min_mw, &max_mw);
    if (rc != kSuccess) {
        throw m_library->make_error(rc, fmt::format("read power limit constraints of GPU {}", m_index));
    }
    return {from_milliwatts(min_mw), from_milliwatts(max_mw)};
}

bool NvmlDevice::persistence_mode() const {
    if (api().nvmlDeviceGetPersistenceMode == nullptr) {
        throw missing_symbol(*this, "read persistence mode", "nvmlDeviceGetPersistenceMode");
    }
    nvmlEnableState_t mode = kFeatureDisabled;
    const nvmlReturn_t rc = api().nvmlDeviceGetPersistenceMode(m_handle, &mode);
    if (rc != kSuccess) {
        throw m_library->make_error(rc, fmt::format("read persistence mode of GPU {}", m_index));
    }
    return mode == kFeatureEnabled;
}

void NvmlDevice::set_power_limit(Watts limit) const {
    const std::string action = fmt::format("set power limit of GPU {} to {:g} W", m_index, limit.value());
    if (api().nvmlDeviceSetPowerManagementLimit == nullptr) {
        throw missing_symbol(*this, "set power limit", "nvmlDeviceSetPowerManagementLimit");
    }
    const double limit_mw_exact = std::round(limit.value() * 1000.0);
    if (!std::isfinite(limit_mw_exact) || limit_mw_exact < 0.0 || limit_mw_exact > 4.0e9) {
        throw Error(ErrorCategory::kInvalidArgument, fmt::format("nvml: {}: not a valid power", action));
    }
    const auto limit_mw = static_cast<unsigned>(limit_mw_exact);
    // Check the range ourselves so the message names it (NVML only says "Invalid Argument").
    std::optional<PowerLimitRange> range;
    try {
        range = power_limit_constraints();
    } catch (const Error& e) {
        if (e.category() != ErrorCategory::kNotSupported) throw;
    }
    if (range && (limit < range->min || limit > range->max)) {
        throw Error(ErrorCategory::kInvalidArgument,
                    fmt::format("nvml: {}: outside the allowed range {:g} W to {:g} W", action,
                                range->min.value(), range->max.value()),
                    fmt::format("choose a limit between {:g} and {:g} W", range->min.value(),
                                range->max.value()));
    }
    const nvmlReturn_t rc = api().nvmlDeviceSetPowerManagementLimit(m_handle, limit_mw);
    if (rc == kSuccess) return;
    Error error = m_library->make_error(rc, action);
    if (rc == kErrorNoPermission) {
        throw Error(error.category(), error.what(),
                    "run as root (e.g. sudo joulebench ...); setting a GPU power limit needs "
                    "root privileges");
    }
    if (rc == kErrorInvalidArgument && range) {
        throw Error(error.category(),
                    fmt::format("{} (allowed {:g} W to {:g} W)", error.what(), range->min.value(),
                                range->max.value()));
    }
    throw error;
}

PowerLimitInfo NvmlDevice::limit_info() const noexcept {
    PowerLimitInfo info;
    try {
        info.name = "power limit";
        // Each read is independent: one unsupported value must not hide the others.
        try { info.current = power_limit(); } catch (const Error&) {}
        try { info.enforced = enforced_power_limit(); } catch (const Error&) {}
        try { info.default_value = default_power_limit(); } catch (const Error&) {}
        try {
            const auto range = power_limit_constraints();
            info.min = range.min;
            info.max = range.max;
        } catch (const Error&) {}
    } catch (...) {
        // allocation failure while formatting a message: return what we have
    }
    return info;
}

}  // namespace joulebench::nvml
