#pragma once
/// The records of an experiment's results, as the runner produces them and the store keeps them:
/// run status, the experiment and session records, what a run applied and measured (RunOutcome),
/// a run as stored (RunRecord) with its domains, idle baselines and sample traces. Plain data;
/// column meanings in docs/store.md.

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "joulebench/experiment.hpp"
#include "joulebench/measure_result.hpp"
#include "joulebench/warning.hpp"

namespace joulebench {

/// Status of a run. planned -> running -> done | failed | timeout | interrupted.
enum class RunStatus { kPlanned, kRunning, kDone, kFailed, kTimeout, kInterrupted };

[[nodiscard]] std::string_view to_string(RunStatus status);
[[nodiscard]] std::optional<RunStatus> run_status_from_string(std::string_view text);

/// The experiment a store belongs to (one per store).
struct ExperimentRecord {
    std::string name;
    std::string file_name;    ///< as given on the command line when first recorded
    std::string file_text;    ///< the whole experiment file
    std::string file_sha256;  ///< hex SHA-256 of file_text (the store holds one experiment: see same_experiment_text)
    std::uint64_t seed = 0;
    bool seed_given = false;
    std::string joulebench_version;  ///< of the joulebench that created the store
    double created_at = 0.0;         ///< Unix seconds
};

/// The ExperimentRecord of a parsed spec (created_at = now, this joulebench's version).
[[nodiscard]] ExperimentRecord experiment_record(const ExperimentSpec& spec);

/// One invocation of `joulebench run` (or shard of it) on one host.
struct SessionInfo {
    std::string host_json =
        "{}";  ///< CPU model, GPUs with UUIDs, driver, kernel, runtimes (JSON object)
    std::string joulebench_version = JOULEBENCH_VERSION;
    std::string command_line;  ///< how it was started
    std::optional<Shard> shard;
    double started_at = 0.0;  ///< Unix seconds
    std::string node;         ///< the machine's name (Slurm's node name inside a job)
    /// Inside a Slurm job: its id, and for an array task the array's job id and the task id.
    std::optional<std::string> slurm_job_id;
    std::optional<std::string> slurm_array_job_id;
    std::optional<std::string> slurm_array_task_id;
    /// Inside a Slurm job: what it holds against the node (a JSON object, docs/slurm.md).
    std::optional<std::string> allocation_json;
};

/// A session as stored (Store::sessions).
struct SessionRecord {
    std::int64_t id = 0;
    std::string host_json = "{}";  ///< as recorded by begin_session (a JSON object)
    std::string joulebench_version;
    std::string command_line;
    std::optional<std::string> shard;  ///< "I/N" or none
    double started_at = 0.0;           ///< Unix seconds
    std::optional<double> ended_at;    ///< Unix seconds; none while running or after a crash
    std::optional<std::string> node;   ///< as in SessionInfo
    std::optional<std::string> slurm_job_id;
    std::optional<std::string> slurm_array_job_id;
    std::optional<std::string> slurm_array_task_id;
    std::optional<std::string> allocation_json;
};


/// What the runner applied for a run (requested and, where known, read back).
struct AppliedCap {
    std::string domain;  ///< "gpu0", "package0", ...
    double requested_w = 0.0;
    std::optional<double> applied_w;  ///< the value the device reports after setting it
};

/// A phase outside the measured run, kept apart (container create/start/stop, VM boot, ...).
struct PhaseResult {
    std::string name;  ///< "container-start", "container-stop", ...
    double wall_s = 0.0;
    std::optional<double> energy_j;  ///< measured energy of the phase, when measured
    std::optional<int> instance;     ///< gang mode: the instance it belongs to
};

/// A phase of a session outside every run (Store::add_session_phases): a vm guest booted once
/// per slot is shut down after the slot's last run.
struct SessionPhase {
    std::int64_t session_id = 0;
    std::string environment;
    std::optional<int> gpu;  ///< the slot's GPU; unset without [gpus]
    PhaseResult phase;
};

/// One instance of a gang-mode run ([gpus] mode = "gang"): the run on one GPU slot, measured on
/// its own GPU (docs/runner.md, "Gang mode").
struct InstanceOutcome {
    int instance = 0;        ///< 0-based, in slot order
    std::optional<int> gpu;  ///< the slot's GPU
    RunStatus status = RunStatus::kDone;  ///< done, failed, timeout or interrupted
    std::optional<MeasureResult> measure;
    std::optional<int> exit_code;  ///< overrides measure->exit_code when set
    std::optional<int> signal;
    double started_at = 0.0;  ///< Unix seconds; when 0: measure->started_at
    double ended_at = 0.0;    ///< Unix seconds; when 0: started_at + measure->wall_s
    std::string stderr_tail;
};

/// Everything recorded when a run ends, written by Store::finish_run in one transaction.
struct RunOutcome {
    std::string run_id;
    RunStatus status = RunStatus::kDone;  ///< done, failed, timeout or interrupted
    /// The measurement, when the workload ran under measurement (absent when e.g. the
    /// environment failed before the workload started).
    std::optional<MeasureResult> measure;
    std::optional<int> exit_code;  ///< overrides measure->exit_code when set
    std::optional<int> signal;
    /// Unix seconds; when 0: measure->started_at, else the time given to mark_running.
    double started_at = 0.0;
    /// Unix seconds; when 0: started_at + measure->wall_s, else now.
    double ended_at = 0.0;
    std::optional<int> gpu;  ///< GPU slot (index) the run was pinned to
    std::vector<AppliedCap> caps;
    std::vector<PhaseResult> phases;
    std::vector<Warning> warnings;  ///< added to measure->warnings
    std::string stderr_tail;        ///< the last lines of the workload's stderr
    std::string metrics_json;       ///< workload-reported metrics (a JSON object) or empty
    /// Gang mode: one per GPU slot, all started together; empty in slots mode. The run's own
    /// figures are then derived from them (Store::finish_run, docs/store.md) and `measure` is
    /// unset.
    std::vector<InstanceOutcome> instances;
    /// Gang mode: the last instance's start minus the first's, in seconds.
    std::optional<double> start_skew_s;
};

/// Gang mode: an instance's start and end (Unix seconds): its own, else its measurement's.
[[nodiscard]] std::pair<double, double> instance_span(const InstanceOutcome& instance);
/// Gang mode: the first instance's start and the last one's end (Unix seconds; 0 when unknown).
[[nodiscard]] std::pair<double, double> instances_span(const std::vector<InstanceOutcome>& instances);
/// Gang mode: the sum of the instances' total energies, when every instance was measured.
[[nodiscard]] std::optional<double> instances_energy_j(
    const std::vector<InstanceOutcome>& instances);

/// Every warning of a finished run, in order: its measurement's, then the runner's and its
/// environment's (what the store keeps in run_warnings and, as texts, in warnings_json).
[[nodiscard]] std::vector<Warning> run_warnings(const RunOutcome& outcome);

/// One run as stored (the columns of `joulebench export`, see docs/store.md).
struct RunRecord {
    std::string run_id;
    std::int64_t plan_index = 0;
    std::string workload;
    std::string environment;
    std::optional<double> gpu_cap_w;
    std::optional<double> cpu_cap_w;
    unsigned repetition = 0;
    RunStatus status = RunStatus::kPlanned;
    unsigned attempt = 0;  ///< 0 until first started
    std::optional<int> gpu;
    std::optional<std::int64_t> session_id;
    std::optional<double> started_at;
    std::optional<double> ended_at;
    std::optional<int> exit_code;
    std::optional<int> signal;
    std::optional<double> wall_s;
    std::optional<double> energy_j;      ///< total (gpu + package + dram (+ estimate))
    std::optional<double> gpu_energy_j;  ///< GPU domains that count in the total
    std::optional<double> cpu_energy_j;  ///< package + dram (+ estimated CPU) in the total
    std::optional<double> edp_js;
    std::optional<double> ed2p_js2;
    std::optional<double> idle_power_w;
    std::optional<double> net_energy_j;
    std::string caps_json;      ///< JSON array of AppliedCap, "[]" when none
    std::string warnings_json;  ///< JSON array of strings
    std::string phases_json;    ///< JSON array of PhaseResult
    std::string stderr_tail;
    std::string metrics_json;  ///< empty when none
    std::string measure_json;  ///< the whole `measure --json` document, empty when none
    /// What its energy total says about its CPU part (from its domains, docs/store.md): the
    /// CPU-time estimate is in it; some CPU domain was attributed by CPU-time share; some CPU
    /// domain includes other runs' energy.
    bool total_includes_estimate = false;
    bool cpu_attributed = false;
    bool cpu_shared = false;
    /// Gang mode: how many instances the run has (0 in slots mode), and, in the records of
    /// Store::observations(), which one this is (always 0 in slots mode).
    unsigned instances = 0;
    int instance = 0;
    std::optional<double> start_skew_s;  ///< gang mode: see RunOutcome
};

/// Energy per domain of a finished run.
struct DomainRecord {
    std::string run_id;
    int domain_index = 0;
    std::string domain;  ///< sensor id: "gpu0", "package0", ...
    std::string kind;    ///< to_string(DomainKind)
    std::string method;  ///< to_string(Method)
    double energy_j = 0.0;
    double avg_power_w = 0.0;
    std::optional<double> peak_power_w;
    bool counts_in_total = false;
    std::optional<double> idle_power_w;
    std::optional<double> net_energy_j;
    Sharing sharing = Sharing::kAlone;  ///< see DomainResult
    std::optional<double> cpu_time_share;
    std::optional<double> measured_energy_j;
    Location measured_on = Location::kHost;  ///< see DomainResult
    int instance = 0;                        ///< gang mode: the instance it belongs to
};

/// A phase the workload marked (table run_marked_phases, README "Markers").
struct MarkedPhaseRecord {
    std::string run_id;
    int instance = 0;  ///< gang mode: the instance it belongs to
    MarkedPhase phase;
};

/// An idle baseline measured by the runner (before the first run, or for rest = "baseline").
struct IdleBaselineRecord {
    std::optional<std::int64_t> session_id;
    std::string domain;       ///< sensor id, or "total" for the domains that count in it
    double started_at = 0.0;  ///< Unix seconds
    double duration_s = 0.0;
    double power_w = 0.0;
    std::optional<double> temperature_c;
    std::string context;  ///< "start", "rest before <run id>", ...
};

/// One column of a stored trace.
/// The per-GPU telemetry quantities of a trace, in the order a CSV trace writes them.
inline constexpr std::array<std::string_view, 5> kTraceTelemetryQuantities{
    "utilisation_pct", "temperature_c", "sm_clock_mhz", "throttle_reasons", "enforced_limit_w"};

struct TraceColumn {
    std::string domain;    ///< sensor id
    std::string quantity;  ///< energy_j, power_w, utilisation_pct, temperature_c, sm_clock_mhz,
                           ///< throttle_reasons, enforced_limit_w
};

/// A trace as read back: `times_s[i]` and, per column, `values[c][i]` (NaN: no value).
struct Trace {
    std::vector<TraceColumn> columns;
    std::vector<double> times_s;  ///< seconds since the measurement started
    std::vector<std::vector<double>> values;
};

/// A trace chunk as written by the trace sink: row-major doubles, `rows` x (1 + columns), the
/// first value of each row the time in seconds.
struct TraceChunk {
    std::string run_id;
    int instance = 0;                  ///< gang mode: the instance; 0 otherwise
    int chunk = 0;                     ///< 0, 1, 2... within the run
    std::vector<TraceColumn> columns;  ///< recorded with chunk 0
    std::size_t rows = 0;
    std::vector<double> data;
};

/// How many runs a store holds in each status.
struct StatusCounts {
    std::size_t planned = 0, running = 0, done = 0, failed = 0, timeout = 0, interrupted = 0;
    [[nodiscard]] std::size_t total() const {
        return planned + running + done + failed + timeout + interrupted;
    }
    /// Runs not run (yet): planned, or running when counted.
    [[nodiscard]] std::size_t not_run() const { return planned + running; }
    /// Counts `n` more runs of `status`.
    void add(RunStatus status, std::size_t n = 1);
};

/// "12 runs: 10 done, 1 failed, 0 timeout, 1 interrupted, 0 not run", the wording of every
/// message and page that states a store's counts.
[[nodiscard]] std::string to_string(const StatusCounts& counts);

}  // namespace joulebench
