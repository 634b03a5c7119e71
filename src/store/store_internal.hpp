#pragma once
// What the store's files share (store.cpp, store_runs.cpp, store_traces.cpp, store_merge.cpp,
// migrations.cpp): the statements, the run columns and their reader, the trace encoding.

#include <cstdint>
#include <optional>
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

/// A finished run's start and end (Unix seconds): the outcome's, else its measurement's (or its
/// first instance's start and last instance's end), else the time it was marked running.
struct Span {
    double started_at = 0.0;
    double ended_at = 0.0;
};
[[nodiscard]] Span run_span(const RunOutcome& outcome, double marked_running_at);

/// The measured figures of a run's (or instance's) row.
struct Figures {
    std::optional<double> wall_s, cpu_user_s, cpu_system_s, energy_j, gpu_energy_j, cpu_energy_j;
    std::optional<double> edp_js, ed2p_js2, idle_power_w, net_energy_j;
    bool includes_estimate = false;
    std::optional<std::string> measure_json;  ///< the whole measure document
};
/// From a measurement (null: only the wall time of `span`).
[[nodiscard]] Figures figures_of(const MeasureResult* m, const Span& span);
/// Gang mode: the run from its instances (docs/store.md).
[[nodiscard]] Figures figures_of(const std::vector<InstanceOutcome>& instances, const Span& span);
/// Binds wall_s, cpu_user_s, cpu_system_s, energy_j, gpu_energy_j, cpu_energy_j, edp_js,
/// ed2p_js2, total_includes_estimate, idle_power_w, net_energy_j to parameters first...first+10.
void bind_figures(Statement& s, int first, const Figures& f);
/// The energy of the domains that count in the total: GPU, and the rest (CPU).
[[nodiscard]] std::pair<std::optional<double>, std::optional<double>> gpu_and_cpu_energy(
    const MeasureResult& m);
/// Inserts a measurement's domains with indices from `first_index`; returns the next index.
int insert_domains(sqlite3* db, const std::string& run_id, const MeasureResult& m, int instance,
                   int first_index);
/// Inserts a measurement's marked phases (table run_marked_phases).
void insert_marked_phases(sqlite3* db, const std::string& run_id, const MeasureResult& m,
                          int instance);
/// Gang mode: the instance rows and their domains.
void insert_instances(sqlite3* db, const std::string& run_id,
                      const std::vector<InstanceOutcome>& instances);

/// Little-endian float64 encoding of trace values (explicit, so a store written on one machine
/// reads the same on any other).
void put_double(std::string& out, double value);
[[nodiscard]] double get_double(const unsigned char* p);

}  // namespace joulebench::store_detail
