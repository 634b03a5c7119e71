#pragma once
// A GPU slot: where one run at a time goes (one per GPU of [gpus], or the single slot without it),
// with its sensors, probed once, and the GPUs its runs' caps apply to.

#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include "runner/dependencies.hpp"
#include "sensors/registry.hpp"

namespace joulebench::runner {

struct Slot {
    std::size_t number = 0;  ///< 0-based, in slot order
    std::optional<int> gpu;  ///< the GPU index; unset without [gpus]
    /// This machine's GPU of the slot (unset without [gpus] and for a remote host's GPU): its
    /// vendor decides the workload's visibility variables and container flags.
    std::optional<GpuDevice> device;
    SensorSet sensors;
    std::vector<GpuDevice> cap_gpus;     ///< the GPUs a run's GPU cap applies to
    std::optional<double> idle_power_w;  ///< rest = "baseline": measured before the first run
    std::optional<double> idle_temp_c;
    std::vector<Warning> pending_warnings;  ///< for the next run (its rest did not reach idle)
};

}  // namespace joulebench::runner
