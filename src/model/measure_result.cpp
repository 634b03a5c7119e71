#include "joulebench/measure_result.hpp"

#include <fmt/format.h>

#include <utility>

namespace joulebench {

std::vector<std::string> throttle_reason_names(std::uint64_t mask) {
    // nvmlClocksEventReasons (formerly nvmlClocksThrottleReasons) bit values from nvml.h.
    static constexpr std::pair<std::uint64_t, const char*> kNames[] = {
        {0x1, "gpu_idle"},
        {0x2, "applications_clocks_setting"},
        {0x4, "sw_power_cap"},
        {0x8, "hw_slowdown"},
        {0x10, "sync_boost"},
        {0x20, "sw_thermal_slowdown"},
        {0x40, "hw_thermal_slowdown"},
        {0x80, "hw_power_brake_slowdown"},
        {0x100, "display_clock_setting"},
    };
    std::vector<std::string> out;
    std::uint64_t known = 0;
    for (const auto& [bit, name] : kNames) {
        known |= bit;
        if ((mask & bit) != 0) out.emplace_back(name);
    }
    if ((mask & ~known) != 0) out.push_back(fmt::format("other(0x{:x})", mask & ~known));
    return out;
}

}  // namespace joulebench
