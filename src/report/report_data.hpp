#pragma once
// `joulebench report DB`: everything a report shows, computed from a results store into one
// model, then written as a self-contained HTML page (html_report.cpp) or as Markdown / LaTeX
// tables (table_report.cpp). No statistic is computed here: medians, intervals, overheads, tests
// and verdicts come from `analyze DB` (analysis::analyse_store_runs, once per metric, over the
// experiment file parsed once), best caps and overheads over caps from stats::analyse_caps
// through it (computed once). The model only arranges them (and counts warnings); its tables are
// the one table model (joulebench/table.hpp). Every chart and table is documented in
// docs/report.md.
//
// Internal header (src/): used by the CLI, the tests and the benchmark helper.

#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "analysis/store_analysis.hpp"
#include "joulebench/stats.hpp"
#include "joulebench/store.hpp"
#include "joulebench/table.hpp"

namespace joulebench::report {

/// JSON schema name of the data embedded in the HTML page (docs/report.md).
inline constexpr std::string_view kReportSchema = "joulebench.report/1";

/// The three per-run metrics of the curves, in report order: T (wall_s), E (energy_j), EDP.
[[nodiscard]] const std::vector<std::string>& report_metrics();
/// A metric's heading with its unit: "T (s)", "E (J)", "EDP (J s)" (other names unchanged).
[[nodiscard]] std::string metric_name(const std::string& metric);

struct ReportOptions {
    /// Environment the overheads are computed against; unset: the first environment of the
    /// experiment file that has a done run.
    std::optional<std::string> baseline;
    /// Run whose sample trace is drawn; unset: the done run of median energy (lower median).
    std::optional<std::string> trace_run;
    /// p adjustment, alpha and bootstrap of the statistics (as `analyze`).
    stats::AnalysisOptions analysis;
    /// At most this many points per domain in the power-over-time chart (bucket means beyond).
    std::size_t max_trace_points = 2000;
    /// At most this many failed runs listed one by one in the warnings box.
    std::size_t max_failed_listed = 50;
};

/// One point of a curve: the median of one metric over the done runs of one (workload,
/// environment, cap level), with the percentile-bootstrap 95% interval of that median.
struct CurvePoint {
    std::string environment;
    std::optional<double> cap_w;  ///< the value of the varying cap (unset: uncapped or mixed)
    std::string cap_label;        ///< "150 W", "uncapped", "GPU 150 W / CPU 50 W"
    std::string metric;           ///< one of report_metrics()
    std::size_t n = 0;
    double median = 0.0;
    double lo = 0.0;  ///< 95% interval of the median (bootstrap)
    double hi = 0.0;
    double q1 = 0.0;  ///< quartiles, minimum and maximum (stats::describe): the box plots
    double q3 = 0.0;
    double min = 0.0;
    double max = 0.0;
};

/// Overhead in % of the baseline's median at one cap level, with its bootstrap 95% interval.
struct OverheadPoint {
    std::string environment;
    std::optional<double> cap_w;
    std::string cap_label;
    std::string metric;
    double pct = 0.0;
    double lo = 0.0;
    double hi = 0.0;
};

/// The analyze statistics of one block (workload and cap level) for one metric.
struct StatisticsBlock {
    std::string title;   ///< "workload 'resnet', GPU cap 150 W"
    std::string metric;  ///< one of report_metrics()
    stats::Analysis analysis;
    std::vector<std::string> verdicts;  ///< stats::verdicts(analysis)
};

struct WorkloadReport {
    std::string name;
    /// How the cap axis is drawn: "quantitative" (one cap domain varies, every level a number),
    /// "ordinal" (levels as labels: uncapped mixed with caps, or both domains vary), "single"
    /// (one level only: points per environment, no line).
    std::string cap_axis;
    std::string cap_title;                ///< axis title, e.g. "GPU power cap (W)"
    std::vector<std::string> cap_levels;  ///< labels, in axis order
    std::vector<CurvePoint> curves;
    std::vector<OverheadPoint> overheads;  ///< non-baseline environments only
    Table best_caps;                       ///< E, EDP, ED2P optima per environment
    Table overhead_summary;                ///< average and maximum over caps
    Table gpu_spread;  ///< gang mode: per-GPU medians under the same cap (no rows otherwise)
    std::vector<StatisticsBlock> statistics;
};

/// A run as the charts see it (distributions, order of runs).
struct RunPoint {
    std::string run_id;
    std::int64_t plan_index = 0;
    std::string workload;
    std::string environment;
    std::string cap_label;
    unsigned repetition = 0;
    std::string status;
    std::string variant;             ///< "workload / environment / cap"
    std::optional<double> start_s;   ///< seconds since the first run's start
    std::optional<double> wall_s;    ///< T
    std::optional<double> energy_j;  ///< E
};

/// The power-over-time chart of one run.
struct TracePoint {
    double t_s = 0.0;    ///< seconds since the measurement started
    std::string domain;  ///< sensor id, or "total" (sum of the domains that count in the total)
    double power_w = 0.0;
};

struct TraceReport {
    std::string run_id;  ///< "" when the store has no run to show
    std::string title;   ///< "run 0123abcd...: resnet / bare / 150 W, repetition 2"
    bool chosen_by_user = false;
    std::size_t rows = 0;                ///< rows in the stored trace
    std::size_t bucket = 1;              ///< rows averaged into one point
    std::optional<double> idle_power_w;  ///< the run's idle power (total), drawn as a rule
    std::vector<TracePoint> points;
    std::string note;  ///< why there is nothing to draw, or how it was thinned
};

/// One line of the warnings box.
struct WarningEntry {
    std::string source;  ///< "plan", "runs", "failed run", "analysis", "report"
    std::string text;    ///< for aggregated run warnings: one example
    std::size_t count = 1;
    std::string code{};  ///< run warnings: their code (joulebench/warning.hpp); "" for the rest
};

struct ReportModel {
    std::string db;
    std::string generated_at;  ///< UTC, ISO 8601
    std::string joulebench_version;
    ExperimentRecord experiment;
    std::optional<std::string> baseline;
    StatusCounts status;
    std::vector<std::string> environments;  ///< in declared order
    std::vector<WorkloadReport> workloads;  ///< in declared order, only those with done runs
    std::vector<RunPoint> runs;             ///< every run, plan order
    TraceReport trace;
    Table idle_baselines;
    std::vector<Table> context;  ///< experiment, sessions (host), environments (images)
    std::vector<WarningEntry> warnings;
    /// The `analyze DB` analyses (by environment, against `baseline`), one per metric of
    /// report_metrics() that some done run has. Only the first holds the cap tables (`caps`):
    /// they use T and E whatever the metric, so they are computed once.
    std::vector<analysis::StoreAnalysis> analyses;
};

/// Builds the report of an open store. Throws Error: kNotFound when the store has no run or no
/// done run with T or E, kInvalidArgument for a baseline that is no environment with done runs
/// or a trace run that is not in the store, and what the statistics throw.
[[nodiscard]] ReportModel build_report(const Store& store, const ReportOptions& options);

/// The data of the page (schema kReportSchema, documented in docs/report.md). NaN -> null.
[[nodiscard]] nlohmann::json to_json(const ReportModel& model);

/// The self-contained HTML page: data, Vega, Vega-Lite, vega-embed and the page's own script
/// inlined; nothing is loaded from anywhere.
[[nodiscard]] std::string render_html(const ReportModel& model);

/// The tables of the report (context, best caps, overheads, statistics, warnings) as Markdown
/// (kMarkdown) or LaTeX booktabs tabulars (kLatex), titles as bold captions under the report's
/// headings. Throws Error (kInvalidArgument) for the other formats.
[[nodiscard]] std::string render_tables(const ReportModel& model, TableFormat format);

/// JSON text safe inside <script>: every '<' written as \u003c (only possible inside strings).
[[nodiscard]] std::string json_for_script(const nlohmann::json& doc);

}  // namespace joulebench::report
