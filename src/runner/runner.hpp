#pragma once
// `joulebench run`: executes an experiment's plan and records every run in the store.
// Behaviour, phases and resume rules: docs/runner.md; the parts of the runner: docs/architecture.md.
//
// A Runner is made from an experiment spec (parsed from a file, or built in memory as `sweep`
// does), options and its dependencies (dependencies.hpp). run() goes through three stages:
// preflight (preflight.hpp: everything checked before the first run), scheduling (scheduler.hpp:
// which run goes to which GPU slot when) and execution (execution.hpp: rest, cap, run, record).

#include <atomic>
#include <chrono>
#include <cstddef>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "joulebench/experiment.hpp"
#include "joulebench/store.hpp"
#include "live/live_state.hpp"
#include "runner/dependencies.hpp"

namespace joulebench::runner {

struct RunnerOptions {
    /// The experiment file as the user named it: read by run_experiment(), named in messages.
    std::filesystem::path experiment_file;
    std::filesystem::path db;
    bool new_store = false;  ///< --new: set an existing store aside and start again
    unsigned retries = 0;    ///< --retries N: re-run failed and timed-out runs up to N times
    std::optional<Shard> shard;
    /// Only these runs of the plan, in this order (`tune` chooses each run from the runs before
    /// it); the store holds only runs that were selected. Unset: the whole plan (or shard).
    std::optional<std::vector<std::string>> only_runs;
    bool dry_run = false;  ///< validate and print the plan; nothing runs, nothing is written
    std::chrono::milliseconds interval{100};  ///< trace interval
    std::string command_line;                 ///< recorded with the session
    /// Between SIGTERM and SIGKILL for a timed-out or interrupted workload.
    std::chrono::milliseconds kill_grace{std::chrono::seconds(5)};
    /// rest = "baseline": idle measured this long before the first run, and the longest wait
    /// for the GPUs to come back near it between runs.
    std::chrono::milliseconds idle_baseline{std::chrono::seconds(5)};
    std::chrono::milliseconds baseline_timeout{std::chrono::minutes(5)};
    /// Where the workloads' standard output and error go (RUNID.stdout/.stderr); default DB.logs.
    std::optional<std::filesystem::path> logs_dir;
    /// Where the live views (--metrics-listen, the dashboard) read what goes on; null: none (a
    /// terminal's dashboard then makes its own).
    std::shared_ptr<live::LiveState> live;
    /// --plain: one line per finished run even on a terminal (no dashboard).
    bool plain = false;
};

struct RunnerSummary {
    std::size_t planned = 0;       ///< runs of this (shard of the) plan
    std::size_t already_done = 0;  ///< done before this invocation
    std::size_t executed = 0;      ///< attempts made now
    StatusCounts counts;           ///< the store's counts at the end
    std::optional<int> stopped_by_signal;
    bool stopped = false;       ///< the stop flag ended the runs early
    bool caps_restored = true;  ///< false: a cap could not be restored (see the messages)
};

class Runner {
public:
    /// Nothing is checked or touched before run().
    Runner(ExperimentSpec spec, RunnerOptions options, RunnerDependencies dependencies);
    ~Runner();
    Runner(const Runner&) = delete;
    Runner& operator=(const Runner&) = delete;

    /// Validates everything, records the experiment and runs what is pending. Throws Error for
    /// every problem found before the first run (commands, GPUs, caps, store, disk space) and for
    /// a store that holds another experiment (hint: --new). Once runs start, their failures are
    /// recorded, not thrown; a store that cannot record a run stops the runner (Error kIo).
    RunnerSummary run();

private:
    ExperimentSpec m_spec;
    RunnerOptions m_options;
    RunnerDependencies m_deps;
};

/// The flag the signal handlers set (SIGINT, SIGTERM, SIGHUP); runs end at once when it is set.
std::atomic<bool>& stop_requested();
/// Installs handlers that set stop_requested() and remember the signal. Idempotent.
void install_stop_handlers();
/// The signal that set stop_requested(), if any.
std::optional<int> stop_signal();

/// The last `max_bytes` of a file, cut at the first line start inside that window (the whole
/// file when smaller). Empty when the file cannot be read.
[[nodiscard]] std::string file_tail(const std::filesystem::path& path, std::size_t max_bytes);

/// The last line of `text` that is a JSON object (whitespace around it allowed), or empty.
[[nodiscard]] std::string last_json_object_line(const std::string& text);

/// `joulebench run`: parses options.experiment_file and runs it on this machine
/// (production_dependencies(), which installs the stop handlers once the caps are secured).
/// Throws as Runner::run and the parser.
RunnerSummary run_experiment(const RunnerOptions& options);

}  // namespace joulebench::runner
