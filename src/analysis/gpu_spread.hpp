#pragma once
// Gang mode's spread between GPUs: the instances of a run ran on every GPU at once under the same
// cap, so differences between GPUs of one model (a few percent in power) show up as a per-GPU
// difference of the same run. One table per workload, for the report and `analyze DB`.

#include <string>
#include <vector>

#include "joulebench/records.hpp"
#include "joulebench/table.hpp"

namespace joulebench::analysis {

/// For workload `workload`: per environment (in `environments` order) and cap level, each GPU's
/// number of done instances, its median energy and time, and how far its median energy lies
/// above the lowest GPU's of the same environment and cap (%). Only done instances of gang-mode
/// runs count; a table without rows when the workload has none.
[[nodiscard]] Table gpu_spread_table(const std::vector<RunRecord>& observations,
                                     const std::string& workload,
                                     const std::vector<std::string>& environments);

}  // namespace joulebench::analysis
