#pragma once
// Where a workload runs: an Environment prepares (never measured: image pulls, VM boots), runs
// one workload instance at a time, and tears down [hyperfine executor]. A run's failure (exit
// status, signal, timeout, a command that would not start) is data in InstanceResult, never an
// exception that ends the experiment; exceptions are for the environment itself being unusable.
//
// Phases (docs/runner.md): prepare() is outside every measurement. Environments whose instances
// have set-up and clean-up of their own (containers: create and start before the workload, stop
// and removal after) do them in begin_instance()/end_instance() through a PhaseRecorder: the
// runner measures each phase on its own (its own sampler) and stores it as a PhaseResult, apart
// from execute(), which is the measured run. `bare` has no such phases.
//
// Environments that measure the run themselves (ssh: `joulebench measure --json -` runs on the
// remote host, where the sensors are) say so with measures_itself(); the runner then reads no
// local sensor and sets no local cap for their runs: WorkloadInstance carries the caps and the
// environment returns the remote measurement in InstanceResult::measured.

#include <sys/types.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "joulebench/experiment.hpp"
#include "sensors/gpu_inventory.hpp"
#include "joulebench/measure_result.hpp"
#include "joulebench/units.hpp"

namespace joulebench {
class TraceSink;
}

namespace joulebench::environments {

/// One workload instance to run (one attempt of one run of the plan).
struct WorkloadInstance {
    std::string run_id;
    /// Gang mode ([gpus] mode = "gang"): which of the run's instances, one per GPU slot, all
    /// running at once; 0 otherwise.
    int instance = 0;
    /// Names the instance uniquely among those running: the run id, with ".N" for gang
    /// instances after the first (container names, per-instance folders).
    [[nodiscard]] std::string key() const {
        return instance == 0 ? run_id : run_id + "." + std::to_string(instance);
    }
    std::vector<std::string> command;  ///< argv, never through a shell
    /// Variables set for the workload (its [[workload]] env, CUDA_VISIBLE_DEVICES, JOULEBENCH_*).
    std::vector<std::pair<std::string, std::string>> env;
    std::optional<int> gpu;  ///< the GPU slot's index (PCI bus order), when pinned
    /// The slot's GPU of this machine (vendor, vendor index, PCI bus id), when it is one; unset
    /// for a remote host's GPU. Containers take their GPU flags from it (gpu_visibility.hpp).
    std::optional<GpuIdentity> gpu_device;
    std::optional<std::chrono::milliseconds> timeout;
    std::filesystem::path stdout_file;  ///< the workload's standard output goes here
    std::filesystem::path stderr_file;  ///< and its standard error here
    /// The FIFO $JOULEBENCH_MARKS names on this machine (README "Markers"), when the runner
    /// reads marks; a container sees it at its own path (container_engine.hpp).
    std::filesystem::path marks_file;
    /// Set (by a signal handler) when the experiment must stop: the instance is ended and
    /// reported interrupted. May be null.
    const std::atomic<bool>* stop = nullptr;
    /// How long a workload has between SIGTERM and SIGKILL when it is timed out or interrupted.
    std::chrono::milliseconds kill_grace{std::chrono::seconds(5)};
    /// The run's caps, for environments that measure themselves (measures_itself()) and so
    /// apply them where the workload runs; the runner applies them itself for all others.
    std::optional<double> gpu_cap_w;
    std::optional<double> cpu_cap_w;
    /// The trace interval (`run --interval`), for environments that measure themselves and so
    /// sample where the workload runs; the runner's own sampler uses it for all others.
    std::chrono::milliseconds interval{100};
    /// Where environments that measure themselves put the run's sample trace (the store's sink,
    /// as the runner's own sampler does for all others); may be null (no trace kept). A trace
    /// that is missing or malformed is a warning of the run, never its failure.
    TraceSink* trace = nullptr;
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
    /// The run's measurement, made by the environment itself (measures_itself() is true), e.g.
    /// the remote `joulebench measure --json -` document of an ssh run. Unset otherwise.
    std::optional<MeasureResult> measured;
    /// Warnings of the environment about this instance (stored with the run).
    std::vector<Warning> warnings;
};

/// Given by the runner to begin_instance()/end_instance(): runs `body` as a measured phase
/// named `name` ("container-create", "container-start", "container-remove", ...), its wall
/// time and energy stored with the run apart from the run's own measurement. Exceptions from
/// `body` pass through (the phase is still recorded, with its time so far).
class PhaseRecorder {
public:
    virtual ~PhaseRecorder() = default;
    virtual void phase(std::string_view name, const std::function<void()>& body) = 0;
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

