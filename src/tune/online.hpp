#pragma once
// The online method of `joulebench tune` (docs/tune.md, "The online method"): one long run of a
// command that reports its progress on standard output (one line matching --progress-regex per
// unit of work), the GPU cap changed every few seconds while it runs. Each cap's segment (after
// a settle time that follows every change) gives time and energy per unit of work; the caps are
// profiled in two passes, ascending then descending, and every segment is one replicate of its
// cap. The best cap is then set for the rest of the run, and the original limits are restored at
// the end, on error, on a signal and (through the journal and the guardian) after SIGKILL.
//
// The capped GPUs are read by a Sampler, as every measurement is: its thread reads them every
// --interval (more often where a sensor needs it) and feeds the live views; a segment's ends and
// the command's marks (README "Markers": JOULEBENCH_MARK lines on its standard output, or
// $JOULEBENCH_MARKS) each cost one reading on the calling thread.
//
// The result is a tune::SearchResult, as the separate-runs search gives, so both methods print
// and serialise the same way; runs_used is 1.

#include <sys/types.h>

#include <chrono>
#include <cstddef>
#include <cstdio>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "joulebench/measure_result.hpp"
#include "joulebench/units.hpp"
#include "live/live_state.hpp"
#include "runner/dependencies.hpp"
#include "tune/search.hpp"

