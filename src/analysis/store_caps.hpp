#pragma once
// Internal to the analysis part: the cap tables of `analyze DB` (store_caps.cpp), one step of
// analyse_store_runs (store_analysis.cpp).

#include <optional>
#include <span>
#include <string>
#include <vector>

#include "analysis/ordering.hpp"
#include "analysis/store_analysis.hpp"

namespace joulebench::analysis {

/// The cap tables over the done runs of `runs` that have a positive, finite T and E: per cap
/// domain with more than one level, one at each level of the other domain, environments and
/// workloads in the order of `environments` and `workloads` (which learn names they lack).
/// `baseline`: the environment of the overheads (unset or absent from a table: optima only).
/// Appends the warnings (runs left out, no baseline, analyse_caps's) to `warnings`. Throws what
/// stats::analyse_caps throws.
[[nodiscard]] std::vector<StoreCapTable> analyse_cap_tables(
    std::span<const RunRecord> runs, NameOrder& environments, NameOrder& workloads,
    const std::optional<std::string>& baseline, std::vector<std::string>& warnings);

}  // namespace joulebench::analysis
