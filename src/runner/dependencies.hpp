#pragma once
// What the runner needs from the machine, as interfaces: where workloads run (environments), the
// GPUs and the devices caps are written to, the sensors of a GPU slot, the cap journal, the guard
// that restores caps when the runner dies, and where progress goes. production_dependencies()
// gives the machine's own; tests give fakes (tests/unit/runner_test.cpp), so the runner's
// preflight, scheduling and execution are tested without a GPU, a sensor or a signal.

#include <atomic>
#include <cstdio>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "capping/cap_journal.hpp"
#include "capping/cap_session.hpp"
#include "common/slurm_job.hpp"
#include "environments/environment.hpp"
#include "joulebench/experiment.hpp"
#include "joulebench/power_capper.hpp"
#include "sensors/gpu_inventory.hpp"
#include "sensors/registry.hpp"

namespace joulebench::runner {

/// A GPU of this machine the runner can give a slot and cap: its global index (every vendor's
/// GPUs in PCI bus order, as `[gpus] devices`), vendor and vendor index (sensors/gpu_inventory.hpp).
using GpuDevice = GpuIdentity;

/// Makes the environment of an [[environment]].
class EnvironmentFactory {
public:
    virtual ~EnvironmentFactory() = default;
    /// Throws Error for a spec it cannot serve.
    [[nodiscard]] virtual std::unique_ptr<environments::Environment> make(
        const EnvironmentSpec& spec) = 0;
};

/// The machine's GPUs, and every device a run's cap is written to.
class CapperRegistry {
public:
    virtual ~CapperRegistry() = default;
    /// The GPUs in PCI bus order: every one (`indices` unset; inside a Slurm job, every one it
    /// holds), or those listed in the order given.
    /// Throws Error when they cannot be listed (no NVML, an index that is not a GPU here).
    [[nodiscard]] virtual std::vector<GpuDevice> gpus(
        const std::optional<std::vector<int>>& indices) = 0;
    /// The GPU driver's version, "" when unknown or no GPU was listed.
    [[nodiscard]] virtual std::string gpu_driver() = 0;
    /// Inside a Slurm job: which GPUs it holds, as "Slurm job 12 holds GPU 1 (...)", for
    /// messages; empty outside Slurm.
    [[nodiscard]] virtual std::string gpu_scope() { return {}; }
    /// The capper of a GPU that gpus() listed. Throws Error.
    [[nodiscard]] virtual std::unique_ptr<PowerCapper> gpu_capper(const GpuDevice& gpu) = 0;
    /// The cappers of every CPU package; why others were left out goes into `skipped`.
    [[nodiscard]] virtual std::vector<std::unique_ptr<PowerCapper>> cpu_cappers(
        std::vector<std::string>& skipped) = 0;
    /// Where CPU packages are looked for, for messages ("/sys/class/powercap").
    [[nodiscard]] virtual std::string cpu_cap_source() const = 0;
    /// Restores the entries of runs that died (the replay before any cap is written). Never
    /// throws: problems are lines of the report.
    virtual capping::RestoreReport restore_leftovers(const capping::CapJournal& journal) noexcept = 0;
};

/// The sensors of one GPU slot.
class SensorFactory {
public:
    virtual ~SensorFactory() = default;
    /// Those of GPU `gpu` (every GPU when unset) and the machine's CPU domains (or the CPU-time
    /// estimate). A GPU that is not there is the set's selection_error. Never throws.
    [[nodiscard]] virtual SensorSet probe(std::optional<int> gpu) = 0;
};

/// Restores the caps when the runner dies without doing so (production: the guardian process,
/// capping/guardian.hpp). Destroying it without done() leaves the restore to it.
class CapGuard {
public:
    virtual ~CapGuard() = default;
    /// Every cap was restored: nothing is left to do.
    virtual void done() noexcept = 0;
};

struct RunnerDependencies {
    std::shared_ptr<EnvironmentFactory> environments;
    std::shared_ptr<CapperRegistry> cappers;
    std::shared_ptr<SensorFactory> sensors;
    /// Opens the cap journal; called only when the experiment writes caps here. Throws Error
    /// naming the folder.
    std::function<capping::CapJournal()> journal;
    /// Starts the guard before the first cap is written (`gpu_caps`: GPU caps will be); empty:
    /// no guard. Throws Error when it cannot start (then no cap is written).
    std::function<std::unique_ptr<CapGuard>(bool gpu_caps)> guard;
    /// Set (by a signal handler in production) when the runner must stop: runs end at once and
    /// are recorded interrupted. Never null.
    std::atomic<bool>* stop = nullptr;
    /// The signal that set `stop`, if any (for the summary). May be empty.
    std::function<std::optional<int>()> stop_signal;
    /// Called once the caps are secured and just before the session starts, from when on a stop
    /// must end the runs cleanly rather than the process (production: install_stop_handlers()).
    /// May be empty.
    std::function<void()> arm_stop;
    /// Where progress and messages go, and whether it is a terminal (one line rewritten in place).
    std::FILE* progress = stderr;
    bool terminal = false;
    /// The Slurm job the runs are in (production: current_slurm_job()); none outside Slurm.
    std::optional<SlurmJob> slurm_job;
};

/// The machine's own: environments::make_environment, every vendor's GPUs (GpuMachine) and powercap (root
/// ProbeOptions::default_powercap_root()), probe_all, the journal in the state folder, the
/// guardian process, the flag of the stop handlers (install_stop_handlers()), and stderr.
[[nodiscard]] RunnerDependencies production_dependencies();

}  // namespace joulebench::runner
