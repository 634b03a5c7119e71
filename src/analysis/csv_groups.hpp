#pragma once
// `joulebench analyze --csv`: named groups of values read from a tidy CSV for the statistics.

#include <filesystem>
#include <string_view>
#include <vector>

#include "joulebench/stats.hpp"

namespace joulebench::analysis {

/// Reads `value_column` of a tidy CSV (RFC 4180: header row, comma separated, fields optionally in
/// double quotes with "" for a quote, CRLF or LF) grouped by `group_column`, groups in order of
/// first appearance. Empty lines are skipped. Throws Error naming the file and line for: a missing
/// file (kNotFound), a column not in the header, a row with the wrong number of fields, an
/// unterminated quote, an empty or non-numeric value, or NaN/infinity (kInvalidArgument).
[[nodiscard]] std::vector<stats::NamedGroup> read_groups_csv(const std::filesystem::path& path,
                                                      std::string_view group_column,
                                                      std::string_view value_column);

}  // namespace joulebench::analysis
