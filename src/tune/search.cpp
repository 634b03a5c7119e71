#include "tune/search.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <boost/math/distributions/students_t.hpp>
#include <cmath>
#include <span>

#include "joulebench/error.hpp"
#include "joulebench/stats.hpp"
#include "joulebench/units.hpp"

namespace joulebench::tune {

namespace {

constexpr double kGolden = 0.3819660112501051;  // 2 - phi: the golden section's short part
constexpr double kRefineWindow = 4.0;           // steps either side of the best cap

// The metric of one run.
double metric_of(Metric metric, double wall_s, double energy_j) {
    switch (metric) {
        case Metric::kEdp: return energy_delay_product(energy_j, wall_s);
        case Metric::kEd2p: return energy_delay_squared_product(energy_j, wall_s);
        case Metric::kEnergy:
        case Metric::kEnergyWithinSlowdown: return energy_j;
    }
    return energy_j;
}

struct CapData {
    std::vector<double> log_metric;  ///< in observation order
    std::vector<double> wall_s, energy_j;
    double mean_log = 0.0;
    double mean_log_time = 0.0;  ///< of the wall times (the slowdown is judged on it)
    double median_wall = 0.0;
    double median_metric = 0.0;
    std::size_t all_runs = 0;  ///< the runs at this cap, gross outliers included
    std::size_t outliers = 0;  ///< left out of the statistics (drop_gross_outliers)
};

/// A run whose metric is this factor (or more) off its cap's median is a gross outlier: a run
/// disturbed by something else (another job, a stalled start), not run-to-run noise, which is a
/// few percent. Judged only at caps with 3 runs or more, where the median is not one of them.
const double kOutlierLog = std::log(1.5);

// Leaves a cap's gross outliers out of its statistics (they stay counted as runs).
void drop_gross_outliers(CapData& c) {
    c.all_runs = c.log_metric.size();
    if (c.log_metric.size() < 3) return;
    const double median = stats::median(c.log_metric);
    CapData kept;
    for (std::size_t k = 0; k < c.log_metric.size(); ++k) {
        if (std::fabs(c.log_metric[k] - median) > kOutlierLog) continue;
        kept.log_metric.push_back(c.log_metric[k]);
        kept.wall_s.push_back(c.wall_s[k]);
        kept.energy_j.push_back(c.energy_j[k]);
    }
    if (kept.log_metric.size() < 2 || kept.log_metric.size() == c.log_metric.size()) return;
    c.outliers = c.log_metric.size() - kept.log_metric.size();
    c.log_metric = std::move(kept.log_metric);
    c.wall_s = std::move(kept.wall_s);
    c.energy_j = std::move(kept.energy_j);
}

// Which of two caps is better, as far as the data can tell.
struct Comparison {
    bool first_better = true;
    bool told_apart = true;
};

// One replay of the search over the observations known now. The search is a pure function of
// them: every decision is taken again from the start, and the first one that lacks a run names
// it (`need`).
class Replay {
public:
    Replay(const SearchOptions& o, const std::vector<Observation>& observations) : m_o(o) {
        m_caps.resize(o.caps_w.size());
        for (const auto& ob : observations) {
            const auto i = index_of(ob.cap_w);
            if (!i || !(ob.wall_s > 0.0) || !(ob.energy_j > 0.0)) continue;
            CapData& c = m_caps[*i];
            c.log_metric.push_back(std::log(metric_of(o.metric, ob.wall_s, ob.energy_j)));
            c.wall_s.push_back(ob.wall_s);
            c.energy_j.push_back(ob.energy_j);
            ++m_runs;
        }
        for (CapData& c : m_caps) {
            drop_gross_outliers(c);
            m_outliers += c.outliers;
        }
        double ss = 0.0;
        double ss_time = 0.0;
        for (CapData& c : m_caps) {
            if (c.log_metric.empty()) continue;
            const double n = static_cast<double>(c.log_metric.size());
            double sum = 0.0;
            double sum_time = 0.0;
            for (std::size_t k = 0; k < c.log_metric.size(); ++k) {
                sum += c.log_metric[k];
                sum_time += std::log(c.wall_s[k]);
            }
            c.mean_log = sum / n;
            c.mean_log_time = sum_time / n;
            for (std::size_t k = 0; k < c.log_metric.size(); ++k) {
                ss += (c.log_metric[k] - c.mean_log) * (c.log_metric[k] - c.mean_log);
                const double dt = std::log(c.wall_s[k]) - c.mean_log_time;
                ss_time += dt * dt;
            }
            m_df += c.log_metric.size() - 1;
            c.median_wall = stats::median(c.wall_s);
            std::vector<double> m;
            for (std::size_t k = 0; k < c.wall_s.size(); ++k) {
                m.push_back(metric_of(o.metric, c.wall_s[k], c.energy_j[k]));
            }
            c.median_metric = stats::median(m);
        }
        if (m_df > 0) {
            m_sigma = std::sqrt(ss / static_cast<double>(m_df));
            m_sigma_time = std::sqrt(ss_time / static_cast<double>(m_df));
        }
    }

