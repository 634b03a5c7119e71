#pragma once
/// One NVIDIA GPU as NVML sees it: its static identity and the power-limit calls the sensor and
/// the power capper (issue 3) need. Raw NVML milliwatts stay inside; callers get Watts.

#include <memory>
#include <optional>
#include <string>

#include "joulebench/sensor.hpp"
#include "joulebench/units.hpp"
#include "sensors/nvml/nvml_library.hpp"

namespace joulebench::nvml {

/// Allowed range of the power limit (nvmlDeviceGetPowerManagementLimitConstraints).
struct PowerLimitRange {
    Watts min;
    Watts max;
};

class NvmlDevice {
public:
    /// `index` is joulebench's index (PCI bus order); `nvml_index` is NVML's own enumeration index.
    NvmlDevice(std::shared_ptr<const NvmlLibrary> library, nvmlDevice_t handle, int index,
               unsigned nvml_index, std::string name, std::string uuid, std::string pci_bus_id);

    [[nodiscard]] int index() const { return m_index; }
    [[nodiscard]] unsigned nvml_index() const { return m_nvml_index; }
    [[nodiscard]] const std::string& name() const { return m_name; }
    [[nodiscard]] const std::string& uuid() const { return m_uuid; }
    /// NVML's busId, "00000000:3B:00.0"; empty when nvmlDeviceGetPciInfo_v3 is unavailable.
    [[nodiscard]] const std::string& pci_bus_id() const { return m_pci_bus_id; }
    /// The minor number of its device file (/dev/nvidiaN), as Slurm's SLURM_JOB_GPUS names
    /// GPUs; unset when NVML cannot say.
    [[nodiscard]] std::optional<unsigned> minor_number() const noexcept;
    [[nodiscard]] nvmlDevice_t handle() const { return m_handle; }
    [[nodiscard]] const std::shared_ptr<const NvmlLibrary>& library() const { return m_library; }
    [[nodiscard]] const NvmlApi& api() const { return m_library->api(); }

    // Power limits. Each throws Error: kNotSupported when the symbol is missing or the GPU answers
    // NOT_SUPPORTED, otherwise the category of the NVML code (see NvmlLibrary::make_error).

    /// The power limit set by software (nvmlDeviceGetPowerManagementLimit).
    [[nodiscard]] Watts power_limit() const;
    /// The limit the driver actually enforces (the lowest of all limiters).
    [[nodiscard]] Watts enforced_power_limit() const;
    [[nodiscard]] PowerLimitRange power_limit_constraints() const;
    [[nodiscard]] Watts default_power_limit() const;
    /// Persistence mode: when off, the driver forgets power limits once no client holds the GPU.
    [[nodiscard]] bool persistence_mode() const;
    /// Sets the power limit (rounded to the nearest milliwatt). Checks `limit` against the
    /// constraints first when they can be read: outside them, Error kInvalidArgument naming the
    /// allowed range in watts and nothing is written. NO_PERMISSION gives kNoPermission with a hint.
    void set_power_limit(Watts limit) const;

    /// Everything readable about the limits, for SensorInfo::limits; never throws.
    [[nodiscard]] PowerLimitInfo limit_info() const noexcept;

    /// "GPU 0 (NVIDIA A100, 00000000:3B:00.0)": how messages name this device.
    [[nodiscard]] std::string label() const;

private:
    [[nodiscard]] unsigned read_mw(nvmlReturn_t (*fn)(nvmlDevice_t, unsigned int*),
                                   const char* what) const;

    std::shared_ptr<const NvmlLibrary> m_library;
    nvmlDevice_t m_handle;
    int m_index;
    unsigned m_nvml_index;
    std::string m_name;
    std::string m_uuid;
    std::string m_pci_bus_id;
};

}  // namespace joulebench::nvml
