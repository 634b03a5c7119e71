#pragma once
// The parts of a runner session around its runs: the store's lock and its opening, what the
// session records about the host, the GPU slots, the idle baselines measured before the first
// run, and the warm-up.

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <chrono>
#include <map>
#include <optional>
#include <memory>
#include <string>
#include <vector>

#include "common/slurm_job.hpp"
#include "environments/environment.hpp"
#include "joulebench/store.hpp"
#include "runner/dependencies.hpp"
#include "runner/preflight.hpp"
#include "runner/progress.hpp"
#include "runner/runner.hpp"
#include "runner/slot.hpp"

namespace joulebench::runner {

/// One `joulebench run` per store at a time: a second one would take the first one's running
/// runs for interrupted ones and run them twice. An exclusive flock on DB.lock for the life of
/// the object; the kernel drops it when the process ends, however it ends; O_CLOEXEC keeps
/// workloads from inheriting it. Throws Error (kInvalidArgument, with a hint) when another
/// process holds it.
class StoreLock {
public:
    explicit StoreLock(const std::filesystem::path& db);
    StoreLock(const StoreLock&) = delete;
    StoreLock& operator=(const StoreLock&) = delete;
    ~StoreLock();

private:
    int m_fd = -1;
};

/// Prepares every environment (image checks, VM boots: never measured) and tears down, in
/// reverse order, those it prepared, however the session ends.
class PreparedEnvironments {
public:
    PreparedEnvironments() = default;
    PreparedEnvironments(const PreparedEnvironments&) = delete;
    PreparedEnvironments& operator=(const PreparedEnvironments&) = delete;
    ~PreparedEnvironments();
    /// Prepares each; environments that set caps where the workload runs check them there.
    void prepare(const Preflight& preflight);

private:
    std::vector<environments::Environment*> m_prepared;
};

/// What the session records about the host: name, kernel, CPU, GPUs and driver, and what each
/// environment describes of itself (a JSON object as text).
[[nodiscard]] std::string host_json(const Preflight& preflight);

/// Opens the store (set aside first with --new, its logs folder `logs_dir` with it), records the
/// experiment (or checks it is the same), marks runs a dead session left running as interrupted
/// (their ids go into `interrupted`) and adds the planned runs. Throws Error for a store of
/// another experiment.
std::unique_ptr<Store> open_store(const ExperimentSpec& spec, const RunnerOptions& options,
                                  const Plan& plan, const std::filesystem::path& logs_dir,
                                  std::vector<std::string>& interrupted, std::FILE* messages);

/// Where the session runs: the node (Slurm's node name inside a job, else the host name) and,
/// inside a Slurm job, its ids and what it holds of the node (allocation_json).
void place_session(SessionInfo& session, const std::optional<SlurmJob>& job);

/// Inside a Slurm job that does not hold every CPU of its node: "Slurm job 12 holds 4 of the
/// node's 64 CPUs (SLURM_CPUS_ON_NODE)", for mark_node_shared; none outside Slurm or when the
/// job holds the whole node.
[[nodiscard]] std::optional<std::string> node_sharing(const std::optional<SlurmJob>& job);

/// After the last run: every environment finishes every slot (Environment::finish_slot: a vm
/// guest booted once per slot is shut down), each phase measured with the slot's sensors (a
/// local guest's with the host's CPU counters) and recorded as a phase of the session.
void finish_slots(const Preflight& preflight, const std::vector<std::unique_ptr<Slot>>& slots,
                  Store& store, std::int64_t session_id, std::chrono::milliseconds interval,
                  Progress& progress);

/// One slot per GPU of the plan (or one without [gpus]), each with its sensors. Throws the
/// Error of a GPU selection the sensors refuse.
[[nodiscard]] std::vector<std::unique_ptr<Slot>> make_slots(const Preflight& preflight,
                                                            SensorFactory& sensors);

/// rest = "baseline": the idle power and temperature of every slot, measured together before
/// anything runs, recorded in the store.
void measure_idle_baselines(std::vector<std::unique_ptr<Slot>>& slots, Store& store,
                            std::int64_t session_id, std::chrono::milliseconds duration,
                            const std::atomic<bool>& stop, Progress& progress);

/// The warm-up before the first run, on every slot at once (each on its GPU), never measured:
/// a wait, or the command. Throws Error when the command fails (unless stopped).
void warm_up(const ExperimentSpec& spec, const RunnerOptions& options, const Preflight& preflight,
             const std::vector<std::unique_ptr<Slot>>& slots, const std::atomic<bool>& stop,
             Progress& progress);

}  // namespace joulebench::runner
