#pragma once
// The runner's third stage: one run on one GPU slot, in order: rest (not before the slot's first
// run), caps (journalled, verified), the workload in its environment (phases apart, under a
// sampler writing the store's trace), restore of the caps, and the record in the store. A run
// that fails, times out or cannot start is recorded and the experiment goes on; only a store that
// cannot record it is an exception (the runner then stops).

#include <atomic>
#include <barrier>
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
    /// Inside a Slurm job that shares its node: the job's CPUs against the node's (this
    /// node's CPU domains include other jobs' energy: mark_node_shared).
    std::optional<std::string> node_shared = std::nullopt;
};

/// Gang mode: where the instances of a run wait for each other, so that every workload starts
/// together once all are prepared (caps set, containers started). Each instance passes once.
class StartGate {
public:
    explicit StartGate(std::barrier<>* barrier) : m_barrier(barrier) {}
    /// Waits for the other instances (no-op without a barrier, or when passed already).
    void pass();
    /// Leaves for good without waiting (an instance that failed before its start).
    void leave() noexcept;

private:
    std::barrier<>* m_barrier;
    bool m_passed = false;
};

class RunExecutor {
public:
    explicit RunExecutor(ExecutionContext context) : m_ctx(std::move(context)) {}

    /// Rest, caps, run, restore, record. Thread-safe across slots (one call per slot at a time).
    /// Throws Error only when the store cannot record the run.
    void execute(Slot& slot, const RunSpec& run, bool first_on_slot);

    /// Gang mode: the run as one instance per slot, all prepared first and started together
    /// (StartGate), each under the run's cap on its own GPU and measured by its slot's sensors;
    /// recorded once, when all have ended (docs/runner.md, "Gang mode"). Throws Error only when
    /// the store cannot record the run.
    void execute_gang(const std::vector<Slot*>& slots, const RunSpec& run, bool first);

    /// False once a cap could not be restored: no further run should start.
    [[nodiscard]] bool caps_ok() const;
    /// Runs recorded by this executor.
    [[nodiscard]] std::size_t executed() const;

private:
    using Caps = std::vector<std::unique_ptr<capping::ScopedCap>>;
    struct InstanceRun;  // how run_instance went (execution.cpp)
    /// How one instance went: the run's outcome as far as this instance is concerned, the
    /// reason shown beside it, and its start (Unix seconds, 0 when it did not start).
    struct SlotRun {
        RunOutcome outcome;
        std::string detail;
        double started_at = 0.0;
    };

    /// Caps, the workload (through `gate`), restore, and the conclusion, on one slot.
    SlotRun run_on_slot(Slot& slot, const RunSpec& run, int number, StartGate& gate);

    Caps apply_caps(const Slot& slot, const RunSpec& run, bool remote, std::string& error);
    [[nodiscard]] environments::WorkloadInstance instance(const Slot& slot, const RunSpec& run,
                                                          const WorkloadSpec& workload,
                                                          bool remote, int instance) const;
    /// The workload in its environment: its phases, then the run under a sampler writing the
    /// store's trace (or measured by the environment itself). Adds the phases and the
    /// environment's warnings to the outcome.
    InstanceRun run_instance(Slot& slot, environments::Environment& env,
                             environments::WorkloadInstance& inst, RunOutcome& outcome,
                             StartGate& gate);
    void restore_caps(Caps& caps, RunOutcome& outcome);
    /// Stores the outcome (Error when the store cannot) and reports the run as finished.
    void record(const RunSpec& run, std::optional<int> gpu, const RunOutcome& outcome,
                const std::string& detail);

    ExecutionContext m_ctx;
    OverlapTracker m_overlaps;
    mutable std::mutex m_mutex;  // guards the two below
    bool m_caps_ok = true;
    std::size_t m_executed = 0;
};

}  // namespace joulebench::runner
