#pragma once
// What `joulebench tune` found, however it searched (docs/tune.md): the answer of the search or
// of the online method, what it cost, and what a full sweep would have cost; as text (the table
// model) and as the JSON of `tune --json` (README, "tune").

#include <cstddef>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "model/cpu_energy_marks.hpp"
#include "tune/search.hpp"

namespace joulebench::tune {

struct TuneReport {
    std::string method = "search";  ///< "search" or "online"
    SearchOptions options;          ///< caps, metric, max_slowdown, budget, confidence
    std::vector<std::string> command;
    SearchResult result;
    std::size_t runs_attempted = 0;  ///< every run started (done or not); 1 for online
    std::size_t runs_failed = 0;     ///< failed, timed out or interrupted runs among them
    /// The runs of a sweep of the same caps with 3 repetitions each, and its time at the mean
    /// time per run of this search (start to end of each run, rests excluded).
    std::size_t full_sweep_runs = 0;
    std::optional<double> full_sweep_time_s;
    double machine_time_s = 0.0;  ///< the runs' time, start to end
    double energy_spent_j = 0.0;  ///< the runs' energy (as each run's total)
    /// What the runs' energy totals include of the CPU (estimated, attributed, shared), all runs
    /// together: said under the table and in the JSON, as `sweep` says it.
    CpuEnergyMarks cpu;
    std::vector<std::string> notes;
};

/// The per-cap table and the lines under it: best cap with its interval, the caps that cannot be
/// told apart, runs and what a full sweep would cost, notes.
[[nodiscard]] std::string render_text(const TuneReport& report);

/// The `tune --json` document (keys in the README): best_cap_w, metric, metric_value, ci,
/// indistinguishable_caps_w, runs_used, runs_failed, budget, budget_spent, full_sweep_runs,
/// full_sweep_time_s, machine_time_s, energy_spent_j, evaluated[], confident, method, ...
[[nodiscard]] nlohmann::json to_json(const TuneReport& report);

}  // namespace joulebench::tune