    /// Whether the environment measures its runs itself (see InstanceResult::measured).
    [[nodiscard]] virtual bool measures_itself() const { return false; }

    /// Environments that measure themselves but run on this machine (vm: a local QEMU guest)
    /// leave the host's CPU package and DRAM to the runner: it measures them with the slot's
    /// own CPU sensors over the run and they replace the remote measurement's CPU domains.
    [[nodiscard]] virtual bool host_measures_cpu() const { return false; }

    /// The local process that runs `instance` for such an environment (the guest's QEMU), so
    /// that host CPU energy can be shared among overlapping runs by its CPU time. Unset when
    /// there is none. Called between begin_instance() and end_instance().
    [[nodiscard]] virtual std::optional<pid_t> host_process(
        const WorkloadInstance& instance) const {
        (void)instance;
        return std::nullopt;
    }

    /// Called once, before the first run, with the GPU slots in slot order (their GPU index,
    /// unset without [gpus]). Throws Error naming the experiment file and line when the
    /// environment cannot serve them (vm: one GPU address per slot).
    virtual void assign_slots(const std::vector<std::optional<int>>& slots) { (void)slots; }

    /// What the session records about this environment (runtime name and version, image id
    /// and size, remote host): a JSON object as text, "{}" when nothing. Called once, after
    /// prepare(). Never throws.
    [[nodiscard]] virtual std::string describe() const { return "{}"; }

    /// Environments that measure themselves set the caps where the workload runs, so they check
    /// them there: every GPU cap against the range of the (remote) GPUs in `gpus` (all of them
    /// when empty), every CPU cap against each CPU package's. Called after prepare(), before
    /// the first run, only when the experiment has caps. Throws Error (kInvalidArgument) naming
    /// the device and its range, or (kNotSupported) when there is nothing to cap.
    virtual void check_caps(const std::vector<double>& gpu_caps_w,
                            const std::vector<double>& cpu_caps_w,
                            const std::vector<int>& gpus) const {
        (void)gpu_caps_w;
        (void)cpu_caps_w;
        (void)gpus;
    }

    /// Per-instance set-up before execute() (create and start a container), each step run
    /// through `phases.phase(...)` so that it is measured apart. Throws Error when the instance
    /// cannot be set up: the run is then recorded as failed with that message, and
    /// end_instance() is still called.
    virtual void begin_instance(const WorkloadInstance& instance, PhaseRecorder& phases) {
        (void)instance;
        (void)phases;
    }

    /// Per-instance clean-up after execute() (stop and remove the container), through
    /// `phases` as above. Called after every begin_instance(), even one that threw. Must not
    /// throw; problems go into `warnings`.
    virtual void end_instance(const WorkloadInstance& instance, PhaseRecorder& phases,
                              std::vector<Warning>& warnings) noexcept {
        (void)instance;
        (void)phases;
        (void)warnings;
    }

    /// After the session's last run, before tear_down(): ends what outlived the runs on the slot
    /// of `gpu` (a vm guest booted once per slot is shut down), each step through `phases` so
    /// that it is measured apart and recorded as a phase of the session. Must not throw;
    /// problems go into `warnings`.
    virtual void finish_slot(std::optional<int> gpu, PhaseRecorder& phases,
                             std::vector<Warning>& warnings) noexcept {
        (void)gpu;
        (void)phases;
        (void)warnings;
    }

    /// Runs one instance to its end and returns how it ended. Throws only when the environment
    /// itself is broken; a workload that fails, crashes, times out or cannot start is a result.
    virtual InstanceResult execute(const WorkloadInstance& instance,
                                   InstanceObserver* observer) = 0;

    /// Undoes prepare(). Never throws.
    virtual void tear_down() noexcept = 0;
};

}  // namespace joulebench::environments
