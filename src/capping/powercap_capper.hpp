#pragma once
// The powercap implementation of PowerCapper for a CPU package: the long-term constraint
// (`constraint_0_power_limit_uw`, RAPL PL1), as StEP caps CPUs. Writing it needs root on a real
// sysfs tree (the files are mode 0644, owned by root).

#include <filesystem>
#include <vector>

#include "joulebench/power_capper.hpp"
#include "sensors/rapl/powercap_sensor.hpp"

namespace joulebench::capping {

/// A package zone with no readable `constraint_0_max_power_uw` accepts limits up to this.
inline constexpr double kPowercapFallbackMaxW = rapl::kMaxPlausibleZonePowerW;
/// RAPL stores limits in power units (1/8 W on most Intel parts, coarser on some): a read-back
/// may differ from the written value by this much.
inline constexpr double kPowercapToleranceW = 1.0;

class PowercapCapper final : public PowerCapper {
public:
    /// `zone` must be a package zone (kind kPackage). Throws Error kNotSupported when its
    /// constraint_0 is missing or is not the long-term constraint.
    explicit PowercapCapper(const rapl::ZoneDescription& zone);

    [[nodiscard]] const CapDeviceInfo& info() const override { return m_info; }
    [[nodiscard]] Watts current_limit() const override;
    [[nodiscard]] Watts enforced_limit() const override { return current_limit(); }
    [[nodiscard]] CapRange constraints() const override;
    [[nodiscard]] std::optional<Watts> default_limit() const noexcept override { return std::nullopt; }
    void set_limit(Watts limit) override;
    [[nodiscard]] Watts tolerance() const override { return Watts(kPowercapToleranceW); }
    /// access(W_OK) on limit_file(). Throws Error kNoPermission with a hint.
    void check_writable() const override;
    /// Power limiting disabled on the zone (`enabled` = 0): the limit would not be enforced.
    [[nodiscard]] std::vector<std::string> warnings() const noexcept override;

    /// The file written: <zone>/constraint_0_power_limit_uw.
    [[nodiscard]] std::filesystem::path limit_file() const;

private:
    std::filesystem::path m_zone;
    CapDeviceInfo m_info;
};

/// The package zones under `root` (discover_zones), as cappers. Zones that cannot be capped add
/// a reason to `skipped`. Never throws for a missing tree (empty result).
std::vector<std::unique_ptr<PowercapCapper>> powercap_package_cappers(
    const std::filesystem::path& root, std::vector<std::string>& skipped);

}  // namespace joulebench::capping
