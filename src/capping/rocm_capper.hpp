#pragma once
// The ROCm SMI implementation of PowerCapper: rsmi_dev_power_cap_set, read back with
// rsmi_dev_power_cap_get, range from rsmi_dev_power_cap_range_get, default from
// rsmi_dev_power_cap_default_get (all microwatts, sensor index 0). Crash safety (journal,
// restore, guardian) is ScopedCap's and CapSession's, as for every capper.

#include "joulebench/power_capper.hpp"
#include "sensors/rocm/rocm_device.hpp"

namespace joulebench::capping {

class RocmCapper final : public PowerCapper {
public:
    /// Throws Error kNotSupported when the GPU has neither a unique id nor a PCI bus id: the
    /// journal needs a stable key to find the GPU again after a crash.
    explicit RocmCapper(rocm::RocmDevice device);

    [[nodiscard]] const CapDeviceInfo& info() const override { return m_info; }
    /// rsmi_dev_power_cap_get. Throws Error (the category of the status).
    [[nodiscard]] Watts current_limit() const override;
    /// ROCm SMI has no separate enforced limit: the cap is what the firmware enforces.
    [[nodiscard]] Watts enforced_limit() const override { return current_limit(); }
    /// rsmi_dev_power_cap_range_get. Throws Error.
    [[nodiscard]] CapRange constraints() const override;
    [[nodiscard]] std::optional<Watts> default_limit() const noexcept override;
    /// rsmi_dev_power_cap_set; RSMI_STATUS_PERMISSION -> kNoPermission with a hint,
    /// RSMI_STATUS_INVALID_ARGS / INPUT_OUT_OF_BOUNDS -> kInvalidArgument.
    void set_limit(Watts limit) override;
    /// ROCm SMI takes microwatts and writes hwmon power1_cap, but the amdgpu driver hands the
    /// firmware whole watts (amdgpu_hwmon_set_power_cap, drivers/gpu/drm/amd/pm/amdgpu_pm.c,
    /// divides by 10^6): a read-back may differ by under 1 W.
    [[nodiscard]] Watts tolerance() const override { return Watts(1.0); }

    [[nodiscard]] const rocm::RocmDevice& device() const { return m_device; }

    /// The journal key of a GPU: its unique id, else "pci-" and its PCI bus id; empty if neither.
    [[nodiscard]] static std::string key_of(const rocm::RocmDevice& device);

private:
    rocm::RocmDevice m_device;
    CapDeviceInfo m_info;
};

}  // namespace joulebench::capping
