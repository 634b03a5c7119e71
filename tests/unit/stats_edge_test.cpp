// Edge cases and errors of the statistics: n < 3, ties, zero variance, empty groups, bad options,
// bootstrap reproducibility and coverage, the CSV reader's errors, JSON and rendered tables.

#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>

#include "fakes/test_support.hpp"
#include "joulebench/error.hpp"
#include "analysis/csv_groups.hpp"
#include "joulebench/stats.hpp"

namespace joulebench::stats {
namespace {

namespace fs = std::filesystem;
using analysis::read_groups_csv;

// Expects `f` to throw joulebench::Error of `category` whose message contains `part`.
template <class F>
void expect_error(F&& f, ErrorCategory category, const std::string& part) {
    try {
        f();
        ADD_FAILURE() << "no error thrown; expected one containing '" << part << "'";
    } catch (const Error& e) {
        EXPECT_EQ(e.category(), category) << e.what();
        EXPECT_NE(std::string(e.what()).find(part), std::string::npos) << e.what();
    }
}

TEST(StatsEdge, DescribeOneAndTwoValues) {
    const std::vector<double> one{42.0};
    const Descriptive d = describe(one);
    EXPECT_EQ(d.n, 1U);
    EXPECT_EQ(d.mean, 42.0);
    EXPECT_EQ(d.median, 42.0);
    EXPECT_TRUE(std::isnan(d.std));
    EXPECT_EQ(d.q1, 42.0);
    EXPECT_EQ(d.q3, 42.0);
    const std::vector<double> two{1.0, 3.0};
    EXPECT_DOUBLE_EQ(describe(two).std, std::sqrt(2.0));
    EXPECT_DOUBLE_EQ(describe(two).q1, 1.5);
}

TEST(StatsEdge, EmptyAndNonFiniteInputsThrow) {
    const std::vector<double> empty;
    const std::vector<double> with_nan{1.0, std::nan(""), 2.0};
    const std::vector<double> with_inf{1.0, INFINITY, 2.0};
    expect_error([&] { (void)describe(empty); }, ErrorCategory::kInvalidArgument, "empty");
    expect_error([&] { (void)describe(with_nan); }, ErrorCategory::kInvalidArgument, "NaN");
    expect_error([&] { (void)shapiro_wilk(with_inf); }, ErrorCategory::kInvalidArgument, "NaN");
    expect_error([&] { (void)median(empty); }, ErrorCategory::kInvalidArgument, "empty");
    expect_error([&] { (void)cliffs_delta(empty, with_nan); }, ErrorCategory::kInvalidArgument,
                 "empty");
    const std::vector<double> sorted{1.0, 2.0};
    expect_error([&] { (void)quantile_sorted(sorted, 1.5); }, ErrorCategory::kInvalidArgument,
                 "[0, 1]");
}

TEST(StatsEdge, ShapiroNeedsThreeToFiveThousandValues) {
    const std::vector<double> two{1.0, 2.0};
    expect_error([&] { (void)shapiro_wilk(two); }, ErrorCategory::kInvalidArgument, "got 2");
    const std::vector<double> many(5001, 1.0);
    expect_error([&] { (void)shapiro_wilk(many); }, ErrorCategory::kInvalidArgument, "got 5001");
}

TEST(StatsEdge, ShapiroOfEqualValuesIsOneAndFlagged) {
    const std::vector<double> same(10, 3.25);
    const ShapiroWilk r = shapiro_wilk(same);
    EXPECT_TRUE(r.zero_range);
    EXPECT_EQ(r.w, 1.0);
    EXPECT_EQ(r.p, 1.0);
}

TEST(StatsEdge, ShapiroIsInvariantToLocationAndScale) {
    const std::vector<double> x{2.1, 3.4, 1.9, 5.6, 4.4, 3.3, 2.8, 7.9, 3.0};
    std::vector<double> y;
    for (const double v : x) y.push_back(1e6 + 1000.0 * v);
    EXPECT_NEAR(shapiro_wilk(x).w, shapiro_wilk(y).w, 1e-12);
    EXPECT_NEAR(shapiro_wilk(x).p, shapiro_wilk(y).p, 1e-10);
}

TEST(StatsEdge, GroupTestsRejectFewerThanTwoGroupsAndEmptyGroups) {
    const std::vector<double> a{1.0, 2.0};
    const std::vector<double> none;
    expect_error([&] { (void)kruskal_wallis({a}); }, ErrorCategory::kInvalidArgument,
                 "at least two groups");
    expect_error(
        [&] {
            (void)dunn({a, none});
        },
        ErrorCategory::kInvalidArgument, "group 2 is empty");
    expect_error(
        [&] {
            (void)one_way_anova({none, a});
        },
        ErrorCategory::kInvalidArgument, "group 1 is empty");
}

TEST(StatsEdge, AllEqualValuesGiveUndefinedRankTests) {
    const std::vector<double> a{3.0, 3.0, 3.0};
    const std::vector<double> b{3.0, 3.0};
    const KruskalWallis k = kruskal_wallis({a, b});
    EXPECT_TRUE(std::isnan(k.h));
    EXPECT_TRUE(std::isnan(k.p));
    const auto d = dunn({a, b});
    ASSERT_EQ(d.size(), 1U);
    EXPECT_TRUE(std::isnan(d[0].z));
    EXPECT_EQ(cliffs_delta(a, b), 0.0);
    EXPECT_EQ(mann_whitney_u(a, b).p, 1.0);
    EXPECT_TRUE(std::isnan(one_way_anova({a, b}).f));
    // NaN p-values are left out of the family and stay NaN.
    const std::vector<double> p{std::nan(""), 0.01, 0.02};
    const auto adj = adjust_p(p, PAdjust::kBonferroni);
    EXPECT_TRUE(std::isnan(adj[0]));
    EXPECT_DOUBLE_EQ(adj[1], 0.02);
    EXPECT_DOUBLE_EQ(adj[2], 0.04);
}

TEST(StatsEdge, AnovaWithOneValuePerGroupIsUndefined) {
    const std::vector<double> a{1.0};
    const std::vector<double> b{2.0};
    const Anova r = one_way_anova({a, b});
    EXPECT_TRUE(std::isnan(r.f));
    EXPECT_EQ(r.df_within, 0.0);
}

TEST(StatsEdge, AdjustedPIsCappedAtOneAndHolmIsMonotone) {
    const std::vector<double> p{0.04, 0.5, 0.03, 0.9};
    for (const double v : adjust_p(p, PAdjust::kBonferroni)) EXPECT_LE(v, 1.0);
    const auto h = adjust_p(p, PAdjust::kHolm);
    EXPECT_DOUBLE_EQ(h[2], 0.12);  // smallest: 4 x 0.03
    EXPECT_DOUBLE_EQ(h[0], 0.12);  // 3 x 0.04 = 0.12, not below the previous
    EXPECT_DOUBLE_EQ(h[1], 1.0);   // 2 x 0.5
    EXPECT_DOUBLE_EQ(h[3], 1.0);
    const std::vector<double> bad{1.5};
    expect_error([&] { (void)adjust_p(bad, PAdjust::kHolm); }, ErrorCategory::kInvalidArgument,
                 "outside [0, 1]");
    EXPECT_EQ(p_adjust_from_string("holm"), PAdjust::kHolm);
    expect_error([] { (void)p_adjust_from_string("fdr"); }, ErrorCategory::kInvalidArgument,
                 "unknown method");
}

TEST(StatsEdge, CliffsDeltaExtremesAndRomanoThresholds) {
    const std::vector<double> low{1.0, 2.0, 3.0};
    const std::vector<double> high{4.0, 5.0};
    EXPECT_EQ(cliffs_delta(high, low), 1.0);
    EXPECT_EQ(cliffs_delta(low, high), -1.0);
    EXPECT_EQ(cliffs_magnitude(0.1469), Magnitude::kNegligible);
    EXPECT_EQ(cliffs_magnitude(-0.147), Magnitude::kSmall);
    EXPECT_EQ(cliffs_magnitude(0.3299), Magnitude::kSmall);
    EXPECT_EQ(cliffs_magnitude(0.33), Magnitude::kMedium);
    EXPECT_EQ(cliffs_magnitude(-0.474), Magnitude::kLarge);
    EXPECT_EQ(to_string(Magnitude::kMedium), "medium");
}

TEST(StatsEdge, CliffsDeltaEqualsTheQuadraticDefinitionWithTies) {
    std::mt19937_64 rng(5);
    std::uniform_int_distribution<int> pick(0, 9);  // heavy ties
    std::vector<double> a(57);
    std::vector<double> b(43);
    for (double& v : a) v = pick(rng);
    for (double& v : b) v = pick(rng);
    long long diff = 0;
    for (const double x : a) {
        for (const double y : b) diff += (x > y) - (x < y);
    }
    EXPECT_DOUBLE_EQ(cliffs_delta(a, b), static_cast<double>(diff) / (57.0 * 43.0));
}

TEST(StatsEdge, OutliersUseMadAndFallBackWhenMadIsZero) {
    const std::vector<double> x{10.0, 10.2, 9.9, 10.1, 10.0, 9.8, 10.3, 25.0};
    EXPECT_EQ(mad_outliers(x), (std::vector<std::size_t>{7}));
    const std::vector<double> same(8, 4.0);
    EXPECT_TRUE(mad_outliers(same).empty());
    // MAD = 0 (5 of 7 equal): scale = 1.253314 x mean |x - 5| = 1.253314 x 5/7 = 0.895;
    // 6 scores 1.1 (kept), 9 scores 4.5 (flagged).
    const std::vector<double> mostly{5.0, 5.0, 5.0, 5.0, 5.0, 6.0, 9.0};
    EXPECT_EQ(mad_outliers(mostly), (std::vector<std::size_t>{6}));
    const std::vector<double> close{5.0, 5.0, 5.0, 5.0, 5.0, 6.0, 4.0};
    EXPECT_TRUE(mad_outliers(close).empty());
}

TEST(StatsEdge, BootstrapIsSeededAndReproducible) {
    const std::vector<double> x{3.1, 2.2, 8.4, 5.0, 4.4, 6.1, 3.9, 5.5, 4.8, 7.2, 2.9};
    const Interval a = bootstrap_median_ci(x, {}, "g");
    const Interval b = bootstrap_median_ci(x, {}, "g");
    EXPECT_EQ(a.lo, b.lo);
    EXPECT_EQ(a.hi, b.hi);
    BootstrapOptions other;
    other.seed = 1;
    EXPECT_LE(a.lo, median(x));
    EXPECT_GE(a.hi, median(x));
    // Percentile bounds are order statistics of resample medians, so they are data values or
    // midpoints of two of them, within [min, max].
    EXPECT_GE(a.lo, 2.2);
    EXPECT_LE(a.hi, 8.4);
    const std::vector<double> one{7.0};
    const Interval i1 = bootstrap_median_ci(one);
    EXPECT_EQ(i1.lo, 7.0);
    EXPECT_EQ(i1.hi, 7.0);
    BootstrapOptions few;
    few.resamples = 10;
    expect_error([&] { (void)bootstrap_median_ci(x, few); }, ErrorCategory::kInvalidArgument,
                 "too few");
}

TEST(StatsEdge, BootstrapStreamIsPinnedAcrossPlatformsAndBuilds) {
    // The generator, the bounded draw and the seeding are all written out, so these exact values
    // must come out everywhere; a change here changes every published CI and must be deliberate.
    std::vector<double> x;
    for (int i = 0; i < 201; ++i)
        x.push_back(std::fmod(i * 37.0 + std::sqrt(static_cast<double>(i)), 101.0));
    const Interval a = bootstrap_median_ci(x, {}, "pin");
    EXPECT_DOUBLE_EQ(a.lo, 42.810249675906562);
    EXPECT_DOUBLE_EQ(a.hi, 57.246950765959809);
    BootstrapOptions o;
    o.resamples = 2000;
    o.seed = 7;
    const Interval b = bootstrap_median_ci(x, o, "");
    EXPECT_DOUBLE_EQ(b.lo, 43.464101615137736);
    EXPECT_DOUBLE_EQ(b.hi, 57.246950765959809);
}

TEST(StatsEdge, BootstrapIntervalHasTheWidthTheoryPredicts) {
    // For normal data the median's standard error is sqrt(pi/2) sigma / sqrt(n); the 95%
    // percentile interval should be about 2 x 1.96 x that wide (within 20% at n = 2000).
    std::mt19937_64 rng(11);
    std::normal_distribution<double> normal(100.0, 10.0);
    std::vector<double> x(2000);
    for (double& v : x) v = normal(rng);
    BootstrapOptions o;
    o.resamples = 4000;
    const Interval ci = bootstrap_median_ci(x, o, "width");
    const double expected = 2.0 * 1.959964 * std::sqrt(M_PI / 2.0) * 10.0 / std::sqrt(2000.0);
    EXPECT_NEAR(ci.hi - ci.lo, expected, 0.2 * expected);
    EXPECT_LT(ci.lo, median(x));
    EXPECT_GT(ci.hi, median(x));
}

TEST(StatsEdge, OverheadIsThePercentOfTheBaselineMedian) {
    const std::vector<double> base{100.0, 101.0, 99.0, 100.0, 100.5};
    const std::vector<double> group{110.0, 111.0, 109.0, 110.0, 110.5};
    const Overhead o = median_overhead(group, base, {}, "k");
    EXPECT_DOUBLE_EQ(o.pct, 10.0);
    EXPECT_LE(o.ci.lo, o.pct);
    EXPECT_GE(o.ci.hi, o.pct);
    EXPECT_GT(o.ci.lo, 7.0);
    EXPECT_LT(o.ci.hi, 13.0);
    const std::vector<double> zero{0.0, 0.0, 0.0};
    expect_error([&] { (void)median_overhead(group, zero); }, ErrorCategory::kInvalidArgument,
                 "baseline median is zero");
}

TEST(StatsEdge, PowerCapsValidateAndBreakTiesByTheLowestCap) {
    std::vector<CapRun> runs{{"bare", "w", 200.0, 10.0, 1000.0},
                             {"bare", "w", 100.0, 20.0, 500.0},
                             {"bare", "w", 150.0, 10.0, 500.0}};
    const CapAnalysis a = analyse_caps(runs, "bare");
    ASSERT_EQ(a.optima.size(), 1U);
    EXPECT_EQ(a.optima[0].cap_min_energy_w, 100.0);  // 500 J at 100 W and 150 W: lowest cap wins
    EXPECT_EQ(a.optima[0].cap_min_edp_w, 150.0);     // 5000 J s
    EXPECT_TRUE(a.overheads.empty());
    expect_error([&] { (void)analyse_caps(runs, "kvm"); }, ErrorCategory::kInvalidArgument,
                 "baseline environment 'kvm' has no runs");
    runs.push_back({"docker", "w", 100.0, -1.0, 500.0});
    expect_error([&] { (void)analyse_caps(runs, "bare"); }, ErrorCategory::kInvalidArgument,
                 "run 4: time must be finite and positive");
    expect_error([] { (void)analyse_caps({}, "bare"); }, ErrorCategory::kInvalidArgument,
                 "no runs");
}

TEST(StatsEdge, AnalyseGroupsValidatesNamesAndBaseline) {
    AnalysisOptions o;
    expect_error([&] { (void)analyse_groups({}, o); }, ErrorCategory::kInvalidArgument,
                 "no groups");
    const std::vector<NamedGroup> dup{{"a", {1.0, 2.0}}, {"a", {3.0}}};
    expect_error([&] { (void)analyse_groups(dup, o); }, ErrorCategory::kInvalidArgument,
                 "appears twice");
    const std::vector<NamedGroup> empty{{"a", {1.0, 2.0}}, {"b", {}}};
    expect_error([&] { (void)analyse_groups(empty, o); }, ErrorCategory::kInvalidArgument,
                 "'b' has no values");
    const std::vector<NamedGroup> ok{{"a", {1.0, 2.0, 3.0}}, {"b", {4.0, 5.0, 6.0}}};
    o.baseline = "c";
    expect_error([&] { (void)analyse_groups(ok, o); }, ErrorCategory::kInvalidArgument,
                 "baseline 'c' is not a group");
}

TEST(StatsEdge, AnalyseGroupsWarnsAndCombinesTheMethods) {
    const std::vector<NamedGroup> groups{
        {"slow", {10.0, 10.2, 9.9, 10.1, 10.0, 9.8, 10.3, 25.0}},
        {"fast", {5.0, 5.1, 4.9, 5.2, 5.0, 4.8}},
        {"tiny", {7.0, 7.5}},
    };
    AnalysisOptions o;
    o.baseline = "fast";
    o.metric = "Energy (J)";
    o.bootstrap.resamples = 1000;
    const Analysis a = analyse_groups(groups, o);
    ASSERT_EQ(a.groups.size(), 3U);
    EXPECT_EQ(a.groups[0].outliers, (std::vector<std::size_t>{7}));
    EXPECT_FALSE(a.groups[2].shapiro.has_value());
    ASSERT_TRUE(a.kruskal.has_value());
    EXPECT_FALSE(a.anova.has_value());  // 'slow' is not normal, 'tiny' is untested
    ASSERT_EQ(a.pairs.size(), 3U);
    EXPECT_EQ(a.pairs[0].a, "slow");
    EXPECT_EQ(a.pairs[0].b, "fast");
    EXPECT_EQ(a.pairs[0].cliffs_delta, 1.0);
    EXPECT_FALSE(a.pairs[0].mann_whitney.has_value());  // three groups
    ASSERT_EQ(a.baseline.size(), 2U);
    EXPECT_EQ(a.baseline[0].group, "slow");
    EXPECT_NEAR(a.baseline[0].overhead.pct, 100.0 * (10.05 - 5.0) / 5.0, 1e-9);
    auto has = [&](const std::string& part) {
        return std::any_of(a.warnings.begin(), a.warnings.end(),
                           [&](const std::string& w) { return w.find(part) != std::string::npos; });
    };
    EXPECT_TRUE(has("group 'tiny' has 2 values (fewer than 5)"));
    EXPECT_TRUE(has("group 'slow': 1 outlier(s)"));
    EXPECT_TRUE(has("Shapiro-Wilk needs 3 to 5000 values"));

    const nlohmann::json j = to_json(a);
    EXPECT_EQ(j.at("schema"), "joulebench.analysis/1");
    EXPECT_EQ(j.at("groups").size(), 3U);
    EXPECT_TRUE(j.at("groups")[2].at("shapiro_w").is_null());
    EXPECT_EQ(j.at("omnibus").at("test"), "kruskal-wallis");
    EXPECT_FALSE(j.at("omnibus").contains("anova"));
    EXPECT_EQ(j.at("pairs")[2].at("a"), "fast");
    EXPECT_EQ(j.at("pairs")[2].at("b"), "tiny");
    EXPECT_EQ(j.at("baseline").at("name"), "fast");
    EXPECT_EQ(j.at("baseline").at("overheads").size(), 2U);
    EXPECT_EQ(j.at("p_adjust"), "bonferroni");

    const std::string text = render(a, TableFormat::kText);
    EXPECT_NE(text.find("slow uses 101.0% more energy than fast; large effect"), std::string::npos)
        << text;
    EXPECT_NE(text.find("Warnings:"), std::string::npos);
    const std::string md = render(a, TableFormat::kMarkdown);
    EXPECT_NE(md.find("| group | n | mean |"), std::string::npos) << md;
    const std::string tex = render(a, TableFormat::kLatex);
    EXPECT_NE(tex.find("\\begin{tabular}"), std::string::npos);
    EXPECT_NE(tex.find("Cliff's delta"), std::string::npos);
    const std::string csv = render(a, TableFormat::kCsv);
    EXPECT_NE(csv.find("table,group,n,mean"), std::string::npos) << csv;
    expect_error([] { (void)table_format_from_string("html"); }, ErrorCategory::kInvalidArgument,
                 "unknown format");
}

TEST(StatsEdge, TwoNormalGroupsGetAnovaAndMannWhitney) {
    const std::vector<NamedGroup> groups{{"a", {1.1, 2.2, 3.3, 4.4}},
                                         {"b", {2.5, 5.5, 6.6, 7.7, 8.8}}};
    AnalysisOptions o;
    o.bootstrap.resamples = 500;
    const Analysis a = analyse_groups(groups, o);
    ASSERT_TRUE(a.anova.has_value());
    ASSERT_EQ(a.pairs.size(), 1U);
    ASSERT_TRUE(a.pairs[0].mann_whitney.has_value());
    EXPECT_TRUE(a.pairs[0].mann_whitney->exact);
    EXPECT_EQ(a.pairs[0].mann_whitney->u, 2.0);
}

// ------------------------------------------------------------------------------------------
// CSV reader

fs::path write(const fs::path& dir, const std::string& name, const std::string& text) {
    const fs::path p = dir / name;
    std::ofstream(p, std::ios::binary) << text;
    return p;
}

TEST(StatsCsv, ReadsQuotedFieldsCrlfAndGroupsInOrderOfAppearance) {
    const test::TempDir dir;
    const fs::path p = write(dir.path(), "t.csv",
                             "\xEF\xBB\xBFimage,\"Energy, J\",note\r\n"
                             "\"b\",1.5,\"said \"\"hi\"\"\"\r\n"
                             "a , 2 ,x\r\n"
                             "\r\n"
                             "\"b\",\"+3e0\",\"two\nlines\"\r\n"
                             "a,-4.25,\r\n");
    const auto groups = read_groups_csv(p, "image", "Energy, J");
    ASSERT_EQ(groups.size(), 2U);
    EXPECT_EQ(groups[0].name, "b");
    EXPECT_EQ(groups[0].values, (std::vector<double>{1.5, 3.0}));
    EXPECT_EQ(groups[1].name, "a");
    EXPECT_EQ(groups[1].values, (std::vector<double>{2.0, -4.25}));
}

TEST(StatsCsv, ErrorsNameTheFileLineAndProblem) {
    const test::TempDir dir;
    const auto bad = [&](const std::string& text, const std::string& part,
                         ErrorCategory cat = ErrorCategory::kInvalidArgument) {
        const fs::path p = write(dir.path(), "bad.csv", text);
        expect_error([&] { (void)read_groups_csv(p, "g", "v"); }, cat, part);
    };
    bad("g,v\na,1\nb,x7\n", "bad.csv line 3: value 'x7' in column 'v' is not a number");
    bad("g,v\na,1\nb,2,3\n", "line 3: expected 2 fields as in the header, found 3");
    bad("g,v\na,1\n\"b,2\n", "line 3: quoted field 1 is never closed");
    bad("g,v\na,\n", "line 2: value '' in column 'v' is not a number");
    bad("g,v\na,nan\n", "line 2: value 'nan' in column 'v' is not finite");
    bad("g,v\n,1\n", "line 2: empty group name");
    bad("g,w\na,1\n", "no column 'v' in the header");
    bad("", "the file is empty");
    bad("g,v\n", "no data rows");
    bad("g,v\na,1\n\"b\"x,2\n", "line 3: text after the closing quote");
    expect_error([&] { (void)read_groups_csv(dir.path() / "missing.csv", "g", "v"); },
                 ErrorCategory::kNotFound, "missing.csv: no such file");
}

}  // namespace
}  // namespace joulebench::stats