    /// Runs the search; false when it stopped for want of a run (need()). With no budget left,
    /// every decision is taken on the runs there are and the search always ends.
    bool run() {
        std::size_t a = 0;
        std::size_t b = m_caps.size() - 1;
        // The slowdown is judged against the highest cap: two runs there first (its spread too).
        if (m_o.metric == Metric::kEnergyWithinSlowdown && n(b) < 2 && !exhausted()) return want(b);
        // Bracketing: golden-section steps, each decided on the means of the runs there are (one
        // run per cap). A wrong call between two caps of similar metric keeps the optimum (it lies
        // between them) or loses little; the end of the search checks the neighbours.
        while (b - a > 2) {
            const auto step = static_cast<std::size_t>(std::lround(kGolden * static_cast<double>(b - a)));
            std::size_t c = a + std::max<std::size_t>(step, 1);
            std::size_t d = b - std::max<std::size_t>(step, 1);
            if (c >= d) {  // b - a == 4 rounds both to the middle
                c = a + 1;
                d = b - 1;
            }
            const auto r = compare(c, d, false);
            if (!r) return false;
            if (r->first_better) {
                b = d;
            } else {
                a = c;
            }
        }
        // The last caps in turn against the best so far, each comparison a sequential test; then
        // outwards while a neighbour beyond the bracket is better (a wrong bracketing call).
        std::size_t best = a;
        for (std::size_t k = a + 1; k <= b; ++k) {
            const auto r = compare(best, k, true);
            if (!r) return false;
            if (!r->first_better) best = k;
        }
        for (int dir : {-1, +1}) {
            while (true) {
                const std::size_t edge = dir < 0 ? a : b;
                if (best != edge || (dir < 0 && a == 0) || (dir > 0 && b + 1 == m_caps.size())) break;
                const std::size_t k = dir < 0 ? a - 1 : b + 1;
                const auto r = compare(best, k, true);
                if (!r) return false;
                (dir < 0 ? a : b) = k;
                if (r->first_better) break;
                best = k;
            }
        }
        // The fitted minimum, run once when it was not (then the fit is made again with it).
        // A minimum the fit puts at the edge of the caps it saw lies beyond them, maybe: the cap
        // beyond is run too (the window grows one cap at a time, each time fitted again).
        m_best = best;
        if (const auto fit = refine(best)) {
            const auto pick = static_cast<std::size_t>(std::lround(fit->vertex));
            if (!has(pick) && !exhausted()) return want(pick);
            if (!exhausted()) {
                if (fit->vertex <= static_cast<double>(fit->lowest) + 0.5 && fit->lowest > 0 &&
                    !has(fit->lowest - 1)) {
                    return want(fit->lowest - 1);
                }
                if (fit->vertex >= static_cast<double>(fit->highest) - 0.5 &&
                    fit->highest + 1 < m_caps.size() && !has(fit->highest + 1)) {
                    return want(fit->highest + 1);
                }
            }
            m_best = nearest_measured(fit->vertex, best);
        }
        return true;
    }

