// `joulebench analyze --csv` as a real process: tables on stdout, the JSON file, the formats,
// exit statuses and error lines; on a synthetic CSV and on a tidy CSV assembled from the TU Delft
// per-run tables (when ../shared/datasets is present).

#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>

#include "fakes/test_support.hpp"

namespace {

namespace fs = std::filesystem;

using joulebench::test::ProcessResult;
using joulebench::test::run_joulebench;
using Args = std::vector<std::string>;

std::string slurp(const fs::path& p) { return joulebench::test::read_file(p); }

// Three images, "energy" in J; "tiny" has 3 values, "b" one far outlier.
const char* const kCsv =
    "image,run,\"energy (J)\"\n"
    "a,1,100.0\na,2,101.5\na,3,99.0\na,4,100.2\na,5,100.8\na,6,99.6\n"
    "b,1,110.0\nb,2,111.0\nb,3,109.5\nb,4,110.4\nb,5,150.0\nb,6,110.1\n"
    "\"tiny\",1,100.1\ntiny,2,\"100.3\"\ntiny,3,99.9\n";

// The groups table shows the quartiles (numpy's linear method) between min and max, as the JSON's
// q1 and q3: group a is 99, 99.6, 100, 100.2, 100.8, 101.5, so q1 = 99.7 and q3 = 100.65.
TEST(AnalyzeCli, GroupsTableShowsQuartiles) {
    const joulebench::test::TempDir dir;
    const fs::path csv = dir.path() / "runs.csv";
    std::ofstream(csv) << kCsv;
    const ProcessResult r =
        run_joulebench(Args{"analyze", "--csv", csv.string(), "--group", "image", "--value",
                            "energy (J)", "--format", "csv"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_NE(r.out.find(",min,q1,q3,max,"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find(",99,99.7,100.65,101.5,"), std::string::npos) << r.out;
    const ProcessResult text = run_joulebench(
        Args{"analyze", "--csv", csv.string(), "--group", "image", "--value", "energy (J)"});
    ASSERT_EQ(text.exit_code, 0) << text.err;
    const auto header = text.out.find("group");
    ASSERT_NE(header, std::string::npos) << text.out;
    const std::string line = text.out.substr(header, text.out.find('\n', header) - header);
    EXPECT_LT(line.find(" min "), line.find(" q1 ")) << line;
    EXPECT_LT(line.find(" q1 "), line.find(" q3 ")) << line;
    EXPECT_LT(line.find(" q3 "), line.find(" max ")) << line;
}

TEST(AnalyzeCli, WritesTablesVerdictsAndStableJson) {
    const joulebench::test::TempDir dir;
    const fs::path csv = dir.path() / "runs.csv";
    std::ofstream(csv) << kCsv;
    const fs::path json = dir.path() / "out.json";
    const ProcessResult r =
        run_joulebench(Args{"analyze", "--csv", csv.string(), "--group", "image", "--value", "energy (J)",
                            "--baseline", "a", "--json", json.string()});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_NE(r.out.find("Kruskal-Wallis H"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("a uses 9.2% less energy than b; large effect"), std::string::npos)
        << r.out;
    EXPECT_NE(r.out.find("group 'tiny' has 3 values (fewer than 5)"), std::string::npos);
    EXPECT_NE(r.out.find("group 'b': 1 outlier(s)"), std::string::npos);

    const auto j = nlohmann::json::parse(slurp(json));
    ASSERT_EQ(j.at("groups").size(), 3U);
    EXPECT_EQ(j.at("groups")[0].at("name"), "a");
    EXPECT_EQ(j.at("groups")[1].at("name"), "b");
    EXPECT_EQ(j.at("groups")[2].at("name"), "tiny");
    EXPECT_EQ(j.at("groups")[2].at("n"), 3);
    EXPECT_DOUBLE_EQ(j.at("groups")[1].at("median").get<double>(), 110.25);
    for (const char* key : {"name", "n", "mean", "median", "std", "min", "max", "shapiro_w",
                            "shapiro_p", "normal", "median_ci95"}) {
        EXPECT_TRUE(j.at("groups")[0].contains(key)) << key;
    }
    EXPECT_EQ(j.at("groups")[0].at("median_ci95").size(), 2U);
    EXPECT_EQ(j.at("omnibus").at("test"), "kruskal-wallis");
    ASSERT_EQ(j.at("pairs").size(), 3U);
    EXPECT_EQ(j.at("pairs")[0].at("a"), "a");
    EXPECT_EQ(j.at("pairs")[0].at("b"), "b");
    EXPECT_EQ(j.at("pairs")[0].at("cliffs_delta"), -1.0);
    EXPECT_EQ(j.at("pairs")[0].at("magnitude"), "large");
    EXPECT_LT(j.at("pairs")[0].at("dunn_z").get<double>(), 0.0);  // a ranks below b
    for (const char* key :
         {"a", "b", "dunn_z", "p", "p_adj", "cliffs_delta", "magnitude", "mean_diff"}) {
        EXPECT_TRUE(j.at("pairs")[1].contains(key)) << key;
    }
    EXPECT_EQ(j.at("baseline").at("name"), "a");
    EXPECT_NEAR(j.at("baseline").at("overheads")[0].at("median_pct").get<double>(),
                100.0 * (110.25 - 100.1) / 100.1, 1e-9);
    EXPECT_FALSE(j.at("warnings").empty());
    EXPECT_FALSE(fs::exists(json.string() + ".tmp"));

    // The same seed gives byte-identical JSON (bootstrap CIs included).
    const fs::path json2 = dir.path() / "out2.json";
    ASSERT_EQ(
        run_joulebench(Args{"analyze", "--csv", csv.string(), "--group", "image", "--value", "energy (J)",
                            "--baseline", "a", "--json", json2.string()})
            .exit_code,
        0);
    EXPECT_EQ(slurp(json), slurp(json2));
}

TEST(AnalyzeCli, OtherFormatsAndHolm) {
    const joulebench::test::TempDir dir;
    const fs::path csv = dir.path() / "runs.csv";
    std::ofstream(csv) << kCsv;
    const Args base{"analyze", "--csv", csv.string(), "--group", "image", "--value", "energy (J)"};
    auto with = [&base](std::initializer_list<const char*> extra) {
        Args a = base;
        a.insert(a.end(), extra.begin(), extra.end());
        return run_joulebench(a);
    };
    const ProcessResult md = with({"--format", "md", "--p-adjust", "holm"});
    ASSERT_EQ(md.exit_code, 0) << md.err;
    // The group 'tiny' has 3 values: its pairs take the exact Mann-Whitney p, and the table says.
    EXPECT_NE(md.out.find("### Pairs (Dunn's test; exact Mann-Whitney p where a group has fewer "
                          "than 5 values, p adjusted by holm)"),
              std::string::npos)
        << md.out;
    EXPECT_NE(md.out.find("| exact Mann-Whitney |"), std::string::npos) << md.out;
    const ProcessResult tex = with({"--format", "tex"});
    ASSERT_EQ(tex.exit_code, 0) << tex.err;
    EXPECT_NE(tex.out.find("\\toprule"), std::string::npos);
    const ProcessResult csvout = with({"--format", "csv"});
    ASSERT_EQ(csvout.exit_code, 0) << csvout.err;
    EXPECT_NE(csvout.out.find("table,a,b,Dunn z"), std::string::npos) << csvout.out;
}

// At n = 3 per group Dunn's normal approximation gives p = 0.0495 where the exact Mann-Whitney p
// is 0.1: the exact p is the one adjusted and the verdict follows it (issue 22, item 11). With
// ties (no exact test) the verdict says the p is unreliable instead of calling a difference.
TEST(AnalyzeCli, TinyGroupsTakeTheExactPAndTheVerdictFollowsIt) {
    const joulebench::test::TempDir dir;
    const fs::path csv = dir.path() / "tiny.csv";
    std::ofstream(csv) << "g,v\na,1\na,2\na,3\nb,4\nb,5\nb,6\n";
    const fs::path json = dir.path() / "a.json";
    const auto r = run_joulebench({"analyze", "--csv", csv.string(), "--group", "g", "--value", "v",
                                   "--json", json.string()});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    const auto j = nlohmann::json::parse(slurp(json));
    const auto& pair = j.at("pairs").at(0);
    EXPECT_EQ(pair.at("p_method"), "exact-mann-whitney");
    EXPECT_NEAR(pair.at("p").template get<double>(), 0.1, 1e-9);
    EXPECT_FALSE(pair.at("p_unreliable").template get<bool>());
    EXPECT_NE(r.out.find("a and b do not differ significantly"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("(exact Mann-Whitney)"), std::string::npos) << r.out;

    const fs::path tied = dir.path() / "tied.csv";
    std::ofstream(tied) << "g,v\na,1\na,1\na,3\nb,4\nb,4\nb,6\n";
    const auto t = run_joulebench({"analyze", "--csv", tied.string(), "--group", "g", "--value", "v"});
    ASSERT_EQ(t.exit_code, 0) << t.err;
    EXPECT_NE(t.out.find("a vs b: too few values for a reliable p"), std::string::npos) << t.out;
}

TEST(AnalyzeCli, BadInputGivesErrorLinesAndExitStatuses) {
    const joulebench::test::TempDir dir;
    const fs::path csv = dir.path() / "bad.csv";
    std::ofstream(csv) << "image,energy\na,1\na,oops\n";
    const ProcessResult bad =
        run_joulebench(Args{"analyze", "--csv", csv.string(), "--group", "image", "--value", "energy"});
    EXPECT_EQ(bad.exit_code, 2);
    EXPECT_NE(bad.err.find("error: csv: read " + csv.string() +
                           " line 3: value 'oops' in column 'energy' is not a number"),
              std::string::npos)
        << bad.err;
    EXPECT_TRUE(bad.out.empty());

    const ProcessResult col =
        run_joulebench(Args{"analyze", "--csv", csv.string(), "--group", "image", "--value", "power"});
    EXPECT_EQ(col.exit_code, 2);
    EXPECT_NE(col.err.find("no column 'power'"), std::string::npos) << col.err;
    EXPECT_NE(col.err.find("hint: columns are: 'image', 'energy'"), std::string::npos) << col.err;

    const ProcessResult missing =
        run_joulebench(Args{"analyze", "--csv", (dir.path() / "nope.csv").string(), "--group", "image", "--value", "energy"});
    EXPECT_EQ(missing.exit_code, 1);
    EXPECT_NE(missing.err.find("no such file"), std::string::npos) << missing.err;

    const ProcessResult usage =
        run_joulebench(Args{"analyze", "--csv", csv.string(), "--value", "energy"});
    EXPECT_EQ(usage.exit_code, 2);
    const ProcessResult adjust =
        run_joulebench(Args{"analyze", "--csv", csv.string(), "--group", "image", "--value", "energy", "--p-adjust", "fdr"});
    EXPECT_EQ(adjust.exit_code, 2);
}

TEST(AnalyzeCli, TuDelftPerRunTablesAssembledIntoOneTidyCsv) {
    const fs::path per_run = fs::path(JOULEBENCH_SOURCE_DIR) / ".." / "shared" / "datasets" /
                             "tudelft-docker-images" / "per-run";
    if (!fs::is_directory(per_run)) GTEST_SKIP() << "dataset absent: " << per_run.string();
    const auto ref = nlohmann::json::parse(
        slurp(fs::path(JOULEBENCH_TEST_DATA_DIR) / "stats" / "tudelft_reference.json"));
    const joulebench::test::TempDir dir;
    const fs::path tidy = dir.path() / "tudelft.csv";
    {
        std::ofstream out(tidy);
        out << "image,run,energy_j,time_s\n";
        for (const auto& image : ref.at("images")) {
            std::ifstream in(per_run / (image.get<std::string>() + "_output.csv"));
            std::string line;
            std::getline(in, line);  // header
            while (std::getline(in, line)) {
                if (!line.empty() && line.back() == '\r') line.pop_back();
                if (line.empty()) continue;
                out << image.get<std::string>() << "," << line << "\n";
            }
        }
    }
    const fs::path json = dir.path() / "energy.json";
    const ProcessResult r = run_joulebench(Args{"analyze", "--csv", tidy.string(), "--group", "image", "--value", "energy_j",
                                                "--baseline", "pytorch-base", "--json", json.string()});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    const auto j = nlohmann::json::parse(slurp(json));
    const auto& e = ref.at("metrics").at("Energy Consumption (Joules)");
    ASSERT_EQ(j.at("groups").size(), 5U);
    for (std::size_t i = 0; i < 5; ++i) {
        const double want = e.at("groups")[i].at("describe").at("median").get<double>();
        // The CLI round-trips the CSV text, so the values are the same doubles.
        EXPECT_NEAR(j.at("groups")[i].at("median").get<double>(), want, 1e-9 * want);
    }
    const double p = e.at("kruskal").at("p").get<double>();
    EXPECT_NEAR(j.at("omnibus").at("p").get<double>(), p, 1e-9 * p);
    EXPECT_EQ(j.at("pairs").size(), 10U);
    EXPECT_NE(r.out.find("python-base uses 3.0% more energy than pytorch-base"), std::string::npos)
        << r.out;
}

}  // namespace
