#pragma once
/// Trapezoid integration of power readings, shared by the sensors that integrate power (hwmon's
/// power channels, the NVML and ROCm SMI GPU sensors' integrated method and cross-check).

#include "joulebench/sensor.hpp"

namespace joulebench {

struct PowerIntegrator {
    bool has_last = false;
    Clock::time_point last_time{};
    double last_power_w = 0.0;
    double energy_j = 0.0;
    /// Adds the trapezoid between the previous reading and this one to `energy_j` (nothing for
    /// the first reading, or when time did not advance).
    void add(Clock::time_point time, double power_w) noexcept;
};

}  // namespace joulebench
