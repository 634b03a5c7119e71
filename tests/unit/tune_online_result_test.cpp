// The online method's schedule and its result from segments (src/tune/online.hpp): pure.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "tune/online.hpp"

namespace joulebench::tune {
namespace {

using ::testing::ElementsAre;

OnlineSegment seg(double cap, unsigned pass, double s_per_unit, double j_per_unit,
                  std::size_t units = 20) {
    OnlineSegment s;
    s.cap_w = cap;
    s.pass = pass;
    s.units = units;
    s.seconds = s_per_unit * static_cast<double>(units);
    s.energy_j = j_per_unit * static_cast<double>(units);
    return s;
}

OnlineOptions opts(std::vector<double> caps, Metric metric) {
    OnlineOptions o;
    o.caps_w = std::move(caps);
    o.metric = metric;
    return o;
}

TEST(TuneOnlineSchedule, GoesUpThenDownAndAlternatesPasses) {
    const auto s = online_schedule({150, 250, 350}, 3);
    std::vector<double> caps;
    std::vector<unsigned> passes;
    for (const auto& [c, p] : s) {
        caps.push_back(c);
        passes.push_back(p);
    }
    EXPECT_THAT(caps, ElementsAre(150, 250, 350, 350, 250, 150, 150, 250, 350));
    EXPECT_THAT(passes, ElementsAre(0, 0, 0, 1, 1, 1, 2, 2, 2));
}

TEST(TuneOnlineResult, PerUnitMediansBestCapIntervalAndTiesByPooledLogT) {
    // 100 W: clearly worse; 200 W and 300 W: within 1% of each other (noise ~1%).
    const std::vector<OnlineSegment> segments{seg(100, 0, 0.20, 20.0), seg(200, 0, 0.10, 10.0),
                                              seg(300, 0, 0.09, 10.1), seg(300, 1, 0.09, 9.9),
                                              seg(200, 1, 0.10, 10.2), seg(100, 1, 0.20, 20.4)};
    const auto o = opts({100, 200, 300}, Metric::kEnergy);
    const SearchResult r = online_result(segments, o);
    EXPECT_EQ(r.runs_used, 1U);
    ASSERT_EQ(r.evaluated.size(), 3U);
    EXPECT_EQ(r.evaluated[0].runs, 2U);
    EXPECT_NEAR(r.evaluated[0].median_time_s, 0.20, 1e-12);
    EXPECT_NEAR(r.evaluated[0].median_energy_j, 20.2, 1e-12);
    EXPECT_NEAR(r.evaluated[0].median_edp_js, (20.0 * 0.2 + 20.4 * 0.2) / 2, 1e-12);
    EXPECT_NEAR(r.evaluated[0].slowdown, 0.20 / 0.09 - 1.0, 1e-12);
    ASSERT_TRUE(r.best_cap_w.has_value());
    EXPECT_DOUBLE_EQ(*r.best_cap_w, 300.0);
    EXPECT_NEAR(r.best_metric, 10.0, 1e-12);
    // Pooled log spread: each cap contributes (ln a - ln b)^2 / 2 with 1 degree of freedom.
    double ss = 0.0;
    for (const auto& [a, b] :
         std::vector<std::pair<double, double>>{{20.0, 20.4}, {10.0, 10.2}, {10.1, 9.9}}) {
        ss += std::pow(std::log(a) - std::log(b), 2) / 2.0;
    }
    const double sd = std::sqrt(ss / 3.0);
    const double t975_df3 = 3.182446305284263;  // scipy.stats.t.ppf(0.975, 3)
    const double centre = (std::log(10.1) + std::log(9.9)) / 2.0;
    ASSERT_TRUE(r.ci_low && r.ci_high);
    EXPECT_NEAR(*r.ci_low, std::exp(centre - t975_df3 * sd / std::sqrt(2.0)), 1e-6);
    EXPECT_NEAR(*r.ci_high, std::exp(centre + t975_df3 * sd / std::sqrt(2.0)), 1e-6);
    EXPECT_THAT(r.indistinguishable_caps_w, ElementsAre(200.0));
    EXPECT_TRUE(r.confident);
}

TEST(TuneOnlineResult, EnergyWithinSlowdownExcludesCapsOverTheBudget) {
    // 100 W uses least energy but is 50% slower than 300 W; 200 W is 5% slower.
    const std::vector<OnlineSegment> segments{seg(100, 0, 0.15, 6.0),  seg(200, 0, 0.105, 8.0),
                                              seg(300, 0, 0.10, 10.0), seg(300, 1, 0.10, 10.1),
                                              seg(200, 1, 0.105, 8.1), seg(100, 1, 0.15, 6.1)};
    const SearchResult r =
        online_result(segments, opts({100, 200, 300}, Metric::kEnergyWithinSlowdown));
    ASSERT_TRUE(r.best_cap_w.has_value());
    EXPECT_DOUBLE_EQ(*r.best_cap_w, 200.0);
    EXPECT_FALSE(r.evaluated[0].allowed);
    EXPECT_TRUE(r.evaluated[1].allowed);
    EXPECT_TRUE(r.indistinguishable_caps_w.empty());
}

TEST(TuneOnlineResult, EdpIsEnergyTimesTimePerUnit) {
    const std::vector<OnlineSegment> segments{seg(100, 0, 0.2, 5.0), seg(200, 0, 0.1, 8.0)};
    const SearchResult r = online_result(segments, opts({100, 200}, Metric::kEdp));
    ASSERT_TRUE(r.best_cap_w.has_value());
    EXPECT_DOUBLE_EQ(*r.best_cap_w, 200.0);  // 0.8 J s against 1.0 J s
    EXPECT_NEAR(r.best_metric, 0.8, 1e-12);
}

TEST(TuneOnlineResult, OnePassGivesNoIntervalAndIsNotConfident) {
    const std::vector<OnlineSegment> segments{seg(100, 0, 0.2, 5.0), seg(200, 0, 0.1, 8.0)};
    auto o = opts({100, 200}, Metric::kEnergy);
    o.passes = 1;
    const SearchResult r = online_result(segments, o);
    ASSERT_TRUE(r.best_cap_w.has_value());
    EXPECT_FALSE(r.ci_low.has_value());
    EXPECT_FALSE(r.confident);
    ASSERT_FALSE(r.notes.empty());
    EXPECT_THAT(r.notes.front(), ::testing::HasSubstr("no interval"));
}

TEST(TuneOnlineResult, AnIncompleteProfileIsNotConfidentAndSaysWhichReferenceItUsed) {
    const std::vector<OnlineSegment> segments{seg(100, 0, 0.2, 5.0), seg(200, 0, 0.1, 8.0),
                                              seg(200, 1, 0.1, 8.2)};
    const SearchResult r = online_result(segments, opts({100, 200, 300}, Metric::kEnergy));
    EXPECT_FALSE(r.confident);
    EXPECT_THAT(r.notes.front(), ::testing::HasSubstr("300 W, was not profiled"));
    EXPECT_TRUE(online_result({}, opts({100, 200}, Metric::kEnergy)).evaluated.empty());
}

}  // namespace
}  // namespace joulebench::tune
