#pragma once
// The runner's third stage: one run on one GPU slot, in order: rest (not before the slot's first
// run), caps (journalled, verified), the workload in its environment (phases apart, under a
// sampler writing the store's trace), restore of the caps, and the record in the store. A run
// that fails, times out or cannot start is recorded and the experiment goes on; only a store that
// cannot record it is an exception (the runner then stops).

#include <atomic>
#include <cstddef>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "capping/cap_journal.hpp"
#include "capping/scoped_cap.hpp"
#include "environments/environment.hpp"
#include "joulebench/experiment.hpp"
#include "joulebench/store.hpp"
#include "runner/attribution.hpp"
#include "runner/dependencies.hpp"
#include "runner/progress.hpp"
#include "runner/runner.hpp"
#include "runner/slot.hpp"

namespace joulebench::runner {

/// What every run of a session shares.
struct ExecutionContext {
    const ExperimentSpec& spec;
    const RunnerOptions& options;
    Store& store;
    std::int64_t session_id = 0;
    const std::map<std::string, std::unique_ptr<environments::Environment>>& environments;
    const std::map<std::string, const WorkloadSpec*>& workloads;
    CapperRegistry& cappers;
    const capping::CapJournal* journal = nullptr;  ///< set when caps are written here
    const std::atomic<bool>& stop;
    Progress& progress;
    std::filesystem::path logs_dir;
};

class RunExecutor {
public:
    explicit RunExecutor(ExecutionContext context) : m_ctx(std::move(context)) {}

    /// Rest, caps, run, restore, record. Thread-safe across slots (one call per slot at a time).
    /// Throws Error only when the store cannot record the run.
    void execute(Slot& slot, const RunSpec& run, bool first_on_slot);

    /// False once a cap could not be restored: no further run should start.
    [[nodiscard]] bool caps_ok() const;
    /// Runs recorded by this executor.
    [[nodiscard]] std::size_t executed() const;

private:
    using Caps = std::vector<std::unique_ptr<capping::ScopedCap>>;
    struct InstanceRun;  // how run_instance went (execution.cpp)

    Caps apply_caps(const Slot& slot, const RunSpec& run, bool remote, std::string& error);
    [[nodiscard]] environments::WorkloadInstance instance(const Slot& slot, const RunSpec& run,
                                                          const WorkloadSpec& workload,
                                                          bool remote) const;
    /// The workload in its environment: its phases, then the run under a sampler writing the
    /// store's trace (or measured by the environment itself). Adds the phases and the
    /// environment's warnings to the outcome.
    InstanceRun run_instance(Slot& slot, environments::Environment& env,
                             environments::WorkloadInstance& inst, RunOutcome& outcome);
    void restore_caps(Caps& caps, RunOutcome& outcome);
    /// Stores the outcome (Error when the store cannot) and reports the run as finished.
    void record(const Slot& slot, const RunSpec& run, const RunOutcome& outcome,
                const std::string& detail);

    ExecutionContext m_ctx;
    OverlapTracker m_overlaps;
    mutable std::mutex m_mutex;  // guards the two below
    bool m_caps_ok = true;
    std::size_t m_executed = 0;
};

}  // namespace joulebench::runner
