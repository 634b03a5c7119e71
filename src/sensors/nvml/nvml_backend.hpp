#pragma once
/// The NVML backend: find the library, enumerate GPUs in PCI bus order, select them, make sensors.
///
/// joulebench index N is the Nth GPU in PCI bus id order (domain:bus:device.function), which is
/// nvidia-smi's order and CUDA's order under CUDA_DEVICE_ORDER=PCI_BUS_ID. NVML's own enumeration
/// index is kept as NvmlDevice::nvml_index().

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/slurm_job.hpp"
#include "joulebench/error.hpp"
#include "joulebench/sensor.hpp"
#include "sensors/nvml/nvml_device.hpp"
#include "sensors/nvml/nvml_library.hpp"

namespace joulebench::nvml {

/// Which GPUs to use: `--gpus all|none|0,2`.
struct GpuSelection {
    enum class Mode { kAll, kNone, kList };
    Mode mode = Mode::kAll;
    std::vector<int> indices;  ///< kList: joulebench indices (PCI bus order)

    static GpuSelection all() { return {}; }
    static GpuSelection none() { return {Mode::kNone, {}}; }
    static GpuSelection list(std::vector<int> indices) { return {Mode::kList, std::move(indices)}; }
    /// Parses "all", "none" or a comma-separated list of indices ("0,2"). Throws Error
    /// kInvalidArgument naming the bad item.
    static GpuSelection parse(const std::string& text);
};

struct NvmlProbeOptions {
    NvmlLibraryOptions library;  ///< library path override and search order
    GpuSelection gpus;
};

/// The GPUs a Slurm job holds among those NVML lists (docs/slurm.md, "Inside an allocation").
struct GpuAllocation {
    std::string job;        ///< "Slurm job 1234"
    std::vector<int> held;  ///< joulebench indices of the GPUs the job holds, ascending
    std::string how;        ///< how they were matched ("SLURM_JOB_GPUS=1, by device minor number")
    /// "GPU 1 (SLURM_JOB_GPUS=1, by device minor number)": for messages.
    [[nodiscard]] std::string describe() const;
};

/// Matches a job's GPUs to `devices` (joulebench order): by the minor numbers of
/// SLURM_STEP_GPUS / SLURM_JOB_GPUS, else by the UUIDs of CUDA_VISIBLE_DEVICES, else (numeric
/// CUDA_VISIBLE_DEVICES) only when NVML lists exactly that many GPUs, the job's cgroup hiding the
/// others; never by index alone. A job whose GPUs cannot be matched holds none, and `how` says
/// why. JOULEBENCH_SLURM_GPUS=ignore in the job's environment turns this off (none returned).
[[nodiscard]] std::optional<GpuAllocation> match_allocation(const std::vector<NvmlDevice>& devices,
                                                            const SlurmJob& job);

/// The GPUs NVML reports, in PCI bus order, sharing one loaded library.
class NvmlSystem {
public:
    /// Loads NVML (see NvmlLibrary::load) and enumerates. Throws Error as NvmlLibrary::load, and
    /// the NVML category when a required per-device call fails.
    static NvmlSystem open(const NvmlLibraryOptions& options = {});
    /// Enumerates the GPUs of an already initialised library (e.g. one from a hand-built table).
    /// Inside a Slurm job (`job`), selection `all` means the GPUs the job holds, and a GPU it
    /// does not hold cannot be selected (match_allocation).
    explicit NvmlSystem(std::shared_ptr<const NvmlLibrary> library,
                        const std::optional<SlurmJob>& job = current_slurm_job());

    [[nodiscard]] const std::shared_ptr<const NvmlLibrary>& library() const { return m_library; }
    /// nvmlSystemGetDriverVersion, or empty when unavailable.
    [[nodiscard]] const std::string& driver_version() const { return m_driver_version; }
    /// All GPUs, index i at position i (PCI bus order).
    [[nodiscard]] const std::vector<NvmlDevice>& devices() const { return m_devices; }
    /// Facts for `sensors -v` (library path, driver version, missing optional symbols).
    [[nodiscard]] const std::vector<std::string>& notes() const { return m_notes; }
    /// Inside a Slurm job: the GPUs it holds; unset outside Slurm.
    [[nodiscard]] const std::optional<GpuAllocation>& allocation() const { return m_allocation; }
    /// Whether GPU `index` may be used: always outside Slurm, else when the job holds it.
    [[nodiscard]] bool holds(int index) const;
    /// Throws Error kInvalidArgument naming the job and what it holds unless holds(index);
    /// `what` says what was asked ("select GPU 1", "cap GPU 1").
    void check_held(int index, std::string_view what) const;

    /// The devices `selection` names, in the order given (duplicates removed); `all` means the
    /// GPUs a Slurm job holds. Throws Error kInvalidArgument naming the valid indices when an
    /// index is out of range, and naming the job's GPUs when the job does not hold it.
    [[nodiscard]] std::vector<NvmlDevice> select(const GpuSelection& selection) const;

private:
    std::shared_ptr<const NvmlLibrary> m_library;
    std::string m_driver_version;
    std::vector<NvmlDevice> m_devices;
    std::vector<std::string> m_notes;
    std::optional<GpuAllocation> m_allocation;
};

/// Probes the NVML backend; never throws. Sensors for the selected GPUs, skip reasons
/// ("nvml: library not found: tried ...", "nvml: nvmlInit_v2 failed: Driver Not Loaded",
/// "nvml: no GPUs") and notes (library, driver version). An invalid selection yields no sensors,
/// its message as a skip reason, and the Error in `selection_error` when that is given, so a
/// caller can fail with exit status 2.
BackendProbe probe_nvml(const NvmlProbeOptions& options,
                        std::optional<Error>* selection_error = nullptr) noexcept;

/// Sensors for the selected GPUs of an open system; never throws (see probe_nvml).
BackendProbe probe_nvml(const NvmlSystem& system, const GpuSelection& selection,
                        std::optional<Error>* selection_error = nullptr) noexcept;

/// For `joulebench sensors`: the driver version and every GPU (index, name, UUID, PCI bus id).
struct NvmlDeviceSummary {
    int index = 0;
    unsigned nvml_index = 0;
    std::string name;
    std::string uuid;
    std::string pci_bus_id;
};
struct NvmlInventory {
    std::string library;
    std::string driver_version;
    std::vector<NvmlDeviceSummary> devices;
};
/// Throws Error as NvmlSystem::open.
[[nodiscard]] NvmlInventory nvml_inventory(const NvmlLibraryOptions& options = {});

/// Parses "00000000:3B:00.0" (or "0000:3b:00.0") into a sort key; nullopt when malformed.
struct PciAddress {
    unsigned domain = 0;
    unsigned bus = 0;
    unsigned device = 0;
    unsigned function = 0;
    auto operator<=>(const PciAddress&) const = default;
};
[[nodiscard]] std::optional<PciAddress> parse_pci_bus_id(const std::string& text);

}  // namespace joulebench::nvml
