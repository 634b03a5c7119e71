#pragma once
/// The one interface every energy source implements (NVML GPUs, powercap/RAPL zones, the CPU-time
/// estimate). A Sensor hands out timestamped cumulative energy since it was opened, already
/// corrected for counter wraparound; power is derived from two readings (as GEOPM's monotone
/// signals). Sensors never throw from sample(): a failed read is counted in health() and the
/// sampler records a gap.

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "joulebench/domain.hpp"
#include "joulebench/units.hpp"

namespace joulebench {

class Sensor {
public:
    Sensor() = default;
    Sensor(const Sensor&) = delete;
    Sensor& operator=(const Sensor&) = delete;
    virtual ~Sensor();

    [[nodiscard]] virtual const SensorInfo& info() const = 0;

    /// Reads cumulative energy since this sensor was created (the first call may return zero),
    /// corrected for wraparound. Never throws: nullopt on a failed read (counted in health()).
    virtual std::optional<EnergySample> sample() noexcept = 0;

    [[nodiscard]] virtual SensorHealth health() const = 0;

    /// The longest interval between two sample() calls for which no wraparound can be missed
    /// (integrating sensors also need regular reads). Zero: no requirement.
    [[nodiscard]] virtual std::chrono::nanoseconds max_poll_interval() const {
        return std::chrono::nanoseconds{0};
    }

    /// GPU sensors: the current telemetry. Others: nullopt. Never throws.
    virtual std::optional<GpuTelemetry> telemetry() noexcept { return std::nullopt; }

    /// Where a second, independent estimate exists (a GPU with both an energy counter and power
    /// readings), that estimate's cumulative energy since open, updated by sample().
    [[nodiscard]] virtual std::optional<Joules> cross_check_energy() const { return std::nullopt; }
};

/// What one backend found while probing, and why it skipped what it skipped.
struct BackendProbe {
    std::string backend;                          ///< "nvml", "powercap", "estimate"
    std::vector<std::unique_ptr<Sensor>> sensors;
    std::vector<std::string> skipped;             ///< reasons, one per skipped thing
    std::vector<std::string> notes;               ///< facts (library path, driver version)
};

}  // namespace joulebench
