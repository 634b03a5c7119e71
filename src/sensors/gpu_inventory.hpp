#pragma once
/// One GPU index space across vendors (docs/sensors.md, "GPU indices"): GPU 0..N-1 are every GPU
/// of the machine, NVIDIA ones through NVML, AMD ones through ROCm SMI, and those seen only
/// through hwmon (amdgpu without ROCm SMI, Intel i915/xe), each once (a GPU two backends see is
/// kept from the first, as the registry's duplicate rule), sorted by PCI bus id. `--gpus`,
/// `[gpus] devices` and `--power-cap INDEX=W` name these indices. A GPU's domain id keeps its
/// backend's own numbering (gpu0 for NVML's first, amdgpu0 for ROCm SMI's first, hwmon-gpu0), so
/// the stores of earlier versions mean the same; `sensors` shows both.

#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "sensors/hwmon/hwmon_sensor.hpp"
#include "sensors/nvml/nvml_backend.hpp"
#include "sensors/rocm/rocm_device.hpp"

namespace joulebench {

enum class GpuVendor { kNvidia, kAmd, kIntel, kUnknown };

/// "nvidia", "amd", "intel", "unknown".
[[nodiscard]] std::string_view to_string(GpuVendor vendor);

/// A GPU of the machine as the runner, the caps and the environments see it. The first four
/// fields are those of an NVIDIA-only machine; the rest default to an NVIDIA GPU whose vendor
/// index is its index.
struct GpuIdentity {
    int index = -1;  ///< global: position among all GPUs of the machine, in PCI bus order
    std::string name;
    std::string uuid;  ///< NVML UUID, ROCm SMI unique id, or empty
    std::string pci_bus_id;
    GpuVendor vendor = GpuVendor::kNvidia;
    /// Position among this vendor's GPUs, PCI bus order: what CUDA_VISIBLE_DEVICES (with
    /// CUDA_DEVICE_ORDER=PCI_BUS_ID) or HIP/ROCR_VISIBLE_DEVICES name. -1: same as `index`.
    int vendor_index = -1;
    std::string backend = "nvml";  ///< "nvml", "rocm", "hwmon"
    int backend_index = -1;        ///< the backend's own index (NVML's, ROCm SMI's, k-th hwmon GPU)
    std::string domain_id;         ///< the sensor's id: "gpu0", "amdgpu0", "hwmon-gpu0"
    std::filesystem::path hwmon_dir;  ///< hwmon only: the hwmon folder (its power1_cap)
    /// The machine has GPUs of another vendor too (a run on this GPU hides them, docs/rocm.md).
    bool mixed = false;

    [[nodiscard]] int local_index() const { return vendor_index >= 0 ? vendor_index : index; }
};

/// The GPUs of the machine with the handles their backends opened.
struct GpuEntry {
    GpuIdentity id;
    std::optional<nvml::NvmlDevice> nvml;
    std::optional<rocm::RocmDevice> rocm;
};

/// Builds the one index space from what each backend lists (pure apart from the handles; unit
/// tested): NVML's, then ROCm SMI's, then hwmon's GPU channels, a PCI device listed twice kept
/// from the first, sorted by PCI bus id (a GPU without one after those with one, in that order).
[[nodiscard]] std::vector<GpuEntry> build_gpu_index(const std::vector<nvml::NvmlDevice>& nvml,
                                                    const std::vector<rocm::RocmDevice>& rocm,
                                                    const std::vector<hwmon::ChannelDescription>& hwmon);

struct GpuMachineOptions {
    nvml::NvmlLibraryOptions nvml;
    rocm::RocmLibraryOptions rocm;
    std::filesystem::path hwmon_root;
};

/// Every GPU backend of the machine, opened once. Never throws when a backend is missing: its
/// reason is kept for the probe's skip list.
class GpuMachine {
public:
    [[nodiscard]] static GpuMachine open(const GpuMachineOptions& options) noexcept;
    /// From backends already open (tests, a caller holding them); `nvml` may be empty.
    GpuMachine(std::optional<nvml::NvmlSystem> nvml, std::shared_ptr<const rocm::RocmLibrary> rocm,
               std::vector<hwmon::ChannelDescription> hwmon);
    GpuMachine() = default;

    [[nodiscard]] const std::vector<GpuEntry>& gpus() const { return m_gpus; }
    [[nodiscard]] const std::optional<nvml::NvmlSystem>& nvml() const { return m_nvml; }
    [[nodiscard]] const std::shared_ptr<const rocm::RocmLibrary>& rocm() const { return m_rocm; }
    /// Why NVML / ROCm SMI could not be opened ("" when they were), as their probes say it.
    [[nodiscard]] const std::string& nvml_failure() const { return m_nvml_failure; }
    [[nodiscard]] const std::string& rocm_failure() const { return m_rocm_failure; }
    [[nodiscard]] const std::optional<Error>& nvml_error() const { return m_nvml_error; }

    /// Whether GPU `entry` may be used: inside a Slurm job, an NVIDIA GPU only when the job holds
    /// it (nvml_allocation.cpp); every other GPU always.
    [[nodiscard]] bool holds(const GpuEntry& entry) const;
    /// The GPUs `selection` names (global indices), in the order given, duplicates removed;
    /// `all`: every GPU held. Throws Error kInvalidArgument naming the valid indices for an index
    /// that is no GPU here, and naming the job's GPUs for an NVIDIA GPU a Slurm job does not hold.
    [[nodiscard]] std::vector<GpuEntry> select(const nvml::GpuSelection& selection) const;
    /// The entry whose sensor is `domain_id` of `backend`, or null.
    [[nodiscard]] const GpuEntry* find_domain(std::string_view backend, std::string_view domain_id) const;

private:
    std::optional<nvml::NvmlSystem> m_nvml;
    std::shared_ptr<const rocm::RocmLibrary> m_rocm;
    std::vector<GpuEntry> m_gpus;
    std::string m_nvml_failure;
    std::string m_rocm_failure;
    std::optional<Error> m_nvml_error;
};

}  // namespace joulebench
