// The whole analysis of named groups that `joulebench analyze` prints: descriptive statistics,
// Shapiro-Wilk per group, Kruskal-Wallis (and ANOVA when every group is normal), Dunn's post-hoc
// test with adjusted p, Cliff's delta, Mann-Whitney U for two groups, MAD outliers and overheads
// against a baseline. Each method lives in its own file; this one only combines them and turns the
// result into the stable JSON documented in docs/statistics.md.

#include <fmt/core.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>

#include "common.hpp"
#include "common/json_number.hpp"
#include "joulebench/stats.hpp"

namespace joulebench::stats {

namespace {

constexpr std::size_t kFewValues = 5;
constexpr std::size_t kShapiroMax = 5000;

}  // namespace

namespace {

// Every pair (a before b): Dunn's z and p, or, where a group has fewer than kFewValues values,
// the exact Mann-Whitney p when there is one (at n = 3 Dunn said p = 0.0495 beside an exact p of
// 0.1): the p that is adjusted, and that the verdict follows. Cliff's delta and the differences.
std::vector<PairSummary> analyse_pairs(const std::vector<NamedGroup>& groups,
                                       const std::vector<std::span<const double>>& spans,
                                       const std::vector<GroupSummary>& summaries, PAdjust p_adjust) {
    const std::vector<DunnPair> d = dunn(spans);
    std::vector<PairSummary> out(d.size());
    std::vector<double> raw;
    raw.reserve(d.size());
    for (std::size_t i = 0; i < d.size(); ++i) {
        const auto& ga = groups[d[i].a];
        const auto& gb = groups[d[i].b];
        PairSummary& p = out[i];
        p.a = ga.name;
        p.b = gb.name;
        p.dunn_z = d[i].z;
        const bool small = std::min(ga.values.size(), gb.values.size()) < kFewValues;
        if (groups.size() == 2 || small) p.mann_whitney = mann_whitney_u(ga.values, gb.values);
        if (small) {
            p.p_method = p.mann_whitney->exact ? "exact-mann-whitney" : "dunn";
            p.p_unreliable = !p.mann_whitney->exact;
        }
        p.p = p.p_method == "dunn" ? d[i].p : p.mann_whitney->p;
        raw.push_back(p.p);
        p.cliffs_delta = cliffs_delta(ga.values, gb.values);
        p.magnitude = cliffs_magnitude(p.cliffs_delta);
        p.mean_diff = summaries[d[i].a].d.mean - summaries[d[i].b].d.mean;
        const double mb = summaries[d[i].b].d.median;
        p.median_diff_pct = mb == 0.0 ? std::nan("") : 100.0 * (summaries[d[i].a].d.median - mb) / mb;
    }
    const std::vector<double> adj = adjust_p(raw, p_adjust);
    for (std::size_t i = 0; i < out.size(); ++i) out[i].p_adj = adj[i];
    return out;
}

}  // namespace

Analysis analyse_groups(const std::vector<NamedGroup>& groups, const AnalysisOptions& options) {
    if (groups.empty()) {
        throw Error(ErrorCategory::kInvalidArgument, "stats: analyse groups: no groups given");
    }
    if (!(options.alpha > 0.0 && options.alpha < 1.0)) {
        throw Error(ErrorCategory::kInvalidArgument,
                    "stats: analyse groups: alpha must lie strictly between 0 and 1");
    }
    std::set<std::string> names;
    for (const auto& g : groups) {
        if (!names.insert(g.name).second) {
            throw Error(ErrorCategory::kInvalidArgument,
                        "stats: analyse groups: group '" + g.name + "' appears twice");
        }
        if (g.values.empty()) {
            throw Error(ErrorCategory::kInvalidArgument,
                        "stats: analyse groups: group '" + g.name + "' has no values");
        }
        detail::require_finite_nonempty(g.values, "analyse group '" + g.name + "'");
    }
    std::optional<std::size_t> baseline;
    if (options.baseline) {
        for (std::size_t i = 0; i < groups.size(); ++i) {
            if (groups[i].name == *options.baseline) baseline = i;
        }
        if (!baseline) {
            std::string known;
            for (const auto& g : groups) known += (known.empty() ? "" : ", ") + g.name;
            throw Error(
                ErrorCategory::kInvalidArgument,
                "stats: analyse groups: baseline '" + *options.baseline + "' is not a group",
                "groups are: " + known);
        }
    }

    Analysis out;
    out.metric = options.metric;
    out.p_adjust = options.p_adjust;
    out.alpha = options.alpha;
    out.bootstrap = options.bootstrap;
    bool all_normal = true;
    for (const auto& g : groups) {
        GroupSummary s;
        s.name = g.name;
        s.d = describe(g.values);
        if (g.values.size() >= 3 && g.values.size() <= kShapiroMax) {
            s.shapiro = shapiro_wilk(g.values);
            s.normal = !s.shapiro->zero_range && s.shapiro->p > options.alpha;
            if (s.shapiro->zero_range) {
                out.warnings.push_back(fmt::format(
                    "group '{}': all {} values are equal; Shapiro-Wilk is undefined (W = p = 1 "
                    "reported, as SciPy)",
                    g.name, g.values.size()));
            }
        } else {
            out.warnings.push_back(fmt::format(
                "group '{}': Shapiro-Wilk needs 3 to 5000 values, the group has {}; normality not "
                "tested",
                g.name, g.values.size()));
        }
        all_normal = all_normal && s.normal;
        if (g.values.size() < kFewValues) {
            out.warnings.push_back(
                fmt::format("group '{}' has {} values (fewer than {}): the tests have little power",
                            g.name, g.values.size(), kFewValues));
        }
        s.median_ci95 = bootstrap_median_ci(g.values, options.bootstrap, g.name);
        s.outliers = mad_outliers(g.values);
        if (!s.outliers.empty()) {
            std::string list;
            for (const std::size_t i : s.outliers) {
                list += fmt::format("{}{:.6g}", list.empty() ? "" : ", ", g.values[i]);
            }
            out.warnings.push_back(fmt::format(
                "group '{}': {} outlier(s) by |x - median| / (1.4826 MAD) > {} ({}); kept in the "
                "analysis",
                g.name, s.outliers.size(), kOutlierThreshold, list));
        }
        out.groups.push_back(std::move(s));
    }

    if (groups.size() >= 2) {
        std::vector<std::span<const double>> spans;
        spans.reserve(groups.size());
        for (const auto& g : groups) spans.emplace_back(g.values);
        out.kruskal = kruskal_wallis(spans);
        if (std::isnan(out.kruskal->h)) {
            out.warnings.push_back(
                "every value in every group is equal: Kruskal-Wallis and Dunn are undefined");
        }
        if (all_normal) out.anova = one_way_anova(spans);
        out.pairs = analyse_pairs(groups, spans, out.groups, options.p_adjust);
    }

    if (baseline) {
        const auto& base = groups[*baseline];
        if (median(base.values) == 0.0) {
            out.warnings.push_back(fmt::format(
                "baseline '{}' has median 0: overheads in percent are undefined", base.name));
        } else {
            for (std::size_t i = 0; i < groups.size(); ++i) {
                if (i == *baseline) continue;
                BaselineOverhead o;
                o.group = groups[i].name;
                o.baseline = base.name;
                o.overhead = median_overhead(groups[i].values, base.values, options.bootstrap,
                                             groups[i].name + '\x1f' + base.name);
                out.baseline.push_back(std::move(o));
            }
        }
    }
    return out;
}

namespace {

nlohmann::json interval(const Interval& i) {
    return {json_number(i.lo), json_number(i.hi)};
}

}  // namespace

nlohmann::json to_json(const Analysis& a) {
    nlohmann::json j;
    j["schema"] = "joulebench.analysis/1";
    j["metric"] = a.metric;
    j["alpha"] = a.alpha;
    j["p_adjust"] = std::string(to_string(a.p_adjust));
    j["bootstrap"] = {{"method", "percentile"},
                      {"resamples", a.bootstrap.resamples},
                      {"seed", a.bootstrap.seed},
                      {"level", a.bootstrap.level}};
    j["groups"] = nlohmann::json::array();
    for (const auto& g : a.groups) {
        nlohmann::json o;
        o["name"] = g.name;
        o["n"] = g.d.n;
        o["mean"] = json_number(g.d.mean);
        o["median"] = json_number(g.d.median);
        o["std"] = json_number(g.d.std);
        o["min"] = json_number(g.d.min);
        o["max"] = json_number(g.d.max);
        o["q1"] = json_number(g.d.q1);
        o["q3"] = json_number(g.d.q3);
        o["shapiro_w"] = g.shapiro ? json_number(g.shapiro->w) : nlohmann::json(nullptr);
        o["shapiro_p"] = g.shapiro ? json_number(g.shapiro->p) : nlohmann::json(nullptr);
        o["normal"] = g.normal;
        o["median_ci95"] = interval(g.median_ci95);
        o["outliers"] = g.outliers;
        j["groups"].push_back(std::move(o));
    }
    if (a.kruskal) {
        nlohmann::json om = {{"test", "kruskal-wallis"},
                             {"statistic", json_number(a.kruskal->h)},
                             {"df", static_cast<std::int64_t>(a.kruskal->df)},
                             {"p", json_number(a.kruskal->p)}};
        if (a.anova) {
            om["anova"] = {{"test", "one-way-anova"},
                           {"statistic", json_number(a.anova->f)},
                           {"df_between", static_cast<std::int64_t>(a.anova->df_between)},
                           {"df_within", static_cast<std::int64_t>(a.anova->df_within)},
                           {"p", json_number(a.anova->p)}};
        }
        j["omnibus"] = std::move(om);
    } else {
        j["omnibus"] = nullptr;
    }
    j["pairs"] = nlohmann::json::array();
    for (const auto& p : a.pairs) {
        nlohmann::json o = {{"a", p.a},
                            {"b", p.b},
                            {"dunn_z", json_number(p.dunn_z)},
                            {"p", json_number(p.p)},
                            {"p_method", p.p_method},
                            {"p_unreliable", p.p_unreliable},
                            {"p_adj", json_number(p.p_adj)},
                            {"cliffs_delta", json_number(p.cliffs_delta)},
                            {"magnitude", std::string(to_string(p.magnitude))},
                            {"mean_diff", json_number(p.mean_diff)},
                            {"median_diff_pct", json_number(p.median_diff_pct)}};
        if (p.mann_whitney) {
            o["mann_whitney"] = {{"u", json_number(p.mann_whitney->u)},
                                 {"p", json_number(p.mann_whitney->p)},
                                 {"method", p.mann_whitney->exact ? "exact" : "asymptotic"}};
        }
        j["pairs"].push_back(std::move(o));
    }
    if (a.baseline.empty()) {
        j["baseline"] = nullptr;
    } else {
        nlohmann::json b;
        b["name"] = a.baseline.front().baseline;
        b["overheads"] = nlohmann::json::array();
        for (const auto& o : a.baseline) {
            b["overheads"].push_back({{"group", o.group},
                                      {"median_pct", json_number(o.overhead.pct)},
                                      {"ci95", interval(o.overhead.ci)}});
        }
        j["baseline"] = std::move(b);
    }
    j["warnings"] = a.warnings;
    return j;
}

}  // namespace joulebench::stats
