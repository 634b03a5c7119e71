#pragma once
// The options `sweep` and `tune` share (a grid of GPU power caps run as an experiment): one
// definition, so the two commands spell and explain them alike.

#include <CLI/CLI.hpp>
#include <fmt/core.h>

#include <cstdint>
#include <optional>
#include <string>

#include "live_options.hpp"
#include "option_checks.hpp"

namespace joulebench::cli {

struct GridOptions : LiveOptions {
    std::string caps;
    std::string gpus;
    std::string db;
    std::string json;
    std::optional<std::uint64_t> seed;
    unsigned interval_ms = 100;
};

/// Adds --caps (required), --gpus, --db, --json, --seed, --interval and the live-view options
/// (live_options.hpp) to `sub`. `work` names
/// what the command does in the help texts: "sweep", "search".
inline void add_grid_options(CLI::App& sub, GridOptions& o, const std::string& work) {
    sub.add_option("--caps", o.caps,
                   "GPU power caps in watts: FROM:TO:STEP (TO included when reached) or a comma list "
                   "150,200,250 (at most 200)")
        ->required();
    sub.add_option("--gpus", o.gpus,
                   "GPU slots: all, or indices in PCI bus order (0,1); default: one run at a time, every "
                   "GPU capped");
    sub.add_option("--db", o.db,
                   fmt::format("Keep the runs in this store (SQLite); the same command with the same --db "
                               "resumes an interrupted {0}; default: a temporary store, removed after a clean {0}",
                               work));
    sub.add_option("--json", o.json, "Write the result as JSON to this file (- for standard output)");
    sub.add_option("--seed", o.seed, "Seed of the shuffled run order, recorded with the experiment (default: fixed)");
    sub.add_option("--interval", o.interval_ms, "Trace interval in milliseconds (default 100)")
        ->check(number_range(1U, 3'600'000U));
    add_live_options(sub, o);
}

}  // namespace joulebench::cli
