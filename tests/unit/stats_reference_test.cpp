// Every statistical method against reference values computed independently with SciPy 1.10 and
// NumPy by tests/data/stats/make_reference.py (data sets: n = 1..5, 1000+, 5000, ties, unequal
// sizes, zero variance). Tolerances: Shapiro W 2e-4 and p 1e-3 absolute; the rest 1e-9 relative.

#include <gtest/gtest.h>

#include "joulebench/stats.hpp"
#include "stats_test_util.hpp"

namespace joulebench::stats {
namespace {

using test::near_rel;
using test::near_rel_or_zero;

const nlohmann::json& reference() {
    static const nlohmann::json ref =
        test::load_json(std::string(JOULEBENCH_TEST_DATA_DIR) + "/stats/reference.json");
    return ref;
}

std::vector<std::span<const double>> spans(const std::vector<std::vector<double>>& groups) {
    return {groups.begin(), groups.end()};
}

std::vector<std::vector<double>> groups_of(const nlohmann::json& set) {
    return set.at("groups").get<std::vector<std::vector<double>>>();
}

TEST(StatsReference, CoversTheCasesTheIssueAsksFor) {
    const auto& ref = reference();
    std::size_t small = 0;
    std::size_t large = 0;
    for (const auto& s : ref.at("samples")) {
        const auto n = s.at("values").size();
        small += n >= 3 && n <= 5 ? 1 : 0;
        large += n >= 1000 ? 1 : 0;
    }
    EXPECT_GE(small, 4U);
    EXPECT_GE(large, 3U);
    EXPECT_GE(ref.at("group_sets").size(), 10U);
    EXPECT_EQ(ref.at("meta").at("scipy").get<std::string>().substr(0, 4), "1.10");
}

TEST(StatsReference, DescriptiveMatchesNumpy) {
    for (const auto& s : reference().at("samples")) {
        SCOPED_TRACE(s.at("name").get<std::string>());
        const auto x = test::doubles(s.at("values"));
        const Descriptive d = describe(x);
        const auto& e = s.at("describe");
        EXPECT_EQ(d.n, e.at("n").get<std::size_t>());
        EXPECT_TRUE(near_rel(d.mean, e.at("mean")));
        EXPECT_TRUE(near_rel(d.median, e.at("median")));
        EXPECT_TRUE(near_rel(d.std, e.at("std"))) << "std";
        EXPECT_TRUE(near_rel(d.min, e.at("min")));
        EXPECT_TRUE(near_rel(d.max, e.at("max")));
        EXPECT_TRUE(near_rel(d.q1, e.at("q1"))) << "q1";
        EXPECT_TRUE(near_rel(d.q3, e.at("q3"))) << "q3";
        EXPECT_TRUE(near_rel(median(x), e.at("median")));
    }
}

TEST(StatsReference, QuantilesMatchNumpyLinear) {
    const auto& ref = reference();
    for (const auto& q : ref.at("quantiles")) {
        const auto name = q.at("sample").get<std::string>();
        SCOPED_TRACE(name + " q=" + q.at("q").dump());
        for (const auto& s : ref.at("samples")) {
            if (s.at("name") != name) continue;
            auto x = test::doubles(s.at("values"));
            std::sort(x.begin(), x.end());
            EXPECT_TRUE(near_rel(quantile_sorted(x, q.at("q").get<double>()), q.at("value")));
        }
    }
}

TEST(StatsReference, RanksAndTiesMatchScipy) {
    for (const auto& s : reference().at("samples")) {
        SCOPED_TRACE(s.at("name").get<std::string>());
        const auto x = test::doubles(s.at("values"));
        const auto ranks = rank_average(x);
        const auto expected = test::doubles(s.at("ranks"));
        ASSERT_EQ(ranks.size(), expected.size());
        for (std::size_t i = 0; i < ranks.size(); ++i) EXPECT_DOUBLE_EQ(ranks[i], expected[i]);
        EXPECT_DOUBLE_EQ(tie_sum(x), s.at("tie_sum").get<double>());
    }
}

TEST(StatsReference, ShapiroWilkMatchesScipyWithinTolerance) {
    std::size_t checked = 0;
    for (const auto& s : reference().at("samples")) {
        if (!s.contains("shapiro")) continue;
        SCOPED_TRACE(s.at("name").get<std::string>());
        const auto x = test::doubles(s.at("values"));
        const ShapiroWilk r = shapiro_wilk(x);
        EXPECT_NEAR(r.w, s.at("shapiro").at("w").get<double>(), test::kShapiroW);
        // SciPy 1.10 evaluates swilk.f in single precision (float32 arrays): at n = 5000, where
        // W is within 2e-4 of 1, that alone moves its p by ~4e-3. Above 1500 values p is held
        // to the float64 reference below instead (the script checks both agree up to 1500).
        if (x.size() <= 1500) {
            EXPECT_NEAR(r.p, s.at("shapiro").at("p").get<double>(), test::kShapiroP);
        }
        // The independent float64 NumPy implementation of Royston (1995) in the script.
        const auto& f64 = s.at("shapiro_float64");
        EXPECT_TRUE(near_rel(r.w, f64.at("w"), 1e-9)) << "W vs float64 reference";
        EXPECT_TRUE(near_rel(r.p, f64.at("p"), 1e-6)) << "p vs float64 reference";
        ++checked;
    }
    EXPECT_GE(checked, 20U);
}

TEST(StatsReference, OutliersMatchTheMadRuleComputedInNumpy) {
    for (const auto& s : reference().at("samples")) {
        SCOPED_TRACE(s.at("name").get<std::string>());
        const auto x = test::doubles(s.at("values"));
        EXPECT_EQ(mad_outliers(x), s.at("outliers").get<std::vector<std::size_t>>());
    }
}

TEST(StatsReference, KruskalWallisMatchesScipy) {
    for (const auto& set : reference().at("group_sets")) {
        SCOPED_TRACE(set.at("name").get<std::string>());
        const auto g = groups_of(set);
        const KruskalWallis r = kruskal_wallis(spans(g));
        EXPECT_TRUE(near_rel(r.h, set.at("kruskal").at("h"))) << "H";
        EXPECT_TRUE(near_rel(r.p, set.at("kruskal").at("p"))) << "p";
        EXPECT_DOUBLE_EQ(r.df, set.at("kruskal").at("df").get<double>());
    }
}

TEST(StatsReference, AnovaMatchesScipyFOneway) {
    for (const auto& set : reference().at("group_sets")) {
        SCOPED_TRACE(set.at("name").get<std::string>());
        const auto g = groups_of(set);
        const Anova r = one_way_anova(spans(g));
        const auto& e = set.at("anova");
        if (e.at("f_is_inf").get<bool>()) {
            EXPECT_TRUE(std::isinf(r.f));
            EXPECT_EQ(r.p, 0.0);
            continue;
        }
        EXPECT_TRUE(near_rel(r.f, e.at("f"), 1e-9)) << "F";
        EXPECT_TRUE(near_rel(r.p, e.at("p"), 1e-9)) << "p";
    }
}

TEST(StatsReference, DunnMatchesTheFormulaOnScipyRanks) {
    for (const auto& set : reference().at("group_sets")) {
        SCOPED_TRACE(set.at("name").get<std::string>());
        const auto g = groups_of(set);
        const auto pairs = dunn(spans(g));
        const auto& e = set.at("pairs");
        ASSERT_EQ(pairs.size(), e.size());
        std::vector<double> raw;
        for (std::size_t i = 0; i < pairs.size(); ++i) {
            EXPECT_EQ(pairs[i].a, e[i].at("a").get<std::size_t>());
            EXPECT_EQ(pairs[i].b, e[i].at("b").get<std::size_t>());
            EXPECT_TRUE(near_rel(pairs[i].z, e[i].at("z"))) << "z of pair " << i;
            EXPECT_TRUE(near_rel(pairs[i].p, e[i].at("p"))) << "p of pair " << i;
            raw.push_back(pairs[i].p);
        }
        const auto bonf = adjust_p(raw, PAdjust::kBonferroni);
        const auto holm = adjust_p(raw, PAdjust::kHolm);
        for (std::size_t i = 0; i < pairs.size(); ++i) {
            EXPECT_TRUE(near_rel(bonf[i], e[i].at("p_bonferroni"))) << "bonferroni " << i;
            EXPECT_TRUE(near_rel(holm[i], e[i].at("p_holm"))) << "holm " << i;
        }
    }
}

TEST(StatsReference, CliffsDeltaMeanDiffAndMannWhitneyMatch) {
    for (const auto& set : reference().at("group_sets")) {
        SCOPED_TRACE(set.at("name").get<std::string>());
        const auto g = groups_of(set);
        for (const auto& e : set.at("pairs")) {
            const auto& a = g[e.at("a").get<std::size_t>()];
            const auto& b = g[e.at("b").get<std::size_t>()];
            EXPECT_TRUE(near_rel_or_zero(cliffs_delta(a, b), e.at("cliffs_delta").get<double>()));
            EXPECT_TRUE(near_rel_or_zero(describe(a).mean - describe(b).mean,
                                         e.at("mean_diff").get<double>()));
            const MannWhitney mw = mann_whitney_u(a, b);
            const auto& m = e.at("mann_whitney");
            EXPECT_EQ(mw.exact, m.at("exact").get<bool>());
            EXPECT_TRUE(near_rel(mw.u, m.at("u")));
            EXPECT_TRUE(near_rel(mw.p, m.at("p"))) << "Mann-Whitney p";
        }
    }
}

TEST(StatsReference, PAdjustMatchesBonferroniAndHolm) {
    for (const auto& c : reference().at("p_adjust")) {
        const auto p = test::doubles(c.at("p"));
        const auto b = adjust_p(p, PAdjust::kBonferroni);
        const auto h = adjust_p(p, PAdjust::kHolm);
        for (std::size_t i = 0; i < p.size(); ++i) {
            EXPECT_TRUE(near_rel(b[i], c.at("bonferroni")[i]));
            EXPECT_TRUE(near_rel(h[i], c.at("holm")[i]));
        }
        EXPECT_EQ(adjust_p(p, PAdjust::kNone), p);
    }
}

TEST(StatsReference, PowerCapsMatchTheNumpyComputation) {
    const auto& pc = reference().at("power_caps");
    std::vector<CapRun> runs;
    for (const auto& r : pc.at("runs")) {
        runs.push_back(CapRun{r.at("environment"), r.at("workload"), r.at("cap_w"), r.at("time_s"),
                              r.at("energy_j")});
    }
    const CapAnalysis a = analyse_caps(runs, pc.at("baseline").get<std::string>());
    const auto& opt = pc.at("optima");
    ASSERT_EQ(a.optima.size(), opt.size());
    for (std::size_t i = 0; i < opt.size(); ++i) {
        SCOPED_TRACE(a.optima[i].environment + "/" + a.optima[i].workload);
        EXPECT_EQ(a.optima[i].environment, opt[i].at("environment"));
        EXPECT_EQ(a.optima[i].workload, opt[i].at("workload"));
        EXPECT_EQ(a.optima[i].cap_min_energy_w, opt[i].at("cap_min_energy_w").get<double>());
        EXPECT_EQ(a.optima[i].cap_min_edp_w, opt[i].at("cap_min_edp_w").get<double>());
        EXPECT_EQ(a.optima[i].cap_min_ed2p_w, opt[i].at("cap_min_ed2p_w").get<double>());
        EXPECT_TRUE(near_rel(a.optima[i].min_energy_j, opt[i].at("min_energy_j")));
        EXPECT_TRUE(near_rel(a.optima[i].min_edp_js, opt[i].at("min_edp_js")));
        EXPECT_TRUE(near_rel(a.optima[i].min_ed2p_js2, opt[i].at("min_ed2p_js2")));
    }
    const auto& ov = pc.at("overheads");
    ASSERT_EQ(a.overheads.size(), ov.size());
    for (std::size_t i = 0; i < ov.size(); ++i) {
        EXPECT_EQ(a.overheads[i].environment, ov[i].at("environment"));
        EXPECT_EQ(a.overheads[i].workload, ov[i].at("workload"));
        EXPECT_EQ(a.overheads[i].cap_w, ov[i].at("cap_w").get<double>());
        EXPECT_TRUE(near_rel(a.overheads[i].time_pct, ov[i].at("time_pct")));
        EXPECT_TRUE(near_rel(a.overheads[i].energy_pct, ov[i].at("energy_pct")));
        EXPECT_TRUE(near_rel(a.overheads[i].edp_pct, ov[i].at("edp_pct")));
    }
    const auto& su = pc.at("summary");
    ASSERT_EQ(a.summary.size(), su.size());
    for (std::size_t i = 0; i < su.size(); ++i) {
        SCOPED_TRACE(a.summary[i].environment + "/" + a.summary[i].workload);
        EXPECT_EQ(a.summary[i].caps, su[i].at("caps").get<std::size_t>());
        EXPECT_TRUE(near_rel(a.summary[i].time_avg_pct, su[i].at("time_avg_pct"), 1e-9));
        EXPECT_TRUE(near_rel(a.summary[i].time_max_pct, su[i].at("time_max_pct")));
        EXPECT_TRUE(near_rel(a.summary[i].energy_avg_pct, su[i].at("energy_avg_pct"), 1e-9));
        EXPECT_TRUE(near_rel(a.summary[i].energy_max_pct, su[i].at("energy_max_pct")));
        EXPECT_TRUE(near_rel(a.summary[i].edp_avg_pct, su[i].at("edp_avg_pct"), 1e-9));
        EXPECT_TRUE(near_rel(a.summary[i].edp_max_pct, su[i].at("edp_max_pct")));
    }
    // The bare/bert/100 W cell was removed: docker and kvm at 100 W for bert are skipped, noted.
    EXPECT_EQ(a.warnings.size(), 2U);
}

}  // namespace
}  // namespace joulebench::stats
