#pragma once
// The cap search of `joulebench tune --method search` (docs/tune.md): which GPU cap to run next,
// from what was measured so far, to find the cap that minimises energy, EDP, ED2P, or energy
// within a slowdown budget, with a fraction of a sweep's runs.
//
// Pure: numbers in, decisions out (no process, no store, no clock). The search is a function of
// the observations alone: next() replays it from the start over every observation known now and
// answers the first run it lacks, so a search resumed from a store (or given its observations in
// another order within a cap) continues where it stopped.
//
// Method (docs/tune.md): golden-section search (Kiefer 1953, "Sequential minimax search for a
// maximum") on the indices of the cap grid with one run per cap; then the last caps and their
// neighbours compared by sequential two-sample t-tests on the log of the metric, the run-to-run
// spread pooled over every cap measured more than once (one more run at a time until the
// difference is significant at the requested confidence, or both caps have max_runs_per_cap
// runs: a tie, decided on the means); then a weighted quadratic fit of the log-metric near the
// best (Box & Wilson 1951), whose vertex names the answer, the caps it points to run first.
// Plateaus (caps above what the GPU draws) are ties, and any of their caps is optimal.

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace joulebench::tune {

enum class Metric { kEnergy, kEdp, kEd2p, kEnergyWithinSlowdown };

/// "energy", "edp", "ed2p", "energy-within-slowdown".
[[nodiscard]] std::string_view metric_name(Metric metric);
/// The inverse of metric_name(); nullopt for any other text.
[[nodiscard]] std::optional<Metric> parse_metric(std::string_view text);

/// One finished run: its cap and what it measured (both positive).
struct Observation {
    double cap_w = 0.0;
    double wall_s = 0.0;
    double energy_j = 0.0;
};

struct SearchOptions {
    std::vector<double> caps_w;  ///< the grid, ascending and distinct (at least one cap)
    Metric metric = Metric::kEdp;
    /// kEnergyWithinSlowdown: a cap is allowed when its median time is at most
    /// (1 + max_slowdown) times the median time at the highest cap.
    double max_slowdown = 0.10;
    std::size_t budget = 0;          ///< most runs in all; 0: default_budget(caps)
    double confidence = 0.95;        ///< of each comparison's two-sided test, in (0.5, 1)
    unsigned max_runs_per_cap = 3;   ///< a comparison gives up (a tie) beyond this
};

/// The default budget: a quarter of a sweep with 3 repetitions per cap (rounded down), and at
/// least 10 runs (a search over a few caps needs that many to end).
[[nodiscard]] std::size_t default_budget(std::size_t cap_count);

/// The two-sided critical value of Student's t with `df` degrees of freedom (> 0) at
/// `confidence`: the one both methods' intervals and tests use.
[[nodiscard]] double two_sided_t_critical(double df, double confidence);

/// A cap of the grid, evaluated: medians over its runs (metric of kEnergyWithinSlowdown: energy).
struct CapEvaluation {
    double cap_w = 0.0;
    std::size_t runs = 0;
    double median_time_s = 0.0;
    double median_energy_j = 0.0;
    double median_edp_js = 0.0;
    double median_ed2p_js2 = 0.0;
    double metric = 0.0;        ///< the metric's median
    bool allowed = true;        ///< kEnergyWithinSlowdown: within the slowdown budget
    double slowdown = 0.0;      ///< geometric-mean time / that at the highest cap - 1 (0: not known)
};

struct SearchResult {
    std::optional<double> best_cap_w;  ///< unset when nothing was measured (or nothing allowed)
    double best_metric = 0.0;          ///< the best cap's median metric
    /// The geometric mean of the best cap's metric with its interval at `confidence`, from the
    /// pooled log-scale spread (a t interval; unset with fewer than 2 runs in all at one cap).
    std::optional<double> ci_low, ci_high;
    /// Evaluated caps whose metric cannot be told apart from the best's at `confidence`.
    std::vector<double> indistinguishable_caps_w;
    std::vector<CapEvaluation> evaluated;  ///< ascending by cap
    std::size_t runs_used = 0;
    bool budget_spent = false;  ///< stopped by the budget before the search ended
    /// The search ended by its rule (not by the budget) with every comparison significant or a
    /// tie at max_runs_per_cap.
    bool confident = false;
    std::vector<std::string> notes;  ///< e.g. "no cap keeps the slowdown within 10%"
};

class CapSearch {
public:
    /// Throws Error (kInvalidArgument) on an empty or unsorted grid or options out of range.
    explicit CapSearch(SearchOptions options);

    /// The cap to run next (an index into caps_w), or nullopt when the search is over (its rule
    /// ended it or the budget is spent). Observations at caps off the grid are ignored.
    [[nodiscard]] std::optional<std::size_t> next(const std::vector<Observation>& observations) const;

    /// The answer from the observations so far (also before the search is over).
    [[nodiscard]] SearchResult result(const std::vector<Observation>& observations) const;

    [[nodiscard]] const SearchOptions& options() const { return m_options; }

private:
    SearchOptions m_options;
};

}  // namespace joulebench::tune
