#pragma once
// What a workload on one GPU slot is told, by vendor (docs/rocm.md, "GPU slots"): the runtimes'
// visibility variables for a bare run, and the engine flags and in-container variables of a
// container. The runner calls these with the slot's GpuIdentity and knows no vendor itself.
//
//   NVIDIA GPU: CUDA_VISIBLE_DEVICES=<its index among NVIDIA GPUs> (CUDA_DEVICE_ORDER=PCI_BUS_ID),
//     and on a machine with AMD GPUs too HIP_VISIBLE_DEVICES=-1 (an invalid index ends HIP's list,
//     as CUDA's, so HIP sees no GPU).
//   AMD GPU: ROCR_VISIBLE_DEVICES=<its index among AMD GPUs>, HIP_VISIBLE_DEVICES=0 (ROCr applies
//     its list first and HIP numbers what is left, so the slot's GPU is HIP's device 0), and on a
//     machine with NVIDIA GPUs too CUDA_VISIBLE_DEVICES=-1 (CUDA: devices after an invalid index
//     are hidden; HIP reads CUDA_VISIBLE_DEVICES only when HIP_VISIBLE_DEVICES is unset).
//   A GPU seen only through hwmon that is not AMD (Intel i915/xe): both CUDA_VISIBLE_DEVICES and
//     HIP_VISIBLE_DEVICES=-1 where those vendors' GPUs exist; nothing selects it for oneAPI.

#include <filesystem>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "joulebench/experiment.hpp"
#include "sensors/gpu_inventory.hpp"

namespace joulebench::environments {

using EnvPairs = std::vector<std::pair<std::string, std::string>>;

/// The variables of a bare run on GPU `gpu` (see above). Without a known device (`device` unset:
/// a remote host's GPU `gpu`), CUDA_VISIBLE_DEVICES=<gpu> as before vendors were told apart.
[[nodiscard]] EnvPairs gpu_visibility_env(std::optional<int> gpu,
                                          const std::optional<GpuIdentity>& device);

/// The variables inside a container or guest that sees only `device`, as its device 0.
[[nodiscard]] EnvPairs gpu_env_as_only_device(const GpuIdentity& device);

/// Replaces the visibility variables of `env` (CUDA_, HIP_, ROCR_VISIBLE_DEVICES) with those of a
/// container or guest that sees only the slot's GPU as its device 0: gpu_env_as_only_device, or
/// CUDA_VISIBLE_DEVICES=0 where the device is not known. Other entries keep their place.
void set_only_device_env(EnvPairs& env, const std::optional<GpuIdentity>& device);

/// `$JOULEBENCH_PCI_ROOT`, default /sys/bus/pci/devices.
[[nodiscard]] std::filesystem::path default_pci_root();

/// The render node of a PCI GPU: "/dev/dri/renderD128" from <pci_root>/<bdf>/drm/renderD128.
/// Throws Error kNotFound naming the folder looked in.
[[nodiscard]] std::string render_node_of(const std::string& pci_bus_id,
                                         const std::filesystem::path& pci_root);

/// The engine flags that give a container `device`:
///   NVIDIA: docker --gpus device=<NVIDIA index>; podman --device nvidia.com/gpu=<NVIDIA index>
///   AMD: docker --device /dev/kfd --device /dev/dri/renderD<N> --group-add video (N from the
///     GPU's PCI bus id under `pci_root`); podman --device amd.com/gpu=<AMD index> (the AMD
///     Container Toolkit's CDI name).
/// Throws Error kNotSupported for a GPU of another vendor, kNotFound without a render node.
[[nodiscard]] std::vector<std::string> container_gpu_flags(EnvironmentType engine,
                                                           const GpuIdentity& device,
                                                           const std::filesystem::path& pci_root);

}  // namespace joulebench::environments
