#pragma once
// What an experiment in progress looks like right now, for the live views (docs/live.md): the
// Prometheus endpoint (prometheus_text.hpp, metrics_server.hpp) and the terminal dashboard read
// snapshots of it. The runner (through runner::Progress and LiveTraceSink), `measure` and
// `exporter` write it.
//
// Thread-safe. Writers hold the lock only to copy a few numbers in; a reader copies a snapshot
// under it and renders outside it, so a scrape never holds up a sampling thread for longer than
// that copy (a few microseconds).

#include <chrono>
#include <cstdint>
#include <deque>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "joulebench/domain.hpp"
#include "joulebench/records.hpp"
#include "measure/sampler.hpp"

namespace joulebench::live {

/// What a run is, as labels: the experiment's facts about it.
struct RunLabels {
    std::string run_id;
    std::string workload;
    std::string environment;
    std::optional<double> gpu_cap_w;
    std::optional<double> cpu_cap_w;
    int repetition = 0;
    std::optional<int> slot;  ///< the GPU of the slot it runs on (global index); none: no GPU slot
};

/// One measured domain of a run (or of the machine, for `exporter`) now.
struct DomainNow {
    int instance = 0;        ///< gang mode: which instance of the run measured it
    std::string id;          ///< SensorInfo::id: "gpu0", "package0"
    std::string kind;        ///< to_string(DomainKind)
    std::string method;      ///< to_string(Method)
    double energy_j = 0.0;   ///< since the run's (or the exporter's) first reading; never decreases
    std::optional<double> power_w;  ///< average over the last trace interval
    bool valid = false;             ///< a reading has arrived
    // GPUs only: the last telemetry row.
    bool gpu = false;
    std::optional<GpuTelemetry> telemetry;
};

struct RunNow {
    RunLabels labels;
    std::chrono::system_clock::time_point started{};
    std::vector<DomainNow> domains;
    // Finished runs only.
    std::optional<RunStatus> status;
    double wall_s = 0.0;
    std::optional<double> energy_j;  ///< the run's total as recorded (the store's runs.energy_j)
    std::string detail;              ///< failures: why
};

/// The plan of a `run` (or `sweep`, `tune`) invocation.
struct PlanNow {
    std::size_t planned = 0;       ///< runs in this invocation's plan
    std::size_t already_done = 0;  ///< done before this invocation
    std::size_t done = 0;          ///< done, this invocation and before
    std::size_t failed = 0;        ///< failed, timed out or interrupted in this invocation
    std::size_t pending = 0;       ///< still to finish in this invocation
    std::size_t slots = 1;
    std::optional<double> mean_run_s;  ///< start to finish of the runs finished here
    std::optional<double> eta_s;       ///< mean_run_s x pending / slots
};

/// Costs of watching: the sampling threads' CPU time, their ticks, the scrapes.
struct MonitoringNow {
    double sampler_cpu_s = 0.0;
    std::uint64_t sampler_ticks = 0;
    std::uint64_t sampler_late_ticks = 0;
    double serving_cpu_s = 0.0;  ///< CPU time of the metrics server's thread, up to the last scrape
    std::uint64_t scrapes = 0;
};

struct LiveSnapshot {
    std::string node;
    std::string experiment;  ///< empty for `exporter`
    std::string mode;        ///< "run", "measure", "tune-online", "exporter"
    std::optional<PlanNow> plan;
    std::vector<RunNow> running;   ///< in start order
    std::vector<RunNow> finished;  ///< the last finished runs, oldest first
    std::vector<DomainNow> machine;  ///< `exporter`: the machine's domains
    std::map<std::string, std::uint64_t> runs_by_status;  ///< finished in this invocation
    std::vector<std::string> messages;  ///< the last warnings and failures, oldest first
    MonitoringNow monitoring;
    std::chrono::system_clock::time_point taken{};
};

/// The run-less series of `exporter` (LiveTraceSink's key for the machine's own domains).
inline constexpr const char* kMachine = "";

class LiveState {
public:
    /// `node`: the host name the series are labelled with; `mode` as LiveSnapshot::mode.
    LiveState(std::string node, std::string mode);

    void set_experiment(std::string name);
    /// A run invocation's plan: `total` runs, `already_done` of them done before, over `slots`.
    void plan(std::size_t total, std::size_t already_done, std::size_t slots);
    /// As plan(), and kept: later plan(), add_pending() and retrying() calls change nothing
    /// (`tune` runs one Runner per run; its plan is the budget, `total` runs at most).
    void fix_plan(std::size_t total, std::size_t already_done, std::size_t slots);
    void add_pending(std::size_t runs);
    void retrying(std::size_t runs);
    void run_started(RunLabels labels);
    /// The domains a run's (instance's) sampler reads, in its order; `run_id` kMachine: the
    /// machine's (exporter). Replaces that instance's domains.
    void trace_begin(const std::string& run_id, int instance, const std::vector<const Sensor*>& sensors);
    /// A trace row of that sampler: cumulative energies, powers, GPU telemetry. Never throws.
    void trace_row(const std::string& run_id, int instance, const std::vector<TraceDomainValue>& domains,
                   const std::vector<std::optional<GpuTelemetry>>& telemetry) noexcept;
    /// A domain's energy as the run's measurement has it at its end (the counters end there
    /// exactly). Only raises the value: a counter never goes down.
    void final_energy(const std::string& run_id, int instance, const std::string& domain, double energy_j);
    /// The run ended: its status, wall time and total energy as recorded.
    void run_finished(const std::string& run_id, RunStatus status, double wall_s,
                      std::optional<double> energy_j, std::string detail);
    /// A finished sampler's costs (added), or a running one's so far (`running`: replaces the
    /// previous running value, for `exporter`).
    void sampler_stats(const SamplerStats& stats, bool running = false);
    /// A scrape was answered; `thread_cpu_s`: the serving thread's CPU time so far (all of it).
    void served(double thread_cpu_s);
    /// A warning or a failure, for the dashboard.
    void message(std::string text);

    [[nodiscard]] LiveSnapshot snapshot() const;
    [[nodiscard]] const std::string& node() const { return m_node; }

    /// How many finished runs (and messages) a snapshot keeps.
    static constexpr std::size_t kKeepFinished = 64;
    static constexpr std::size_t kKeepMessages = 32;

private:
    RunNow* find_running_locked(const std::string& run_id);
    std::vector<DomainNow>* domains_locked(const std::string& run_id);

    mutable std::mutex m_mutex;
    std::string m_node;
    std::string m_mode;
    std::string m_experiment;
    std::optional<PlanNow> m_plan;
    bool m_plan_fixed = false;
    double m_time_sum_s = 0.0;
    std::size_t m_timed = 0;
    std::vector<RunNow> m_running;
    std::deque<RunNow> m_finished;
    std::vector<DomainNow> m_machine;
    std::map<std::string, std::uint64_t> m_by_status;
    std::deque<std::string> m_messages;
    MonitoringNow m_monitoring;
    SamplerStats m_running_sampler;  // exporter: its sampler so far
};

/// This machine's host name (the `node` label): the Slurm node name inside a Slurm job.
[[nodiscard]] std::string node_name();

}  // namespace joulebench::live
