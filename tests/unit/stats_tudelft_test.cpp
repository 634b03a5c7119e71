// The TU Delft Docker-image study (../shared/datasets/tudelft-docker-images/per-run): the medians,
// standard deviations, Shapiro-Wilk, Kruskal-Wallis, Dunn p (Bonferroni) and Cliff's deltas that
// joulebench computes from the per-run tables must equal SciPy's for the same files
// (tests/data/stats/tudelft_reference.json, made by make_reference.py). Skipped without the data.

#include <gtest/gtest.h>

#include <filesystem>

#include "analysis/csv_groups.hpp"
#include "joulebench/stats.hpp"
#include "stats_test_util.hpp"

namespace joulebench::stats {
namespace {

namespace fs = std::filesystem;
using analysis::read_groups_csv;
using test::near_rel;

const fs::path kPerRun = fs::path(JOULEBENCH_SOURCE_DIR) / ".." / "shared" / "datasets" /
                         "tudelft-docker-images" / "per-run";

// One column of a per-run table, read with the same CSV reader as `analyze --csv` (each run
// number is its own group, so the groups concatenated in order are the column).
std::vector<double> column(const fs::path& file, const std::string& name) {
    std::vector<double> out;
    for (const auto& g : read_groups_csv(file, "Run", name)) {
        out.insert(out.end(), g.values.begin(), g.values.end());
    }
    return out;
}

class TuDelft : public ::testing::Test {
protected:
    void SetUp() override {
        if (!fs::is_directory(kPerRun)) {
            GTEST_SKIP() << "dataset absent: " << kPerRun.string();
        }
        m_ref = test::load_json(std::string(JOULEBENCH_TEST_DATA_DIR) +
                                "/stats/tudelft_reference.json");
    }
    nlohmann::json m_ref;
};

TEST_F(TuDelft, EveryMethodMatchesScipyForEnergyAndTime) {
    const auto images = m_ref.at("images").get<std::vector<std::string>>();
    ASSERT_EQ(images.size(), 5U);
    for (const auto& [metric, ref] : m_ref.at("metrics").items()) {
        SCOPED_TRACE(metric);
        std::vector<std::vector<double>> groups;
        for (const auto& image : images)
            groups.push_back(column(kPerRun / (image + "_output.csv"), metric));
        for (std::size_t i = 0; i < images.size(); ++i) {
            SCOPED_TRACE(images[i]);
            const auto& e = ref.at("groups")[i];
            EXPECT_EQ(groups[i].size(), images[i] == "ubuntu-base" ? 29U : 30U);
            const Descriptive d = describe(groups[i]);
            EXPECT_EQ(d.n, e.at("describe").at("n").get<std::size_t>());
            EXPECT_TRUE(near_rel(d.median, e.at("describe").at("median")));
            EXPECT_TRUE(near_rel(d.mean, e.at("describe").at("mean")));
            EXPECT_TRUE(near_rel(d.std, e.at("describe").at("std")));
            EXPECT_TRUE(near_rel(d.q1, e.at("describe").at("q1")));
            EXPECT_TRUE(near_rel(d.q3, e.at("describe").at("q3")));
            const ShapiroWilk sw = shapiro_wilk(groups[i]);
            EXPECT_NEAR(sw.w, e.at("shapiro").at("w").get<double>(), test::kShapiroW);
            EXPECT_NEAR(sw.p, e.at("shapiro").at("p").get<double>(), test::kShapiroP);
            EXPECT_EQ(mad_outliers(groups[i]), e.at("outliers").get<std::vector<std::size_t>>());
        }
        const std::vector<std::span<const double>> spans(groups.begin(), groups.end());
        const KruskalWallis kw = kruskal_wallis(spans);
        EXPECT_TRUE(near_rel(kw.h, ref.at("kruskal").at("h")));
        EXPECT_TRUE(near_rel(kw.p, ref.at("kruskal").at("p")));
        const Anova an = one_way_anova(spans);
        EXPECT_TRUE(near_rel(an.f, ref.at("anova").at("f")));
        EXPECT_TRUE(near_rel(an.p, ref.at("anova").at("p")));

        // Through the whole analysis, as `joulebench analyze` reports it.
        std::vector<NamedGroup> named;
        for (std::size_t i = 0; i < images.size(); ++i) named.push_back({images[i], groups[i]});
        AnalysisOptions options;
        options.bootstrap.resamples = 1000;
        const Analysis a = analyse_groups(named, options);
        const auto& pairs = ref.at("pairs");
        ASSERT_EQ(a.pairs.size(), pairs.size());
        for (std::size_t k = 0; k < pairs.size(); ++k) {
            SCOPED_TRACE(a.pairs[k].a + " vs " + a.pairs[k].b);
            EXPECT_EQ(a.pairs[k].a, images[pairs[k].at("a").get<std::size_t>()]);
            EXPECT_EQ(a.pairs[k].b, images[pairs[k].at("b").get<std::size_t>()]);
            EXPECT_TRUE(near_rel(a.pairs[k].dunn_z, pairs[k].at("z")));
            EXPECT_TRUE(near_rel(a.pairs[k].p, pairs[k].at("p")));
            EXPECT_TRUE(near_rel(a.pairs[k].p_adj, pairs[k].at("p_bonferroni")));
            EXPECT_TRUE(test::near_rel_or_zero(a.pairs[k].cliffs_delta,
                                               pairs[k].at("cliffs_delta").get<double>()));
            EXPECT_TRUE(near_rel(a.pairs[k].mean_diff, pairs[k].at("mean_diff")));
        }
        EXPECT_TRUE(near_rel(a.kruskal->p, ref.at("kruskal").at("p")));
    }
}

TEST_F(TuDelft, TheStudysHeadlineComparisonReadsAsAVerdict) {
    // python-base against pytorch-base on energy: significant, large effect.
    std::vector<NamedGroup> named;
    for (const std::string image : {"python-base", "pytorch-base"}) {
        named.push_back(
            {image, column(kPerRun / (image + "_output.csv"), "Energy Consumption (Joules)")});
    }
    AnalysisOptions options;
    options.metric = "Energy Consumption (Joules)";
    options.bootstrap.resamples = 1000;
    const Analysis a = analyse_groups(named, options);
    ASSERT_EQ(a.pairs.size(), 1U);
    EXPECT_EQ(a.pairs[0].magnitude, Magnitude::kLarge);
    EXPECT_LT(a.pairs[0].p_adj, 0.001);
    const std::string text = render(a, TableFormat::kText);
    EXPECT_NE(text.find("python-base uses 3.0% more energy than pytorch-base; large effect"),
              std::string::npos)
        << text;
}

}  // namespace
}  // namespace joulebench::stats
