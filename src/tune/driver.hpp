#pragma once
// `joulebench tune --method search` on this machine: the CapSearch (search.hpp) asks for one run
// at a time; each is run by the same Runner as `run` and `sweep` (caps checked against every GPU's
// range before the first run, the journal and guardian, the store), as the run of the tune
// experiment (model/sweep.hpp, named "tune") at that cap with the next unused repetition. The
// search reads its observations back from the store, so an interrupted tune resumes with the
// same --db. Docs: docs/tune.md.

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "live/live_state.hpp"
#include "runner/runner.hpp"
#include "tune/report.hpp"

namespace joulebench::tune {

struct SearchRequest {
    std::vector<std::string> command;
    SearchOptions options;  ///< budget 0: default_budget()
    std::string gpus;       ///< as sweep's --gpus
    std::optional<std::uint64_t> seed;
    std::filesystem::path db;
    std::chrono::milliseconds interval{100};
    std::string command_line;  ///< recorded with each session
    /// The live views (--metrics-listen): the plan is the budget; null: none.
    std::shared_ptr<live::LiveState> live;
    bool plain = false;  ///< --plain: as RunnerOptions::plain
};

/// Runs one Runner (production: runner::Runner with production_dependencies()); tests replace it.
using RunOne = std::function<runner::RunnerSummary(ExperimentSpec, runner::RunnerOptions)>;

struct SearchOutcome {
    TuneReport report;
    std::optional<int> stopped_by_signal;
    bool caps_restored = true;
};

/// The search until it ends, its budget is spent, a signal stops a run, or a cap cannot be
/// restored. Throws Error for what stops the runner before its first run (no GPU, a cap outside
/// a GPU's range, another experiment in the store) and when every repetition of a cap failed.
[[nodiscard]] SearchOutcome run_search(const SearchRequest& request, std::FILE* messages,
                                       const RunOne& run_one = {});

}  // namespace joulebench::tune
