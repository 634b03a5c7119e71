#pragma once
// The runner's first stage: everything that can be checked before the first run is checked here,
// so that a mistake costs seconds, not the first hours of an experiment [hyperfine]. Nothing is
// written: no store, no cap, no log folder (environments are made, not prepared).

#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "capping/cap_journal.hpp"
#include "environments/environment.hpp"
#include "joulebench/experiment.hpp"
#include "runner/dependencies.hpp"
#include "runner/runner.hpp"

namespace joulebench::runner {

struct Preflight {
    Plan plan;
    /// One per [[environment]], by name (made, not yet prepared).
    std::map<std::string, std::unique_ptr<environments::Environment>> environments;
    std::map<std::string, const WorkloadSpec*> workloads;  ///< into the spec, by name
    /// Every environment measures its runs itself (ssh): no local GPU, sensor or cap is used.
    bool all_remote = false;
    std::vector<double> gpu_caps;  ///< distinct, ascending
    std::vector<double> cpu_caps;
    /// The GPU index of each slot (one slot, unset, without [gpus]).
    std::vector<std::optional<int>> slots;
    /// This machine's GPUs of the slots, which a run's GPU cap applies to (every GPU the runner
    /// found when caps are set without [gpus]); empty when no local GPU is used.
    std::vector<GpuDevice> slot_gpus;
    /// Every GPU of this machine and the driver, when they were listed (for the session record).
    std::vector<GpuDevice> host_gpus;
    std::string gpu_driver;
    /// Caps will be written on this machine (then `journal` is open).
    bool capping = false;
    std::optional<capping::CapJournal> journal;
    std::filesystem::path logs_dir;
};

/// Checks, in order: every workload in every environment (commands, images, hosts) and the
/// warm-up command; the GPUs of [gpus] and every GPU cap against every GPU's range; every CPU cap
/// against every package's range; the cap journal's folder; the store's folder (writable, 64 MiB
/// free). Throws Error naming the experiment file and line of the value at fault.
[[nodiscard]] Preflight preflight(const ExperimentSpec& spec, const RunnerOptions& options,
                                  RunnerDependencies& dependencies);

}  // namespace joulebench::runner
