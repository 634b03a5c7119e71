#pragma once
// The capper of any GPU of the machine's one index space (sensors/gpu_inventory.hpp), by the
// backend that lists it: NvmlCapper for NVIDIA GPUs, RocmCapper for AMD GPUs ROCm SMI lists, and
// the hwmon capper (power1_cap) for GPUs seen only through hwmon. `--power-cap`, `caps`, `run`,
// `sweep` and `tune` all open GPU cappers here, so every vendor gets the same journal, guardian
// and range check.

#include <filesystem>
#include <memory>

#include "joulebench/power_capper.hpp"
#include "sensors/gpu_inventory.hpp"

namespace joulebench::capping {

/// Throws Error: kNotSupported for a GPU seen only through hwmon until its capper is built in
/// (open_hwmon_gpu_capper_here), kNotFound when the entry has no handle of its backend.
[[nodiscard]] std::unique_ptr<PowerCapper> open_gpu_capper(const GpuEntry& gpu);

/// THE one place hwmon GPU cappers are opened (amdgpu without ROCm SMI, i915/xe power1_cap).
/// Until capping/hwmon_capper.hpp is merged it throws Error kNotSupported
/// ("hwmon GPU caps: not built yet"); at the merge its body becomes
/// `return open_hwmon_gpu_capper(hwmon_dir);`.
[[nodiscard]] std::unique_ptr<PowerCapper> open_hwmon_gpu_capper_here(
    const std::filesystem::path& hwmon_dir);

}  // namespace joulebench::capping
