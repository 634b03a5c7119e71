#pragma once
// What the store's files share (store.cpp, store_runs.cpp, store_traces.cpp, store_merge.cpp,
// migrations.cpp): the statements, the run columns and their reader, the trace encoding.

#include <cstdint>
#include <string>
#include <vector>

#include "joulebench/records.hpp"
#include "store/sqlite.hpp"

namespace joulebench::store_detail {

using sqlite::Statement;
using sqlite::Transaction;

/// PRAGMA application_id of a joulebench store ("JBst"), so other SQLite files are told apart.
inline constexpr int kApplicationId = 0x4a427374;

[[nodiscard]] bool is_end_status(RunStatus s);
/// "'done', 'failed'": the statuses as an SQL list.
[[nodiscard]] std::string status_list_sql(const std::vector<RunStatus>& statuses);

/// The columns read_run reads, in its order (a SELECT list over `runs`).
extern const char* const kRunColumns;
[[nodiscard]] RunRecord read_run(const Statement& q);

/// Little-endian float64 encoding of trace values (explicit, so a store written on one machine
/// reads the same on any other).
void put_double(std::string& out, double value);
[[nodiscard]] double get_double(const unsigned char* p);

}  // namespace joulebench::store_detail