    [[nodiscard]] std::optional<std::size_t> need() const { return m_need; }
    [[nodiscard]] std::optional<std::size_t> best() const { return m_best; }
    [[nodiscard]] bool guessed() const { return m_guessed; }
    [[nodiscard]] std::size_t runs() const { return m_runs; }
    [[nodiscard]] std::size_t outliers() const { return m_outliers; }
    [[nodiscard]] const std::vector<CapData>& caps() const { return m_caps; }
    [[nodiscard]] std::size_t df() const { return m_df; }
    [[nodiscard]] double sigma() const { return m_sigma; }
    [[nodiscard]] double t_quantile() const {
        if (m_df == 0) return std::numeric_limits<double>::infinity();
        return two_sided_t_critical(static_cast<double>(m_df), m_o.confidence);
    }
    /// Whether two measured caps' metrics differ at the confidence level.
    [[nodiscard]] bool told_apart(std::size_t i, std::size_t j) const {
        if (m_df == 0) return false;
        const CapData& x = m_caps[i];
        const CapData& y = m_caps[j];
        const double se = m_sigma * std::sqrt(1.0 / static_cast<double>(x.log_metric.size()) +
                                              1.0 / static_cast<double>(y.log_metric.size()));
        return std::fabs(x.mean_log - y.mean_log) > t_quantile() * se;
    }
    /// kEnergyWithinSlowdown: the mean log-time at the highest cap, the reference.
    [[nodiscard]] std::optional<double> reference_log_time() const {
        if (m_o.metric != Metric::kEnergyWithinSlowdown || !has(m_caps.size() - 1)) return std::nullopt;
        return m_caps.back().mean_log_time;
    }
    /// The slowdown of a measured cap: its geometric-mean time over the highest cap's, minus 1.
    [[nodiscard]] std::optional<double> slowdown(std::size_t i) const {
        const auto ref = reference_log_time();
        if (!ref || !has(i)) return std::nullopt;
        return std::exp(m_caps[i].mean_log_time - *ref) - 1.0;
    }
    /// Within the slowdown budget (always, for the other metrics).
    [[nodiscard]] bool allowed(std::size_t i) const {
        const auto s = slowdown(i);
        return !s || *s <= m_o.max_slowdown * (1.0 + 1e-12);
    }
    /// Whether the runs cannot yet say on which side of the slowdown bound cap i lies: its
    /// log-time is within the t interval of the bound (pooled spread of the log-times).
    [[nodiscard]] bool near_bound(std::size_t i) const {
        const auto ref = reference_log_time();
        if (!ref || !has(i) || i + 1 == m_caps.size() || m_df == 0) return false;
        const double bound = *ref + std::log1p(m_o.max_slowdown);
        const double se = m_sigma_time * std::sqrt(1.0 / static_cast<double>(n(i)) +
                                                   1.0 / static_cast<double>(n(m_caps.size() - 1)));
        return std::fabs(m_caps[i].mean_log_time - bound) <= t_quantile() * se;
    }

private:
    [[nodiscard]] std::optional<std::size_t> index_of(double cap_w) const {
        const auto& g = m_o.caps_w;
        const auto it = std::lower_bound(g.begin(), g.end(), cap_w - 1e-6);
        if (it == g.end() || std::fabs(*it - cap_w) > 1e-6) return std::nullopt;
        return static_cast<std::size_t>(it - g.begin());
    }
    [[nodiscard]] bool has(std::size_t i) const { return !m_caps[i].log_metric.empty(); }
    [[nodiscard]] std::size_t n(std::size_t i) const { return m_caps[i].log_metric.size(); }
    bool want(std::size_t i) {
        m_need = i;
        return false;
    }
    std::nullopt_t ask(std::size_t i) {
        m_need = i;
        return std::nullopt;
    }

