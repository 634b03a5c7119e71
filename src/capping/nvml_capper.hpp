#pragma once
// The NVML implementation of PowerCapper: nvmlDeviceSetPowerManagementLimit, read back with
// ...GetPowerManagementLimit and ...GetEnforcedPowerLimit, range from ...LimitConstraints.

#include "joulebench/power_capper.hpp"
#include "sensors/nvml/nvml_device.hpp"

namespace joulebench::capping {

class NvmlCapper final : public PowerCapper {
public:
    explicit NvmlCapper(nvml::NvmlDevice device);

    [[nodiscard]] const CapDeviceInfo& info() const override { return m_info; }
    [[nodiscard]] Watts current_limit() const override { return m_device.power_limit(); }
    [[nodiscard]] Watts enforced_limit() const override { return m_device.enforced_power_limit(); }
    [[nodiscard]] CapRange constraints() const override;
    [[nodiscard]] std::optional<Watts> default_limit() const noexcept override;
    void set_limit(Watts limit) override { m_device.set_power_limit(limit); }
    /// NVML takes and reports milliwatts: a read-back differs by the rounding to 1 mW at most.
    [[nodiscard]] Watts tolerance() const override { return Watts(0.001); }
    /// Persistence mode off: the driver forgets the limit once no client holds the GPU.
    [[nodiscard]] std::vector<std::string> warnings() const noexcept override;

    [[nodiscard]] const nvml::NvmlDevice& device() const { return m_device; }

private:
    nvml::NvmlDevice m_device;
    CapDeviceInfo m_info;
};

}  // namespace joulebench::capping
