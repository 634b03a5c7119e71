#pragma once
// Shards of one experiment run on several nodes (joulebench submit): each node runs every cell,
// so a cell whose runs differ significantly between nodes shows that a node's hardware (or its
// neighbours) shifts the results. `analyze DB` and the report warn about it.

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "joulebench/records.hpp"

namespace joulebench::analysis {

/// One warning per cell (workload, environment, GPU cap, CPU cap) whose done runs of `metric`
/// differ between the nodes they ran on: Kruskal-Wallis across the nodes with at least two
/// runs of the cell, p Bonferroni-adjusted over every cell tested, below `alpha`. `node_of`
/// maps a session id to its node; runs of unknown node are left out. None with fewer than two
/// nodes.
[[nodiscard]] std::vector<std::string> node_differences(
    const std::vector<RunRecord>& runs, const std::map<std::int64_t, std::string>& node_of,
    std::string_view metric, double alpha = 0.05);

}  // namespace joulebench::analysis
