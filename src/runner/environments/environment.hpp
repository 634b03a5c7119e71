#pragma once
// Where a workload runs: an Environment prepares (never measured: image pulls, VM boots), runs
// one workload instance at a time, and tears down [hyperfine executor]. A run's failure (exit
// status, signal, timeout, a command that would not start) is data in InstanceResult, never an
// exception that ends the experiment; exceptions are for the environment itself being unusable.
//
// Phases (docs/runner.md): prepare() is outside every measurement. For containers, the runner
// will measure start_instance()/stop_instance() as their own phases (PhaseResult in the store),
// apart from execute(), which is the measured run. `bare` has no such phases.

#include <sys/types.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "joulebench/experiment.hpp"
#include "joulebench/units.hpp"

namespace joulebench::runner {

/// One workload instance to run (one attempt of one run of the plan).
struct WorkloadInstance {
    std::string run_id;
    std::vector<std::string> command;  ///< argv, never through a shell
    /// Variables set for the workload (its [[workload]] env, CUDA_VISIBLE_DEVICES, JOULEBENCH_*).
    std::vector<std::pair<std::string, std::string>> env;
    std::optional<int> gpu;  ///< the GPU slot's index (PCI bus order), when pinned
    std::optional<std::chrono::milliseconds> timeout;
    std::filesystem::path stdout_file;  ///< the workload's standard output goes here
    std::filesystem::path stderr_file;  ///< and its standard error here
    /// Set (by a signal handler) when the experiment must stop: the instance is ended and
    /// reported interrupted. May be null.
    const std::atomic<bool>* stop = nullptr;
    /// How long a workload has between SIGTERM and SIGKILL when it is timed out or interrupted.
    std::chrono::milliseconds kill_grace{std::chrono::seconds(5)};
};

/// How an instance ended.
struct InstanceResult {
    enum class End {
        kExited,       ///< ended by itself (any exit status) or by a signal not sent by joulebench
        kTimedOut,     ///< joulebench ended it at its timeout
        kInterrupted,  ///< joulebench ended it because the experiment was stopped
        kNotStarted,   ///< it could not be started (start_error says why)
    };
    End end = End::kExited;
    int exit_code = 0;          ///< exit status, or 128+N when signal N ended it
    std::optional<int> signal;  ///< the signal that ended it
    std::string start_error;    ///< kNotStarted: why
    Clock::time_point start_time{};
    Clock::time_point end_time{};
    double started_at = 0.0;  ///< Unix seconds at start
    double cpu_user_s = 0.0;  ///< the instance's process tree (reaped descendants included)
    double cpu_system_s = 0.0;
    /// Processes of the instance still alive when it ended (killed by joulebench afterwards).
    bool left_processes = false;
};

/// Called by execute() right after the workload process started (e.g. to follow its process
/// tree for the CPU-time estimate). Must not throw.
class InstanceObserver {
public:
    virtual ~InstanceObserver() = default;
    virtual void started(pid_t pid) noexcept = 0;
    virtual void reaped(pid_t pid, double cpu_seconds) noexcept = 0;
};

class Environment {
public:
    Environment() = default;
    Environment(const Environment&) = delete;
    Environment& operator=(const Environment&) = delete;
    virtual ~Environment() = default;

    [[nodiscard]] virtual const EnvironmentSpec& spec() const = 0;

    /// Checks, before the first run, that `workload` can run here (command resolvable, image
    /// present, host reachable). Throws Error naming the experiment file and line.
    virtual void validate(const WorkloadSpec& workload) const = 0;

    /// Readies the environment (pull, build, boot). Never measured. Throws Error.
    virtual void prepare() = 0;

    /// Runs one instance to its end and returns how it ended. Throws only when the environment
    /// itself is broken; a workload that fails, crashes, times out or cannot start is a result.
    virtual InstanceResult execute(const WorkloadInstance& instance,
                                   InstanceObserver* observer) = 0;

    /// Undoes prepare(). Never throws.
    virtual void tear_down() noexcept = 0;
};

}  // namespace joulebench::runner
