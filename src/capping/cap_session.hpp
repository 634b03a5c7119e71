#pragma once
// The caps of one run: what was asked (`--power-cap`, `--cpu-power-cap`), the replay of leftover
// journals, and a session that validates every request, starts the guardian, applies the caps in
// order and restores them all.

#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "capping/cap_journal.hpp"
#include "capping/guardian.hpp"
#include "capping/scoped_cap.hpp"
#include "joulebench/measure_result.hpp"
#include "joulebench/power_capper.hpp"
#include "sensors/nvml/nvml_backend.hpp"
#include "sensors/registry.hpp"
#include "sensors/rocm/rocm_library.hpp"

namespace joulebench::capping {

/// What a run asked for.
struct CapRequest {
    std::optional<Watts> all_gpus;                 ///< --power-cap W: every selected GPU
    std::vector<std::pair<int, Watts>> per_gpu;    ///< --power-cap 0=250,1=300
    std::optional<Watts> cpu_packages;             ///< --cpu-power-cap W: every CPU package

    [[nodiscard]] bool empty() const { return !all_gpus && per_gpu.empty() && !cpu_packages; }
    /// Parses `--power-cap`: "W" or "INDEX=W[,INDEX=W...]". Throws Error kInvalidArgument
    /// naming the bad item (exit status 2).
    static void parse_gpu_caps(const std::string& text, CapRequest& into);
};

/// Where the devices are.
struct CapEnvironment {
    nvml::NvmlLibraryOptions nvml;
    rocm::RocmLibraryOptions rocm;
    /// The GPUs measured, by global index (every vendor's GPUs in PCI bus order,
    /// sensors/gpu_inventory.hpp); per-GPU caps must name one of them.
    nvml::GpuSelection gpus;
    std::filesystem::path powercap_root;
    /// Where GPUs seen only through hwmon are found (`$JOULEBENCH_HWMON_ROOT`).
    std::filesystem::path hwmon_root = ProbeOptions::default_hwmon_root();
};

/// Opens the capper of a journalled device (NVML is loaded once, on first need; ROCm SMI at each
/// open of an AMD GPU's entry, with `rocm`'s search order; an amdgpu hwmon entry by finding the
/// hwmon folder under `hwmon_root` whose device has the journalled PCI bus id; an empty root is
/// $JOULEBENCH_HWMON_ROOT, else /sys/class/hwmon).
class CapperFactory {
public:
    explicit CapperFactory(nvml::NvmlLibraryOptions nvml = {}, rocm::RocmLibraryOptions rocm = {},
                           std::filesystem::path hwmon_root = {})
        : m_options(std::move(nvml)), m_rocm_options(std::move(rocm)), m_hwmon_root(std::move(hwmon_root)) {}
    /// Loads NVML now. Throws Error as NvmlSystem::open.
    const nvml::NvmlSystem& nvml_system();
    /// Throws Error kNotFound when the device is gone (GPU UUID or PCI bus id not found, zone
    /// folder missing or named differently), or as loading NVML.
    std::unique_ptr<PowerCapper> open(const JournalEntry& entry);

private:
    nvml::NvmlLibraryOptions m_options;
    rocm::RocmLibraryOptions m_rocm_options;
    std::filesystem::path m_hwmon_root;
    std::optional<nvml::NvmlSystem> m_nvml;
};

/// Which journal entries a restore takes.
struct RestoreFilter {
    enum class Mode {
        kLeftovers,  ///< entries whose writer is no longer running (the replay at start-up)
        kAll,        ///< every entry (`caps restore --force`)
        kOwner,      ///< the entries of one process (the guardian)
    };
    Mode mode = Mode::kLeftovers;
    ProcessIdentity owner;  ///< kOwner: pid and start ticks to match
};

struct RestoreReport {
    std::vector<std::string> restored;  ///< one line per device restored
    std::vector<std::string> skipped;   ///< entries of a running joulebench, left alone
    std::vector<std::string> failed;    ///< errors; those entries are kept
    [[nodiscard]] bool ok() const { return failed.empty(); }
};

/// Restores the entries `filter` selects, under the journal lock: write the original, read it
/// back, then clear the entry. Never throws; every problem is a line in `failed`.
RestoreReport restore_journal(const CapJournal& journal, CapperFactory& factory,
                              const RestoreFilter& filter) noexcept;

/// Every device a request could cap here, with its capper (a GPU's by its vendor: NVML, ROCm SMI,
/// hwmon; capping/gpu_capper.hpp). Throws Error: kInvalidArgument for a
/// per-GPU index that is not measured, kNotFound / kNotSupported when there is nothing to cap.
std::vector<std::pair<std::unique_ptr<PowerCapper>, Watts>> resolve_request(const CapRequest& request,
                                                                            const CapEnvironment& env);

class CapSession {
public:
    /// Checks every request (devices exist, every limit inside its range: Error kInvalidArgument
    /// before anything is written), starts the guardian (when `guardian` is given), then caps each
    /// device in order. Throws Error; caps already set are restored first.
    CapSession(std::vector<std::pair<std::unique_ptr<PowerCapper>, Watts>> targets, const CapJournal& journal,
               const std::optional<GuardianOptions>& guardian);
    CapSession(const CapSession&) = delete;
    CapSession& operator=(const CapSession&) = delete;
    /// restore_all() if it has not run. Never throws.
    ~CapSession();

    /// Warnings to show before the run (persistence mode off, limiting disabled).
    [[nodiscard]] const std::vector<std::string>& warnings() const { return m_warnings; }
    /// Restores every cap in reverse order; tells the guardian "done" when all were restored.
    /// Never throws; false when any restore failed (see outcomes()).
    bool restore_all() noexcept;
    [[nodiscard]] std::vector<CapOutcome> outcomes() const;
    [[nodiscard]] pid_t guardian_pid() const { return m_guardian ? m_guardian->pid() : -1; }

private:
    // Declared before the caps: destroyed after them, so the guardian outlives every restore.
    std::optional<GuardianHandle> m_guardian;
    std::vector<std::unique_ptr<ScopedCap>> m_caps;
    std::vector<std::string> m_warnings;
    bool m_restored = false;
};

/// The caps of a run for its report; a GPU is "throttled" when NVML reported sw_power_cap during
/// the run (its GpuResult::throttle_mask).
std::vector<PowerCapResult> power_cap_results(const std::vector<CapOutcome>& outcomes,
                                              const std::vector<GpuResult>& gpus);

}  // namespace joulebench::capping
