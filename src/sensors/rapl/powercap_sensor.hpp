#pragma once
// CPU and DRAM energy through the Linux powercap tree (intel-rapl zones; AMD CPUs appear there too).
//
// Semantics (documented in the README): every `package-N` zone and every `dram` subzone add into the
// CPU total; `core` (PP0) and `uncore` (PP1) are inside their package and are shown, never added;
// `psys` covers the whole platform and is shown, never added. `intel-rapl-mmio` zones repeat the
// package zone through another interface and are skipped so nothing is counted twice.

#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "joulebench/sensor.hpp"

namespace joulebench::rapl {

/// Counter unwrapping for a monotonically increasing counter that restarts from zero after
/// `range_uj`: the delta between two raw readings in microjoules. Exposed for tests.
struct Unwrapper {
    std::uint64_t range_uj = 0;
    std::optional<std::uint64_t> last_uj;
    std::uint64_t wraps = 0;
    /// Adds a raw reading; returns the energy since the previous reading (0 for the first).
    std::uint64_t add(std::uint64_t raw_uj);
};

/// One powercap zone as found on disk.
struct ZoneDescription {
    std::filesystem::path path;   ///< the zone folder
    std::string zone;             ///< "intel-rapl:0:1"
    std::string name;             ///< contents of `name`: "package-0", "core", "dram", "psys", ...
    DomainKind kind = DomainKind::kPackage;
    int package_index = -1;
    std::uint64_t max_energy_range_uj = 0;
};

/// The power assumed when computing how often a zone must be read so that no wrap can be missed:
/// no CPU package or DRAM domain draws more than this (the largest server parts are near 500 W).
inline constexpr double kMaxPlausibleZonePowerW = 1000.0;

class PowercapSensor final : public Sensor {
public:
    /// Opens `energy_uj` of the zone. Throws Error (kNoPermission with the CVE-2020-8694 hint, kIo).
    explicit PowercapSensor(ZoneDescription zone);
    ~PowercapSensor() override;

    [[nodiscard]] const SensorInfo& info() const override { return m_info; }
    std::optional<EnergySample> sample() noexcept override;
    [[nodiscard]] SensorHealth health() const override;
    [[nodiscard]] std::chrono::nanoseconds max_poll_interval() const override;

private:
    std::optional<std::uint64_t> read_raw() noexcept;

    SensorInfo m_info;
    int m_fd = -1;
    Unwrapper m_unwrap;
    std::uint64_t m_total_uj = 0;
    std::uint64_t m_failed_reads = 0;
};

/// Reads the constraints (`constraint_N_*`) of a zone as power limits.
std::vector<PowerLimitInfo> read_constraints(const std::filesystem::path& zone_path);

/// Lists the zones under `root` (e.g. /sys/class/powercap), with reasons for those skipped.
std::vector<ZoneDescription> discover_zones(const std::filesystem::path& root,
                                            std::vector<std::string>& skipped);

/// Probes the powercap backend. Never throws: problems become skip reasons.
BackendProbe probe_powercap(const std::filesystem::path& root) noexcept;

/// The hint shown when energy_uj is readable by root only.
std::string permission_hint(const std::filesystem::path& root);

}  // namespace joulebench::rapl