    // The curvature of the metric near the best cap tells where its minimum lies more precisely
    // than pairwise tests can on a flat optimum: a quadratic fitted by weighted least squares
    // (weights: runs) to the mean log-metric of the caps measured within kRefineWindow steps, when
    // at least 4 caps are there and it opens upwards; its vertex, clamped to the caps measured,
    // rounded to the grid. Otherwise the tournament's best.
    struct Fit {
        double vertex = 0.0;      ///< the fitted minimum, as a grid index (fractional)
        std::size_t lowest = 0;   ///< the lowest and highest caps fitted
        std::size_t highest = 0;
    };
    [[nodiscard]] std::optional<Fit> refine(std::size_t best) const {
        double s[5] = {0, 0, 0, 0, 0};  // sums of w x^k
        double t[3] = {0, 0, 0};        // sums of w x^k y
        std::size_t caps = 0;
        double lo = 0.0;
        double hi = 0.0;
        for (std::size_t i = 0; i < m_caps.size(); ++i) {
            const double x = static_cast<double>(i) - static_cast<double>(best);
            if (!has(i) || std::fabs(x) > kRefineWindow || !allowed(i)) continue;
            const double w = static_cast<double>(n(i));
            const double y = m_caps[i].mean_log;
            double xk = w;
            for (int k = 0; k < 5; ++k) {
                s[k] += xk;
                if (k < 3) t[k] += xk * y;
                xk *= x;
            }
            lo = std::min(lo, x);
            hi = std::max(hi, x);
            ++caps;
        }
        // At least 4 caps, with the best between two of them: at the end of the grid (or of what
        // was measured) the tests' answer stands, for a fit there would reach past it.
        if (caps < 4 || lo >= 0.0 || hi <= 0.0) return std::nullopt;
        // Normal equations [s0 s1 s2; s1 s2 s3; s2 s3 s4] b = t, by Cramer's rule.
        const auto det3 = [](double a, double b, double c, double d, double e, double f, double g,
                             double h, double k) {
            return a * (e * k - f * h) - b * (d * k - f * g) + c * (d * h - e * g);
        };
        const double det = det3(s[0], s[1], s[2], s[1], s[2], s[3], s[2], s[3], s[4]);
        const bool solvable = std::fabs(det) >= 1e-12;
        const double b1 = solvable ? det3(s[0], t[0], s[2], s[1], t[1], s[3], s[2], t[2], s[4]) / det : 0.0;
        const double b2 = solvable ? det3(s[0], s[1], t[0], s[1], s[2], t[1], s[2], s[3], t[2]) / det : 0.0;
        const double base = static_cast<double>(best);
        Fit fit{0.0, static_cast<std::size_t>(base + lo), static_cast<std::size_t>(base + hi)};
        if (b2 > 0.0) {
            fit.vertex = base + std::clamp(-b1 / (2.0 * b2), lo, hi);
            return fit;
        }
        // Not convex (a straight slope, noisy): the lower end of the fitted line's slope.
        const double line_det = s[0] * s[2] - s[1] * s[1];
        if (std::fabs(line_det) < 1e-12) return std::nullopt;
        const double slope = (s[0] * t[1] - s[1] * t[0]) / line_det;
        fit.vertex = base + (slope > 0.0 ? lo : hi);
        return fit;
    }

    // The measured, allowed cap nearest to `index` (of two as near, the lower mean log-metric);
    // `fallback` when none is within the refining window.
    [[nodiscard]] std::size_t nearest_measured(double index, std::size_t fallback) const {
        std::size_t pick = fallback;
        double distance = kRefineWindow + 1.0;
        for (std::size_t i = 0; i < m_caps.size(); ++i) {
            if (!has(i) || !allowed(i)) continue;
            const double d = std::fabs(static_cast<double>(i) - index);
            if (d < distance - 1e-9 ||
                (std::fabs(d - distance) <= 1e-9 && m_caps[i].mean_log < m_caps[pick].mean_log)) {
                pick = i;
                distance = d;
            }
        }
        return pick;
    }

    [[nodiscard]] bool exhausted() const { return m_runs >= m_o.budget; }

