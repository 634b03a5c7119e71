// The online method's result from its segments (online.hpp): pure, numbers in, result out.
//
// Every segment is one replicate of its cap. Replicates are whole segments, not the units inside
// them: successive units of one segment are autocorrelated (thermal state, clocks, the phases of
// the workload), so the spread of per-unit times understates the uncertainty of their mean; the
// batch-means argument (Schmeiser 1982, "Batch size effects in the analysis of simulation
// output", Operations Research 30(3)) takes long batches as nearly independent, and a segment of
// several seconds is such a batch. The passes go up then down the grid, so a slow linear drift
// over the run (warming up, a dataset epoch) adds the same to every cap's mean and cancels in the
// comparisons. The metric is compared on a log scale (ratios, as the search does), with the
// spread pooled over every cap with two segments or more (Student 1908; the pooled two-sample t
// test, e.g. Montgomery, "Design and Analysis of Experiments", ch. 2).

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <map>

#include "joulebench/error.hpp"
#include "joulebench/stats.hpp"
#include "joulebench/units.hpp"
#include "tune/online.hpp"

namespace joulebench::tune {

namespace {

// The metric of one segment, per unit of work.
double segment_metric(const OnlineSegment& s, Metric metric) {
    const double t = s.time_per_unit_s();
    const double e = s.energy_per_unit_j();
    switch (metric) {
        case Metric::kEdp:
            return energy_delay_product(e, t);
        case Metric::kEd2p:
            return energy_delay_squared_product(e, t);
        case Metric::kEnergy:
        case Metric::kEnergyWithinSlowdown:
            return e;
    }
    return e;
}

struct CapSamples {
    std::vector<double> time, energy, edp, ed2p, metric, log_metric;
};

// Mean of the logs, and the sum of squared deviations from it.
struct LogMoments {
    double mean = 0.0;
    double ss = 0.0;
};

LogMoments log_moments(const std::vector<double>& logs) {
    LogMoments m;
    for (const double x : logs) m.mean += x;
    m.mean /= static_cast<double>(logs.size());
    for (const double x : logs) m.ss += (x - m.mean) * (x - m.mean);
    return m;
}

std::map<double, CapSamples> samples_by_cap(const std::vector<OnlineSegment>& segments,
                                            Metric metric) {
    std::map<double, CapSamples> by_cap;
    for (const auto& s : segments) {
        if (s.units == 0 || !(s.seconds > 0.0) || !(s.energy_j > 0.0)) continue;
        CapSamples& c = by_cap[s.cap_w];
        const double t = s.time_per_unit_s();
        const double e = s.energy_per_unit_j();
        c.time.push_back(t);
        c.energy.push_back(e);
        c.edp.push_back(energy_delay_product(e, t));
        c.ed2p.push_back(energy_delay_squared_product(e, t));
        c.metric.push_back(segment_metric(s, metric));
        c.log_metric.push_back(std::log(c.metric.back()));
    }
    return by_cap;
}

std::vector<CapEvaluation> evaluate(const std::map<double, CapSamples>& by_cap,
                                    const OnlineOptions& options) {
    std::vector<CapEvaluation> out;
    for (const auto& [cap, c] : by_cap) {
        CapEvaluation e;
        e.cap_w = cap;
        e.runs = c.metric.size();
        e.median_time_s = stats::median(c.time);
        e.median_energy_j = stats::median(c.energy);
        e.median_edp_js = stats::median(c.edp);
        e.median_ed2p_js2 = stats::median(c.ed2p);
        e.metric = stats::median(c.metric);
        out.push_back(e);
    }
    if (out.empty()) return out;
    // The reference time: the highest cap profiled (ascending map: the last).
    const double reference = out.back().median_time_s;
    for (auto& e : out) {
        e.slowdown = e.median_time_s / reference - 1.0;
        if (options.metric == Metric::kEnergyWithinSlowdown) {
            e.allowed = e.slowdown <= options.max_slowdown + 1e-12;
        }
    }
    return out;
}

// The pooled standard deviation of the log metric and its degrees of freedom.
struct Pooled {
    double sd = 0.0;
    double df = 0.0;
};

Pooled pooled_spread(const std::map<double, CapSamples>& by_cap) {
    double ss = 0.0;
    double df = 0.0;
    for (const auto& [cap, c] : by_cap) {
        if (c.log_metric.size() < 2) continue;
        ss += log_moments(c.log_metric).ss;
        df += static_cast<double>(c.log_metric.size() - 1);
    }
    return {df > 0 ? std::sqrt(ss / df) : 0.0, df};
}

// The interval of the best cap and the caps that cannot be told apart from it.
void compare_with_best(const std::map<double, CapSamples>& by_cap, const OnlineOptions& options,
                       SearchResult& result) {
    const Pooled pooled = pooled_spread(by_cap);
    if (pooled.df <= 0) {
        result.notes.emplace_back(
            "no interval: every cap was profiled once, so the spread between segments is unknown");
        return;
    }
    const double t_crit = two_sided_t_critical(static_cast<double>(pooled.df), options.confidence);
    const CapSamples& best = by_cap.at(*result.best_cap_w);
    const LogMoments b = log_moments(best.log_metric);
    const double nb = static_cast<double>(best.log_metric.size());
    const double half = t_crit * pooled.sd / std::sqrt(nb);
    result.ci_low = std::exp(b.mean - half);
    result.ci_high = std::exp(b.mean + half);
    for (const auto& e : result.evaluated) {
        if (e.cap_w == *result.best_cap_w || !e.allowed) continue;
        const CapSamples& other = by_cap.at(e.cap_w);
        const LogMoments o = log_moments(other.log_metric);
        const double no = static_cast<double>(other.log_metric.size());
        const double se = pooled.sd * std::sqrt(1.0 / nb + 1.0 / no);
        const double diff = std::fabs(o.mean - b.mean);
        const bool apart = se > 0 ? diff / se >= t_crit : diff > 0;
        if (!apart) result.indistinguishable_caps_w.push_back(e.cap_w);
    }
}

}  // namespace

std::vector<std::pair<double, unsigned>> online_schedule(const std::vector<double>& caps_w,
                                                         unsigned passes) {
    std::vector<std::pair<double, unsigned>> out;
    for (unsigned pass = 0; pass < passes; ++pass) {
        if (pass % 2 == 0) {
            for (const double c : caps_w) out.emplace_back(c, pass);
        } else {
            for (auto it = caps_w.rbegin(); it != caps_w.rend(); ++it) out.emplace_back(*it, pass);
        }
    }
    return out;
}

SearchResult online_result(const std::vector<OnlineSegment>& segments,
                           const OnlineOptions& options) {
    SearchResult result;
    result.runs_used = 1;
    const auto by_cap = samples_by_cap(segments, options.metric);
    result.evaluated = evaluate(by_cap, options);
    if (result.evaluated.empty()) return result;
    if (!options.caps_w.empty() && result.evaluated.back().cap_w < options.caps_w.back()) {
        result.notes.push_back(
            fmt::format("the highest cap, {} W, was not profiled: slowdowns are against {} W",
                        options.caps_w.back(), result.evaluated.back().cap_w));
    }
    const CapEvaluation* best = nullptr;
    for (const auto& e : result.evaluated) {
        if (e.allowed && (best == nullptr || e.metric < best->metric)) best = &e;
    }
    if (best == nullptr) {
        result.notes.push_back(
            fmt::format("no cap keeps the slowdown within {:g}%", options.max_slowdown * 100.0));
        return result;
    }
    result.best_cap_w = best->cap_w;
    result.best_metric = best->metric;
    compare_with_best(by_cap, options, result);
    const std::size_t passes = std::max(options.passes, 1U);
    bool complete = result.evaluated.size() == options.caps_w.size();
    for (const auto& e : result.evaluated) complete = complete && e.runs >= passes;
    result.confident = complete && result.ci_low.has_value();
    return result;
}

}  // namespace joulebench::tune
