#pragma once
// The hwmon implementation of PowerCapper for an AMD GPU: amdgpu's `power1_cap` attribute in its
// hwmon folder, without ROCm SMI. Kernel documentation, "hwmon Interfaces" of amdgpu
// (Documentation/gpu/amdgpu/thermal.rst, https://docs.kernel.org/gpu/amdgpu/thermal.html):
// power1_cap is the selected power cap in microwatts (read-write), power1_cap_min and
// power1_cap_max the range it accepts, power1_cap_default the board's default (newer kernels).
// The driver hands the firmware whole watts (amdgpu_hwmon_set_power_cap divides by 10^6), so a
// read-back may differ by under 1 W. Writing needs root (the file is 0644, owned by root).
//
// The device is journalled by its PCI bus id (the target of the hwmon folder's `device` link),
// never by hwmonN, which the kernel numbers in probe order and can change across boots.

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "joulebench/power_capper.hpp"

namespace joulebench::capping {

/// The amdgpu driver rounds a written cap down to whole watts.
inline constexpr double kHwmonCapToleranceW = 1.0;

class HwmonCapper final : public PowerCapper {
public:
    /// Writes `text` to `file`; returns 0 or an errno, setting `step` ("open", "write", "close").
    /// The default is sysfs::write_text; tests inject one that behaves like a driver that does
    /// not keep the value.
    using WriteFn = int (*)(const std::filesystem::path& file, std::string_view text, const char** step) noexcept;

    /// `hwmon_dir` is an amdgpu hwmon folder (/sys/class/hwmon/hwmon3). Throws Error kNotFound
    /// when the folder does not exist, kNotSupported when it is not amdgpu's, has no power1_cap
    /// (APUs, old kernels) or no PCI `device` link (no stable identity for the journal).
    explicit HwmonCapper(std::filesystem::path hwmon_dir, WriteFn write = nullptr);

    [[nodiscard]] const CapDeviceInfo& info() const override { return m_info; }
    /// power1_cap. Throws Error kIo / kNoPermission naming the file.
    [[nodiscard]] Watts current_limit() const override;
    /// amdgpu has no separate enforced limit: power1_cap is what the firmware holds.
    [[nodiscard]] Watts enforced_limit() const override { return current_limit(); }
    /// power1_cap_min .. power1_cap_max. Throws Error kNotSupported when either is unreadable.
    [[nodiscard]] CapRange constraints() const override;
    /// power1_cap_default, when the kernel has it.
    [[nodiscard]] std::optional<Watts> default_limit() const noexcept override;
    /// Writes power1_cap (microwatts) and reads it back. Throws Error: kNoPermission with a hint
    /// when the file is not writable, kInvalidArgument when the driver refuses the value (EINVAL),
    /// kIo when the value read back differs from the one written by more than tolerance().
    void set_limit(Watts limit) override;
    [[nodiscard]] Watts tolerance() const override { return Watts(kHwmonCapToleranceW); }
    /// access(W_OK) on power1_cap. Throws Error kNoPermission with a hint.
    void check_writable() const override;

    [[nodiscard]] const std::filesystem::path& dir() const { return m_dir; }
    [[nodiscard]] std::filesystem::path cap_file() const { return m_dir / "power1_cap"; }

private:
    std::filesystem::path m_dir;
    WriteFn m_write;
    CapDeviceInfo m_info;
};

/// The PCI bus id ("0000:03:00.0") the hwmon folder's `device` link points at; empty when the
/// link is missing or names no PCI device.
std::string hwmon_pci_bus_id(const std::filesystem::path& hwmon_dir);

/// The hwmon folder under `root` (/sys/class/hwmon) whose device has PCI bus id `pci_bus_id`
/// (either spelling, see pci_identity). Throws Error kNotFound naming the bus id and the root.
std::filesystem::path find_hwmon_dir_by_pci(const std::filesystem::path& root, std::string_view pci_bus_id);

/// Every amdgpu hwmon folder under `root` with a power1_cap, as cappers, in PCI bus order.
/// amdgpu folders that cannot be capped add a reason to `skipped`. A missing root: empty.
std::vector<std::unique_ptr<HwmonCapper>> hwmon_gpu_cappers(const std::filesystem::path& root,
                                                            std::vector<std::string>& skipped);

/// The capper of one amdgpu hwmon folder (the factory the run and measure commands use). Throws
/// Error kNotFound / kNotSupported with the reason, as HwmonCapper's constructor.
std::unique_ptr<PowerCapper> open_hwmon_gpu_capper(const std::filesystem::path& hwmon_dir);

}  // namespace joulebench::capping