    // Which of caps i and j is better. nullopt: a run is needed first (need()). `careful`: a
    // sequential test (one more run at a time until the difference is significant at the
    // confidence, or both caps have max_runs_per_cap runs: a tie, decided on the means);
    // otherwise the means of the runs there are. With the budget spent, the runs there are decide
    // (an unmeasured cap loses).
    std::optional<Comparison> compare(std::size_t i, std::size_t j, bool careful) {
        if (!has(i) || !has(j)) {
            if (!exhausted()) return ask(!has(i) ? i : j);
            m_guessed = true;
            return Comparison{has(i) || !has(j), false};
        }
        if (m_o.metric == Metric::kEnergyWithinSlowdown) {
            const bool ai = allowed(i);
            const bool aj = allowed(j);
            // Near the bound, a careful comparison makes sure of the side first.
            for (const std::size_t k : {i, j}) {
                if (careful && ai != aj && near_bound(k) && n(k) < m_o.max_runs_per_cap && !exhausted()) {
                    return ask(k);
                }
            }
            // Time falls as the cap rises: of two caps too slow, the higher is nearer the bound.
            if (!ai && !aj) return Comparison{i > j, true};
            if (ai != aj) return Comparison{ai, true};
        }
        const Comparison by_means{m_caps[i].mean_log <= m_caps[j].mean_log, false};
        if (!careful) return by_means;
        if (told_apart(i, j)) return Comparison{by_means.first_better, true};
        const unsigned most = m_o.max_runs_per_cap;
        if (n(i) >= most && n(j) >= most) return by_means;  // a tie: cannot be told apart
        if (exhausted()) {
            m_guessed = true;
            return by_means;
        }
        return ask(n(i) <= n(j) ? i : j);
    }

