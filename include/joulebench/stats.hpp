#pragma once
/// Statistics of joulebench: pure functions, one source file per method under src/stats/, each
/// citing its source. Every function is deterministic (bootstraps are seeded) and thread-safe.
///
/// Conventions used throughout (see docs/statistics.md for the full reference):
/// - Values are plain doubles in the unit of the metric being analysed (J, s, J*s, ...); results
///   carry the same unit unless a name says otherwise (`_pct` is percent, `p` is a probability).
/// - A result that is mathematically undefined for the input (e.g. the standard deviation of one
///   value) is NaN, never an exception; NaN is written as `null` in JSON.
/// - Input that no method can work with (empty samples, NaN or infinite values, fewer than two
///   groups where a comparison is asked for) throws joulebench::Error (kInvalidArgument).

#include <cstddef>
#include <cstdint>
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "joulebench/table.hpp"

namespace joulebench::stats {

// ----------------------------------------------------------------------------------------------
// Descriptive statistics (src/stats/descriptive.cpp, src/stats/bootstrap.cpp)

/// A closed interval [lo, hi] in the unit of the statistic it bounds.
struct Interval {
    double lo = 0.0;
    double hi = 0.0;
};

/// n, mean, median, sample standard deviation (n - 1), min, max and quartiles of one sample.
struct Descriptive {
    std::size_t n = 0;
    double mean = 0.0;
    double median = 0.0;
    double std = 0.0;  ///< n - 1 in the denominator; NaN when n < 2.
    double min = 0.0;
    double max = 0.0;
    double q1 = 0.0;  ///< 25th percentile, numpy's default ("linear", Hyndman & Fan type 7).
    double q3 = 0.0;  ///< 75th percentile, same definition.
};

/// Describes a sample. Throws Error (kInvalidArgument) when it is empty or holds NaN/infinity.
[[nodiscard]] Descriptive describe(std::span<const double> values);

/// The q-quantile (0 <= q <= 1) of a sample *already sorted ascending*, by numpy's default
/// "linear" method (Hyndman & Fan 1996, definition 7). Throws Error when empty or q is outside.
[[nodiscard]] double quantile_sorted(std::span<const double> sorted, double q);

/// The median (mean of the two middle values for even n). Throws Error when empty.
[[nodiscard]] double median(std::span<const double> values);

/// Options of the percentile bootstrap (Efron & Tibshirani 1993, ch. 13).
struct BootstrapOptions {
    std::size_t resamples = 10000;  ///< resamples drawn (with replacement), at least 100
    std::uint64_t seed = 20240521;  ///< base seed; the stream also depends on a caller-given key
    double level = 0.95;            ///< confidence level, 0 < level < 1
};

/// Percentile-bootstrap confidence interval of the median. The same (values, options, key) give the
/// same interval on every platform (xoshiro256++ and an unbiased bounded draw written out here,
/// not std::uniform_int_distribution whose output is implementation-defined). `key` (e.g. the group
/// name) decorrelates the streams of different groups. n = 1 gives [x, x].
/// Throws Error on empty input or invalid options.
[[nodiscard]] Interval bootstrap_median_ci(std::span<const double> values,
                                           const BootstrapOptions& options = {},
                                           std::string_view key = {});

// ----------------------------------------------------------------------------------------------
// Ranks (src/stats/ranks.cpp)

/// Average ranks (1-based, ties get the mean of the ranks they span), like scipy.stats.rankdata.
[[nodiscard]] std::vector<double> rank_average(std::span<const double> values);

/// Sum over tie groups of (t^3 - t), t the size of each group of equal values.
[[nodiscard]] double tie_sum(std::span<const double> values);

// ----------------------------------------------------------------------------------------------
// Normality (src/stats/shapiro_wilk.cpp)

/// Shapiro-Wilk W statistic and its p-value.
struct ShapiroWilk {
    double w = 1.0;
    double p = 1.0;
    bool zero_range = false;  ///< all values equal: W = 1 and p = 1 by convention (as SciPy)
};

/// Shapiro-Wilk test by Royston's algorithm AS R94 (Royston 1995), computed as SciPy's swilk.f and
/// R's swilk.c do; n from 3 to 5000 (the range of the p-value approximation).
/// Throws Error (kInvalidArgument) for n < 3, n > 5000 or non-finite values.
[[nodiscard]] ShapiroWilk shapiro_wilk(std::span<const double> values);

// ----------------------------------------------------------------------------------------------
// Omnibus tests (src/stats/kruskal_wallis.cpp, src/stats/anova.cpp)

/// Kruskal-Wallis H test result.
struct KruskalWallis {
    double h = 0.0;   ///< H corrected for ties; NaN when every value is equal
    double df = 0.0;  ///< groups - 1
    double p = 1.0;   ///< upper tail of chi-square(df) at H; NaN when H is NaN
};

/// Kruskal-Wallis H test (Kruskal & Wallis 1952) with the tie correction, as scipy.stats.kruskal.
/// Throws Error for fewer than two groups, an empty group or non-finite values.
[[nodiscard]] KruskalWallis kruskal_wallis(const std::vector<std::span<const double>>& groups);

/// One-way ANOVA result.
struct Anova {
    double f = 0.0;
    double df_between = 0.0;
    double df_within = 0.0;
    double p = 1.0;
};

/// One-way ANOVA F test (Fisher 1925), as scipy.stats.f_oneway: when every group is constant, F is
/// +inf and p = 0 if the groups differ, NaN and NaN if they are all equal; with as many values as
/// groups (no within-group degrees of freedom) F and p are NaN.
/// Throws Error for fewer than two groups, an empty group or non-finite values.
[[nodiscard]] Anova one_way_anova(const std::vector<std::span<const double>>& groups);

// ----------------------------------------------------------------------------------------------
// Post-hoc and pairwise (src/stats/dunn.cpp, p_adjust.cpp, cliffs_delta.cpp, mann_whitney.cpp)

/// One pair of Dunn's test.
struct DunnPair {
    std::size_t a = 0;  ///< group index, a < b
    std::size_t b = 0;
    double z = 0.0;  ///< (mean rank a - mean rank b) / SE; NaN when every value is equal
    double p = 1.0;  ///< two-sided, unadjusted
};

/// Dunn's test (Dunn 1964) on ranks of all groups pooled, with the tie correction of the standard
/// error: SE = sqrt((N(N+1)/12 - sum(t^3 - t)/(12(N-1))) (1/n_a + 1/n_b)). Pairs in order
/// (0,1), (0,2), ..., (1,2), ... Throws Error as kruskal_wallis.
[[nodiscard]] std::vector<DunnPair> dunn(const std::vector<std::span<const double>>& groups);

/// How p-values of a family of tests are adjusted.
enum class PAdjust { kBonferroni, kHolm, kNone };

/// "bonferroni", "holm", "none".
[[nodiscard]] std::string_view to_string(PAdjust method);
/// Parses the names of to_string; throws Error (kInvalidArgument) for others.
[[nodiscard]] PAdjust p_adjust_from_string(std::string_view name);

/// Adjusts p-values for multiple comparisons: Bonferroni (Dunn 1961), min(1, m p); Holm's
/// step-down (Holm 1979) with monotonicity enforced and capped at 1 (as statsmodels'
/// multipletests). NaN p-values stay NaN and do not count in m. Throws on p outside [0, 1].
[[nodiscard]] std::vector<double> adjust_p(std::span<const double> p, PAdjust method);

/// Magnitude of Cliff's delta by the thresholds of Romano et al. (2006).
enum class Magnitude { kNegligible, kSmall, kMedium, kLarge };
[[nodiscard]] std::string_view to_string(Magnitude magnitude);
/// |d| < 0.147 negligible, < 0.33 small, < 0.474 medium, otherwise large (Romano et al. 2006).
[[nodiscard]] Magnitude cliffs_magnitude(double delta);

/// Cliff's delta (Cliff 1993): (#(a > b) - #(a < b)) / (n_a n_b), in [-1, 1]. O((n_a + n_b) log)
/// by sorting. Throws Error on an empty sample or non-finite values.
[[nodiscard]] double cliffs_delta(std::span<const double> a, std::span<const double> b);

/// Mann-Whitney U test result (two-sided).
struct MannWhitney {
    double u = 0.0;  ///< U of the first sample: R_a - n_a(n_a+1)/2
    double p = 1.0;
    bool exact = false;  ///< exact null distribution used (else normal approximation)
};

/// Mann-Whitney U test (Mann & Whitney 1947), two-sided, as scipy.stats.mannwhitneyu's defaults
/// (SciPy 1.10, method "auto"): the exact distribution when there are no ties and either sample
/// has at most 8 values; otherwise the normal approximation with the tie correction of the
/// variance and a continuity correction of 0.5. p is 1 when every value is equal (as SciPy).
/// Throws Error on an empty sample or non-finite values.
[[nodiscard]] MannWhitney mann_whitney_u(std::span<const double> a, std::span<const double> b);

// ----------------------------------------------------------------------------------------------
// Outliers and overheads (src/stats/outliers.cpp, src/stats/overhead.cpp)

/// Threshold of the modified z-score |x - median| / (1.4826 MAD) above which a value is flagged
/// (Iglewicz & Hoaglin 1993, who recommend 3.5).
inline constexpr double kOutlierThreshold = 3.5;

/// Indices (ascending) of the values whose modified z-score exceeds `threshold`. When the MAD is
/// zero the scale falls back to 1.253314 x the mean absolute deviation from the median; when that
/// is zero too nothing is flagged. Values are flagged, never removed. Throws Error on empty input.
[[nodiscard]] std::vector<std::size_t> mad_outliers(std::span<const double> values,
                                                    double threshold = kOutlierThreshold);

/// Overhead of a group against a baseline, in percent of the baseline's median.
struct Overhead {
    double pct = 0.0;  ///< 100 (median(group) - median(baseline)) / median(baseline)
    Interval ci;       ///< percentile-bootstrap interval of pct (group and baseline resampled)
};

/// Overhead in percent of the medians with a seeded percentile-bootstrap CI (both samples resampled
/// independently). Throws Error on empty samples or when the baseline median is zero.
[[nodiscard]] Overhead median_overhead(std::span<const double> group,
                                       std::span<const double> baseline,
                                       const BootstrapOptions& options = {},
                                       std::string_view key = {});

// ----------------------------------------------------------------------------------------------
// Power caps (src/stats/power_caps.cpp)

/// One measured run under a power cap.
struct CapRun {
    std::string environment;  ///< e.g. "bare", "docker", "kvm"
    std::string workload;
    double cap_w = 0.0;     ///< the power cap, W
    double time_s = 0.0;    ///< T, s
    double energy_j = 0.0;  ///< E, J
};

/// Per environment and workload, the caps that minimise E, EDP = E T and ED2P = E T^2.
struct CapOptimum {
    std::string environment;
    std::string workload;
    double cap_min_energy_w = 0.0;
    double cap_min_edp_w = 0.0;
    double cap_min_ed2p_w = 0.0;
    double min_energy_j = 0.0;
    double min_edp_js = 0.0;
    double min_ed2p_js2 = 0.0;
};

/// Overheads of one environment against the baseline environment at one cap, in percent.
struct CapOverhead {
    std::string environment;
    std::string workload;
    double cap_w = 0.0;
    double time_pct = 0.0;
    double energy_pct = 0.0;
    double edp_pct = 0.0;
};

/// Average and maximum over caps of the overheads of CapOverhead (the headline table).
struct CapOverheadSummary {
    std::string environment;
    std::string workload;
    std::size_t caps = 0;  ///< caps present in both the environment and the baseline
    double time_avg_pct = 0.0;
    double time_max_pct = 0.0;
    double energy_avg_pct = 0.0;
    double energy_max_pct = 0.0;
    double edp_avg_pct = 0.0;
    double edp_max_pct = 0.0;
};

/// The medians of one environment and workload at one cap, over its n runs: what the optima and
/// the overheads are computed from (and what `sweep` prints per cap).
struct CapMedians {
    std::string environment;
    std::string workload;
    double cap_w = 0.0;
    std::size_t n = 0;
    double time_s = 0.0;    ///< median T
    double energy_j = 0.0;  ///< median E
    double edp_js = 0.0;    ///< median of E T per run
    double ed2p_js2 = 0.0;  ///< median of E T^2 per run
};

/// Everything analyse_caps computes.
struct CapAnalysis {
    /// Every environment x workload x cap with runs, in the order of the optima, caps ascending.
    std::vector<CapMedians> medians;
    std::vector<CapOptimum> optima;      ///< every environment (baseline included) x workload
    std::vector<CapOverhead> overheads;  ///< non-baseline environments, per workload and cap
    std::vector<CapOverheadSummary> summary;
    std::vector<std::string>
        warnings;  ///< e.g. caps measured for an environment but not the baseline
};

/// The first study's analysis over power caps. Repeated runs of one (environment, workload, cap)
/// are summarised by the median of T, of E, of E T and of E T^2 taken per run. The cap minimising a
/// metric is the one with the smallest median (the lowest cap wins an exact tie). Overhead at a cap
/// is 100 (m_env - m_base) / m_base for T, E and EDP; the maximum over caps is the largest signed
/// value. Order: environments, workloads and caps in order of first appearance, caps ascending.
/// Throws Error on no rows, empty names, non-finite or non-positive cap, T or E, or when the
/// baseline environment does not appear in the rows.
[[nodiscard]] CapAnalysis analyse_caps(std::span<const CapRun> runs,
                                       std::string_view baseline_environment);

// ----------------------------------------------------------------------------------------------
// The whole analysis of named groups (src/stats/analysis.cpp): what `joulebench analyze` prints.

/// A named sample; the unit of analysis of `joulebench analyze`, fed from a CSV or a store.
struct NamedGroup {
    std::string name;
    std::vector<double> values;
};

struct AnalysisOptions {
    PAdjust p_adjust = PAdjust::kBonferroni;
    std::optional<std::string> baseline;  ///< group to compute overheads against
    BootstrapOptions bootstrap;
    double alpha = 0.05;           ///< significance level for "normal" and the verdicts
    std::string metric = "value";  ///< what the values are ("Energy (J)"), for the verdicts
};

struct GroupSummary {
    std::string name;
    Descriptive d;
    std::optional<ShapiroWilk> shapiro;  ///< absent when n < 3 or n > 5000
    bool normal = false;                 ///< Shapiro p > alpha (false when not tested)
    Interval median_ci95;
    std::vector<std::size_t> outliers;  ///< indices into the group's values (MAD rule)
};

struct PairSummary {
    std::string a;
    std::string b;
    double dunn_z = 0.0;
    double p = 1.0;
    double p_adj = 1.0;
    double cliffs_delta = 0.0;
    Magnitude magnitude = Magnitude::kNegligible;
    double mean_diff = 0.0;  ///< mean(a) - mean(b)
    double median_diff_pct =
        0.0;  ///< 100 (median(a) - median(b)) / median(b); NaN if median(b) = 0
    /// With exactly two groups, or when either group has fewer than 5 values (its p is then
    /// what `p` holds when exact).
    std::optional<MannWhitney> mann_whitney;
    /// "dunn"; "exact-mann-whitney" when either group has fewer than 5 values and the exact
    /// Mann-Whitney p exists (no ties): Dunn's normal approximation is unreliable that small, so
    /// `p` is the exact p and `p_adj` its adjustment, and the verdict follows it.
    std::string p_method = "dunn";
    /// Fewer than 5 values in a group and ties rule out the exact test: `p` is Dunn's asymptotic
    /// p, which is unreliable here; the verdict says so instead of calling a difference.
    bool p_unreliable = false;
};

struct BaselineOverhead {
    std::string group;
    std::string baseline;
    Overhead overhead;
};

struct Analysis {
    std::string metric;
    PAdjust p_adjust = PAdjust::kBonferroni;
    double alpha = 0.05;
    BootstrapOptions bootstrap;
    std::vector<GroupSummary> groups;
    std::optional<KruskalWallis> kruskal;  ///< absent with a single group
    std::optional<Anova> anova;      ///< present when there are >= 2 groups, all tested normal
    std::vector<PairSummary> pairs;  ///< every (a, b) with a before b in group order
    std::vector<BaselineOverhead> baseline;  ///< every other group against options.baseline
    std::vector<std::string> warnings;
};

/// Runs every method on the groups, in their given order. Throws Error for no groups, an empty
/// group, duplicate names, non-finite values, or a baseline that names no group.
[[nodiscard]] Analysis analyse_groups(const std::vector<NamedGroup>& groups,
                                      const AnalysisOptions& options);

/// The stable JSON form documented in docs/statistics.md (NaN and infinity become null).
[[nodiscard]] nlohmann::json to_json(const Analysis& analysis);

/// Output formats of render(): the table model's (joulebench/table.hpp).
using TableFormat = joulebench::TableFormat;
/// Parses "text", "md", "tex", "csv"; throws Error (kInvalidArgument) for others.
[[nodiscard]] TableFormat table_format_from_string(std::string_view name);

/// The tables a paper would print (groups, omnibus, pairs, baseline overheads), as the table
/// model holds them; render() writes them.
[[nodiscard]] std::vector<Table> tables(const Analysis& analysis);

/// tables(analysis) written with render_table in `format` and `style`, a blank line apart;
/// kText adds a plain-language verdict per pair and the warnings, kMarkdown the warnings.
[[nodiscard]] std::string render(const Analysis& analysis, TableFormat format,
                                 const TableStyle& style = {});

/// The plain-language verdict of each pair, in pair order, as render(kText) prints them
/// ("python-base uses 3.0% more energy than pytorch-base; large effect (...), p < 0.001").
[[nodiscard]] std::vector<std::string> verdicts(const Analysis& analysis);

}  // namespace joulebench::stats
