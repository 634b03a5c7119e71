#pragma once
// Internal to the report part: the steps of build_report (report_data.cpp), one file each by
// what they build: the workloads' curves and cap tables (report_workloads.cpp), the warnings
// (report_warnings.cpp), the power-over-time trace (report_trace.cpp), the context tables
// (report_context.cpp); the model's JSON is report_json.cpp.

#include <optional>
#include <string>
#include <vector>

#include "analysis/store_analysis.hpp"
#include "report/report_data.hpp"

namespace joulebench::report {

/// How cap levels are named and placed on the axis, for the whole store: which domains vary.
struct CapScheme {
    bool gpu_varies = false;
    bool cpu_varies = false;

    /// "150 W", "uncapped", or "GPU 150 W / CPU 50 W" when both domains vary.
    [[nodiscard]] std::string label(const std::optional<double>& gpu,
                                    const std::optional<double>& cpu) const;
    /// The varying cap in W; unset when uncapped or when both domains vary.
    [[nodiscard]] std::optional<double> value(const std::optional<double>& gpu,
                                              const std::optional<double>& cpu) const;
    /// The axis title, e.g. "GPU power cap (W)".
    [[nodiscard]] std::string title() const;
};

/// A Unix time as "2024-05-01 12:00:00 UTC" ("n/a" when not finite).
[[nodiscard]] std::string utc(double unix_s);

/// The report of each workload of `workloads` (in that order) that has a done run: curves,
/// overheads and statistics from the blocks of `m.analyses`, best caps and overheads over caps
/// from the cap tables of the first analysis. Reads m.analyses, m.baseline, m.environments.
[[nodiscard]] std::vector<WorkloadReport> workload_reports(
    const ReportModel& m, const std::vector<std::string>& workloads, const CapScheme& scheme);

/// Appends to m.warnings: the plan's warnings (`spec` unset: none), the runs' warnings
/// (`run_warnings`, Store::warnings()) aggregated by code, the runs that did not finish (at most
/// options.max_failed_listed one by one), the runs not run yet, and the analyses' warnings (each
/// text once).
void add_warnings(ReportModel& m, const std::vector<RunRecord>& runs,
                  const std::vector<std::pair<std::string, Warning>>& run_warnings,
                  const std::optional<ExperimentSpec>& spec, const CapScheme& scheme,
                  const ReportOptions& options);

/// The power-over-time chart: options.trace_run, or the done run of median energy (lower median).
/// Throws Error (kInvalidArgument, `err` + ...) for a trace run that is not in `runs`.
[[nodiscard]] TraceReport build_trace(const Store& store, const std::vector<RunRecord>& runs,
                                      const std::vector<RunPoint>& points,
                                      const ReportOptions& options, const std::string& err);

/// The phases the workloads marked, per variant and phase: median time and energy over the
/// done runs (report_phases.cpp); unset when no done run marked any.
[[nodiscard]] std::optional<Table> marked_phases_table(const Store& store, const ReportModel& m);

/// Every idle measurement of the store, with a note when there is none.
[[nodiscard]] Table idle_baselines_table(const Store& store);

/// The context tables: the experiment, each session's host, the environments, and the images
/// beside the median energy per workload (when some environment has an image audit).
[[nodiscard]] std::vector<Table> context_tables(const Store& store, const ReportModel& m,
                                                const std::optional<ExperimentSpec>& spec,
                                                const std::vector<RunRecord>& runs,
                                                const ReportOptions& options);

}  // namespace joulebench::report
