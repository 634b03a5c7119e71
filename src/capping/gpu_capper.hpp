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

/// The capper of a GPU by the backend that lists it: NVML, ROCm SMI, or hwmon's `power1_cap`
/// (amdgpu without ROCm SMI: capping/hwmon_capper.hpp), labelled with its index across vendors.
/// Throws Error: as that capper's open (kNotSupported for a hwmon GPU whose driver has no cap),
/// kNotFound when the entry has no handle of its backend.
[[nodiscard]] std::unique_ptr<PowerCapper> open_gpu_capper(const GpuEntry& gpu);

}  // namespace joulebench::capping
