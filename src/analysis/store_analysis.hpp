#pragma once
/// `joulebench analyze DB`: the statistics fed from a results store. The runs of a store
/// are cut into analysis blocks (every factor but the `by` factor: by default one block per
/// workload and power cap), each block's groups (by default its environments) go through
/// stats::analyse_groups exactly as `analyze --csv` does, and when a cap factor has more than one
/// level, stats::analyse_caps gives the first study's cap table. Only runs with status done count;
/// the others are counted and reported. Schema and rules: docs/statistics.md ("analyze DB").
///
/// Part of the analysis layer (above stats and store): it reads the store only through the public
/// Store API (Store::runs, Store::experiment), no SQL of its own, and feeds the pure statistics.

#include <cstddef>
#include <nlohmann/json.hpp>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "joulebench/experiment.hpp"
#include "joulebench/stats.hpp"
#include "joulebench/store.hpp"
#include "joulebench/table.hpp"
#include "model/cpu_energy_marks.hpp"

namespace joulebench::analysis {

/// The JSON schema name of the store analysis.
inline constexpr std::string_view kStoreAnalysisSchema = "joulebench.analysis-store/1";

/// Default of StoreAnalysisOptions::far_apart_fraction: two groups of a block whose medians of
/// start time are more than this fraction of the block's time span apart are "measured in blocks
/// far apart in time".
inline constexpr double kFarApartFraction = 0.5;

/// The factor that forms groups (the others form the blocks).
enum class StoreFactor { kEnvironment, kWorkload, kGpuCap, kCpuCap };
/// "environment", "workload", "gpu_cap", "cpu_cap".
[[nodiscard]] std::string_view to_string(StoreFactor factor);
/// Parses the names of to_string; throws Error (kInvalidArgument) for others.
[[nodiscard]] StoreFactor store_factor_from_string(std::string_view name);

/// The first of environment, workload, GPU cap, CPU cap with more than one level among `runs`;
/// environment when none has.
[[nodiscard]] StoreFactor varying_factor(std::span<const RunRecord> runs);

/// The per-run metrics a store analysis can read: "energy_j", "wall_s", "edp_js", "ed2p_js2",
/// "gpu_energy_j", "cpu_energy_j" (RunRecord columns, see docs/store.md).
[[nodiscard]] const std::vector<std::string>& store_metrics();
/// A run's value of one of store_metrics(); unset when the run has none (or another name).
[[nodiscard]] std::optional<double> metric_value(const RunRecord& r, std::string_view metric);

/// A cap level as a group or block label: "150 W" (format_watts), or "uncapped".
[[nodiscard]] std::string cap_label(const std::optional<double>& cap_w);

struct StoreAnalysisOptions {
    std::string metric = "energy_j";  ///< one of store_metrics()
    /// analyse_store only: the metric of this marked phase of each run instead of the whole run's
    /// (phase_runs.hpp); runs that did not mark it are left out.
    std::optional<std::string> phase;
    StoreFactor by = StoreFactor::kEnvironment;
    /// Choose `by` from the runs instead: the first of environment, workload, GPU cap, CPU cap
    /// with more than one level among them (environment when none has): `analyze DB` without
    /// --by compares along what the experiment varies.
    bool by_what_varies = false;
    /// The baseline group of every block (a level of `by`). Unset with by = environment: the
    /// first environment of type bare in the experiment file, when there is one.
    std::optional<std::string> baseline;
    /// p adjustment, alpha, bootstrap; `baseline` and `metric` of it are set per block.
    stats::AnalysisOptions analysis;
    double far_apart_fraction = kFarApartFraction;  ///< in (0, 1]
    /// false: leave StoreAnalysis::caps empty and add no cap table warnings. The cap tables always
    /// use T and E, whatever the metric, so a caller that analyses several metrics of the same
    /// runs (the report) computes them once.
    bool cap_tables = true;
};

/// The experiment file a store records, parsed once for every analysis of its runs.
struct StoreExperiment {
    std::string name;                    ///< the experiment's name ("" when none is recorded)
    std::optional<ExperimentSpec> spec;  ///< unset: no file recorded, or it does not parse
    std::string parse_error;             ///< why it does not parse ("" when it does or is absent)
};

/// Parses the file of `record` (may be null) with this joulebench. Pure parsing: the file was
/// validated when the store was made. Never throws; a file that does not parse leaves `spec`
/// unset and says why in `parse_error`.
[[nodiscard]] StoreExperiment parse_store_experiment(const ExperimentRecord* record);

/// Start times (Unix seconds) of the runs of one group of a block.
struct GroupStartTimes {
    std::string name;
    std::vector<double> started_at;
};

/// The "measured in blocks far apart in time" rule. For every pair of groups (in order) that both
/// have at least 2 start times: a warning when their ranges of start time do not overlap (one
/// group's last run started before the other's first), or else when their medians of start time
/// are more than `fraction` x the span of all start times of the block apart. One message per
/// offending pair, e.g. "'bare' (runs 1-5 of 15 by start time) and 'docker' (runs 6-10) do not
/// overlap in time". Nothing when the span is 0. Throws Error for fraction outside (0, 1].
[[nodiscard]] std::vector<std::string> far_apart_in_time(std::span<const GroupStartTimes> groups,
                                                         double fraction = kFarApartFraction);

/// One analysis block: the factors held fixed (all but `by`) and the analysis of its groups.
struct StoreBlock {
    std::optional<std::string> workload;     ///< unset when by = workload
    std::optional<std::string> environment;  ///< unset when by = environment
    bool has_gpu_cap = false;                ///< false when by = gpu_cap
    std::optional<double> gpu_cap_w;         ///< nullopt: not capped
    bool has_cpu_cap = false;                ///< false when by = cpu_cap
    std::optional<double> cpu_cap_w;
    std::size_t runs = 0;  ///< runs in the analysis (done, with the metric)
    /// "workload 'resnet', GPU cap 150 W" (a cap domain no run has is left out).
    std::string title;
    stats::Analysis analysis;
    std::vector<std::string> time_warnings;  ///< far_apart_in_time for this block
    /// Whether the energy of its runs includes the CPU-time estimate, attributed or shared CPU
    /// energy (each set when some run's does).
    CpuEnergyMarks cpu;
};

/// The cap table over one cap domain, the other cap held at one level.
struct StoreCapTable {
    std::string domain;                 ///< "gpu" or "cpu": the cap that varies
    std::optional<double> other_cap_w;  ///< the other domain's cap (nullopt: not capped)
    bool other_varies = false;          ///< false when no run has the other domain capped
    std::string baseline;               ///< baseline environment of the overheads ("" when none)
    stats::CapAnalysis caps;            ///< overheads/summary empty when no baseline
};

/// Runs of a store by status, and what was used.
struct StoreRunCounts {
    StatusCounts status;
    std::size_t used = 0;            ///< done runs in the analysis
    std::size_t missing_metric = 0;  ///< done runs without a value of the metric
};

struct StoreAnalysis {
    std::string db;          ///< the store's path
    std::string experiment;  ///< the experiment's name ("" when none recorded)
    std::string metric;
    std::optional<std::string> phase;  ///< the marked phase analysed, unset: whole runs
    StoreFactor by = StoreFactor::kEnvironment;
    std::optional<std::string> baseline;
    StoreRunCounts runs;
    std::vector<StoreBlock> blocks;
    std::vector<StoreCapTable> caps;  ///< empty unless a cap domain has more than one level
    CpuEnergyMarks cpu;               ///< of every run used (the blocks' marks together)
    /// Excluded runs, missing values, blocks without the baseline, blocks measured far apart in
    /// time (prefixed by the block), cap table warnings.
    std::vector<std::string> warnings;
};

/// The analysis of `runs` (any statuses; only done ones are used). `experiment` orders workloads
/// and environments as declared and names the default baseline; a file that does not parse is a
/// warning (groups in order of first appearance). Throws Error (kInvalidArgument) for an unknown
/// metric or a baseline that is no level of `by`, kNotFound when no done run has the metric, and
/// whatever analyse_groups/analyse_caps throw. `db` names the store in messages.
[[nodiscard]] StoreAnalysis analyse_store_runs(std::span<const RunRecord> runs,
                                               const StoreExperiment& experiment,
                                               const StoreAnalysisOptions& options,
                                               std::string_view db = {});

/// Opens nothing: reads runs and experiment of an open store and calls analyse_store_runs; with
/// options.phase, on the runs as that phase sees them (phase_runs), its warnings first. Throws
/// Error (kNotFound) when no done run marked the phase, naming the phases that were marked.
[[nodiscard]] StoreAnalysis analyse_store(const Store& store, const StoreAnalysisOptions& options);

/// The JSON documented in docs/statistics.md: {"schema", "source", "runs", "blocks", "caps",
/// "warnings"}; each block's "analysis" is to_json(Analysis), the object of `analyze --csv`.
[[nodiscard]] nlohmann::json to_json(const StoreAnalysis& analysis);
[[nodiscard]] nlohmann::json to_json(const stats::CapAnalysis& caps);
/// {"total", "done", "failed", "timeout", "interrupted", "not_run"}: the counts of `analyze DB`'s
/// "runs" and of the report's "status".
[[nodiscard]] nlohmann::json to_json(const StatusCounts& counts);

/// The cap tables of one StoreCapTable in the table model: the optima, and with a baseline the
/// overheads per cap and over caps. CSV names them "caps_gpu" or "caps_cpu".
[[nodiscard]] std::vector<Table> cap_tables(const StoreCapTable& table);

/// A line naming the store, metric, factor, baseline and runs used, and a note per CPU mark of
/// the energies shown (CpuEnergyMarks: explain); per block a heading (with the block's marks,
/// "(CPU estimated)") and the tables of stats::render (Markdown titles in bold, under the block's
/// heading); then the cap tables under a heading of their own, and the warnings
/// (docs/statistics.md, "Output"). CSV gives the marks as columns of each block's key table.
[[nodiscard]] std::string render(const StoreAnalysis& analysis, TableFormat format);

}  // namespace joulebench::analysis
