#pragma once
// What `joulebench sweep` prints after its runs: per cap, the done runs' medians of T, E, EDP and
// ED2P (stats::analyse_caps's medians, the same numbers `analyze DB` and the report use), how
// many runs did not finish, and whether their energy includes estimated, attributed or shared
// CPU energy; then the best cap for E, EDP and ED2P. As a table (the table model), its
// footnotes, and the JSON of `sweep --json` (README).

#include <cstddef>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "joulebench/records.hpp"
#include "joulebench/stats.hpp"
#include "joulebench/table.hpp"
#include "model/cpu_energy_marks.hpp"

namespace joulebench::analysis {

struct SweepRow {
    double cap_w = 0.0;
    std::size_t n = 0;       ///< done runs with a positive T and E
    std::size_t failed = 0;  ///< failed, timed out, interrupted or never run
    std::optional<double> wall_s, energy_j, edp_js, ed2p_js2;  ///< medians over the n runs
    CpuEnergyMarks cpu;  ///< of the n runs together
};

struct SweepSummary {
    std::vector<SweepRow> rows;  ///< one per cap, ascending
    std::optional<stats::CapOptimum> best;  ///< unset when no run finished
};

/// The summary of a sweep's runs (its store's) over `caps_w`. Runs at other caps are ignored.
[[nodiscard]] SweepSummary summarise_sweep(const std::vector<RunRecord>& runs,
                                           const std::vector<double>& caps_w);

/// The per-cap table: cap W, n, median T s, median E J (marked *, +, ! as `cpu`), EDP J·s,
/// ED2P J·s², failed; numbers with 4 significant digits, "-" for none.
[[nodiscard]] Table sweep_table(const SweepSummary& summary, const std::string& title);

/// The footnote line of each mark used in the table, then the "best cap: ..." line.
[[nodiscard]] std::string sweep_footer(const SweepSummary& summary);

/// {"command": [...], "caps": [{power_cap_w, n, failed, wall_s, energy_j, edp_js, ed2p_js2,
/// cpu_estimated, cpu_attributed, cpu_shared}], "best": {energy_j, edp_js, ed2p_js2}}: the caps
/// that minimise each, null when no run finished.
[[nodiscard]] nlohmann::json to_json(const SweepSummary& summary,
                                     const std::vector<std::string>& command);

}  // namespace joulebench::analysis