namespace joulebench::tune {

struct OnlineOptions {
    std::vector<std::string> command;  ///< argv, run directly (no shell)
    std::vector<double> caps_w;        ///< ascending and distinct, at least 2
    /// ECMAScript regex searched in every line of the command's standard output: a line that
    /// matches is one unit of work done (at most one unit per line).
    std::string progress_regex;
    std::chrono::milliseconds settle{1000};             ///< after each cap change, not measured
    std::chrono::milliseconds segment{5000};            ///< measured time per segment (at least)
    std::chrono::milliseconds progress_timeout{60000};  ///< longest wait for the next unit
    std::string gpus;  ///< "" = every GPU, else indices in PCI bus order ("0,1")
    std::chrono::milliseconds interval{100};  ///< how often the energy counters are read at least
    unsigned passes = 2;  ///< 1: ascending only; 2: ascending then descending; more: alternating
    Metric metric = Metric::kEdp;
    double max_slowdown = 0.10;  ///< kEnergyWithinSlowdown, as SearchOptions::max_slowdown
    double confidence = 0.95;    ///< of the interval and of "cannot be told apart", in (0.5, 1)
    std::chrono::milliseconds kill_grace{5000};  ///< SIGTERM, then SIGKILL after this long
};

/// One measured segment: units of work done at one cap, from the first unit that ended after the
/// settle time to the last unit that ended in the segment.
struct OnlineSegment {
    double cap_w = 0.0;
    unsigned pass = 0;      ///< 0: the first (ascending) pass
    double seconds = 0.0;   ///< from the end of the first unit to the end of the last
    double energy_j = 0.0;  ///< of the capped GPUs over the same span
    std::size_t units = 0;  ///< units that ended in the span (the first one excluded)
    [[nodiscard]] double time_per_unit_s() const { return seconds / static_cast<double>(units); }
    [[nodiscard]] double energy_per_unit_j() const { return energy_j / static_cast<double>(units); }
};

struct OnlineOutcome {
    std::vector<OnlineSegment> segments;  ///< in the order measured
    SearchResult result;                  ///< from the segments (online_result)
    /// The cap set for the rest of the run (the best one), when the profile got that far.
    std::optional<double> final_cap_w;
    int exit_code = 0;              ///< the command's, 128+N when signal N ended it
    std::optional<int> signal;      ///< the signal that ended the command
    std::optional<int> stopped_by;  ///< the signal that stopped joulebench (SIGINT, SIGTERM...)
    double wall_s = 0.0;            ///< the whole run
    double energy_j = 0.0;          ///< the whole run, the capped GPUs
    std::size_t units = 0;          ///< every unit of the run
    std::vector<std::string> gpus;  ///< the capped GPUs, as messages name them
    /// The phases the command marked (README "Markers"): time and the capped GPUs' energy, as
    /// `measure` gives them (offsets from the command's start).
    std::vector<MarkedPhase> phases;
    std::vector<std::string> warnings;
};

/// The command, started with its standard output on a pipe (standard error inherited), in a
/// process group of its own.
class OnlineWorkload {
public:
    virtual ~OnlineWorkload() = default;
    /// Waits until `deadline` at most for output; returns the lines completed so far (without
    /// their '\n'; a last line without one once the output is closed). Throws Error on a read
    /// error. Retries on EINTR (a signal returns early, with what was read).
    virtual std::vector<std::string> read_lines(Clock::time_point deadline) = 0;
    /// The command closed its standard output (it ended, most likely).
    [[nodiscard]] virtual bool output_closed() const = 0;
    /// SIGTERM to its process group, SIGKILL after `grace` if it has not ended. Never throws.
    virtual void terminate(std::chrono::milliseconds grace) noexcept = 0;
    /// Waits for it to end: its exit status, 128+N for signal N (and N in `signal`).
    virtual int wait(std::optional<int>& signal) = 0;
};

struct OnlineDependencies {
    /// The GPUs, their cappers, their sensors, the journal, the guard, the stop flag and where
    /// messages go: the runner's (runner::production_dependencies()); environments are unused.
    runner::RunnerDependencies machine;
    /// Starts the command with these variables added. Throws Error when it cannot start.
    std::function<std::unique_ptr<OnlineWorkload>(
        const std::vector<std::string>& argv,
        const std::vector<std::pair<std::string, std::string>>& set_env)>
        start;
    /// Checks, before the guardian and the first cap, that the command can start (production:
    /// found on PATH and executable). Throws Error. May be empty.
    std::function<void(const std::string& program)> check_command;
    /// Where the command's standard output is passed through, line by line.
    std::FILE* output = stdout;
    /// The live views (docs/live.md), or null: the run "online", its GPUs' power and energy,
    /// each segment's result as a message.
    std::shared_ptr<live::LiveState> live;
};

/// The machine's own: runner::production_dependencies() and start_online_workload.
[[nodiscard]] OnlineDependencies production_online_dependencies();

/// Starts `argv` (PATH search, no shell) with standard output on a pipe, in its own process
/// group. Throws Error (exit status 127/126 when the command is missing / not executable).
[[nodiscard]] std::unique_ptr<OnlineWorkload> start_online_workload(
    const std::vector<std::string>& argv,
    const std::vector<std::pair<std::string, std::string>>& set_env);

/// Runs the online method. Throws Error (kInvalidArgument, exit status 2) before anything runs
/// for bad options, caps outside a GPU's range (the message names the range) or a regex that
/// does not compile; (kNotFound) when there is no GPU; and, after the command was stopped and the
/// caps restored, when no unit was reported within progress_timeout or fewer than 2 caps were
/// profiled. Passes the command's standard output through to joulebench's.
[[nodiscard]] OnlineOutcome run_online(const OnlineOptions& options, OnlineDependencies& deps);

/// The order of the segments: the caps ascending, then descending, alternating for `passes`
/// passes (the cap at a turn is profiled twice in a row: its second segment needs no settle).
[[nodiscard]] std::vector<std::pair<double, unsigned>> online_schedule(
    const std::vector<double>& caps_w, unsigned passes);

/// The result of the segments (pure): per cap, time, energy, EDP and ED2P per unit (medians over
/// its segments), the best cap by the metric, the interval of its metric and the caps that
/// cannot be told apart from it at `confidence`: a t interval and two-sample t tests on the log
/// of the per-unit metric, every segment one replicate and the spread pooled over every cap with
/// two segments or more. runs_used is 1; `confident` when every cap has `passes` segments.
[[nodiscard]] SearchResult online_result(const std::vector<OnlineSegment>& segments,
                                         const OnlineOptions& options);

}  // namespace joulebench::tune