    const SearchOptions& m_o;
    std::vector<CapData> m_caps;
    std::size_t m_runs = 0;
    std::size_t m_df = 0;
    double m_sigma = 0.0;
    double m_sigma_time = 0.0;
    std::size_t m_outliers = 0;
    std::optional<std::size_t> m_need;
    std::optional<std::size_t> m_best;
    bool m_guessed = false;  ///< a decision was taken for want of budget
};

Error option_error(const std::string& problem) {
    return Error(ErrorCategory::kInvalidArgument, fmt::format("tune: {}", problem));
}

}  // namespace

std::string_view metric_name(Metric metric) {
    switch (metric) {
        case Metric::kEnergy: return "energy";
        case Metric::kEdp: return "edp";
        case Metric::kEd2p: return "ed2p";
        case Metric::kEnergyWithinSlowdown: return "energy-within-slowdown";
    }
    return "edp";
}

std::optional<Metric> parse_metric(std::string_view text) {
    for (const Metric m :
         {Metric::kEnergy, Metric::kEdp, Metric::kEd2p, Metric::kEnergyWithinSlowdown}) {
        if (metric_name(m) == text) return m;
    }
    return std::nullopt;
}

double two_sided_t_critical(double df, double confidence) {
    const boost::math::students_t dist(df);
    return boost::math::quantile(dist, (1.0 + confidence) / 2.0);
}

std::size_t default_budget(std::size_t cap_count) {
    return std::max<std::size_t>(10, (3 * cap_count) / 4);
}

CapSearch::CapSearch(SearchOptions options) : m_options(std::move(options)) {
    const auto& g = m_options.caps_w;
    if (g.empty()) throw option_error("no caps to search");
    for (std::size_t i = 0; i < g.size(); ++i) {
        if (!std::isfinite(g[i]) || g[i] <= 0.0) {
            throw option_error(fmt::format("cap {} is not a positive power", g[i]));
        }
        if (i > 0 && g[i] <= g[i - 1]) throw option_error("the caps must be ascending and distinct");
    }
    if (!(m_options.confidence > 0.5 && m_options.confidence < 1.0)) {
        throw option_error(fmt::format("confidence {} is outside (0.5, 1)", m_options.confidence));
    }
    if (!(m_options.max_slowdown >= 0.0) || !std::isfinite(m_options.max_slowdown)) {
        throw option_error(fmt::format("max slowdown {} is not a fraction >= 0", m_options.max_slowdown));
    }
    if (m_options.max_runs_per_cap < 2) throw option_error("max_runs_per_cap must be at least 2");
    if (m_options.budget == 0) m_options.budget = default_budget(g.size());
}

std::optional<std::size_t> CapSearch::next(const std::vector<Observation>& observations) const {
    Replay replay(m_options, observations);
    if (replay.run()) return std::nullopt;
    if (replay.runs() >= m_options.budget) return std::nullopt;
    return replay.need();
}

SearchResult CapSearch::result(const std::vector<Observation>& observations) const {
    Replay replay(m_options, observations);
    const bool finished = replay.run();
    SearchResult out;
    out.runs_used = replay.runs();
    if (replay.outliers() > 0) {
        out.notes.push_back(fmt::format(
            "{} run(s) 1.5 times or more off their cap's median left out of the comparisons "
            "(gross outliers; still counted as runs)",
            replay.outliers()));
    }
    out.budget_spent = replay.guessed();
    out.confident = finished && !replay.guessed();
    const auto& caps = replay.caps();
    std::optional<std::size_t> best = replay.best();
    for (std::size_t i = 0; i < caps.size(); ++i) {
        const CapData& c = caps[i];
        if (c.log_metric.empty()) continue;
        CapEvaluation e;
        e.cap_w = m_options.caps_w[i];
        e.runs = c.all_runs;
        e.median_time_s = c.median_wall;
        e.median_energy_j = stats::median(c.energy_j);
        std::vector<double> edp, ed2p;
        for (std::size_t k = 0; k < c.wall_s.size(); ++k) {
            edp.push_back(energy_delay_product(c.energy_j[k], c.wall_s[k]));
            ed2p.push_back(energy_delay_squared_product(c.energy_j[k], c.wall_s[k]));
        }
        e.median_edp_js = stats::median(edp);
        e.median_ed2p_js2 = stats::median(ed2p);
        e.metric = c.median_metric;
        e.allowed = replay.allowed(i);
        e.slowdown = replay.slowdown(i).value_or(0.0);
        out.evaluated.push_back(e);
        // Not finished: the best so far among the allowed caps measured.
        if (!finished && e.allowed && (!best || c.mean_log < caps[*best].mean_log)) best = i;
    }
    if (!best || caps[*best].log_metric.empty()) {
        if (m_options.metric == Metric::kEnergyWithinSlowdown && !out.evaluated.empty()) {
            out.notes.push_back(fmt::format("no cap measured keeps the slowdown within {:g}%",
                                            100.0 * m_options.max_slowdown));
        }
        return out;
    }
    if (!replay.allowed(*best)) {
        out.notes.push_back(fmt::format("no cap measured keeps the slowdown within {:g}%",
                                        100.0 * m_options.max_slowdown));
        return out;
    }
    const CapData& b = caps[*best];
    out.best_cap_w = m_options.caps_w[*best];
    out.best_metric = b.median_metric;
    if (replay.df() > 0) {
        const double half = replay.t_quantile() * replay.sigma() /
                            std::sqrt(static_cast<double>(b.log_metric.size()));
        out.ci_low = std::exp(b.mean_log - half);
        out.ci_high = std::exp(b.mean_log + half);
    } else {
        out.notes.push_back("no cap was run twice: the run-to-run spread is unknown");
    }
    for (std::size_t i = 0; i < caps.size(); ++i) {
        if (i == *best || caps[i].log_metric.empty() || !replay.allowed(i)) continue;
        if (!replay.told_apart(i, *best)) out.indistinguishable_caps_w.push_back(m_options.caps_w[i]);
    }
    if (out.budget_spent) {
        out.notes.push_back(fmt::format("the budget of {} runs was spent before the search ended",
                                        m_options.budget));
    }
    return out;
}

}  // namespace joulebench::tune
