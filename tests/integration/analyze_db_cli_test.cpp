// `joulebench analyze DB` as a real process on real SQLite stores written through the Store API
// (tests/unit/stats_store_fixture.hpp): the tables per block and the cap table on stdout, the JSON
// document, the excluded runs, the blocked-order warning, the formats, and usage errors.

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>

#include "fakes/test_support.hpp"
#include "unit/stats_store_fixture.hpp"

namespace {

namespace fs = std::filesystem;
namespace t = joulebench::test;
using t::run_joulebench;

class AnalyzeDbCli : public ::testing::Test {
protected:
    void SetUp() override {
        m_db = m_dir.path() / "runs.db";
        t::write_analyze_store(m_db, "shuffled");
    }
    t::TempDir m_dir{"joulebench-analyze-db"};
    fs::path m_db;
};

std::size_t count(const std::string& text, const std::string& needle) {
    std::size_t n = 0;
    for (auto p = text.find(needle); p != std::string::npos; p = text.find(needle, p + 1)) ++n;
    return n;
}

TEST_F(AnalyzeDbCli, PrintsBlocksCapTableAndWritesJson) {
    const fs::path json = m_dir.path() / "out.json";
    const auto r =
        run_joulebench({"analyze", m_db.string(), "--json", json.string(), "--resamples", "200"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_NE(r.out.find("energy_j by environment in " + m_db.string() +
                         " (analyze-db, baseline 'bare'): 87 done runs used of 90; one analysis "
                         "block per workload and power cap"),
              std::string::npos)
        << r.out;
    EXPECT_EQ(count(r.out, "== Block: "), 6U);
    EXPECT_NE(r.out.find("== Block: workload 'resnet', GPU cap 150 W =="), std::string::npos)
        << r.out;
    EXPECT_EQ(count(r.out, "Kruskal-Wallis H"), 6U);
    EXPECT_NE(r.out.find("Caps minimising E, EDP and ED2P (GPU caps; medians over runs)"),
              std::string::npos);
    EXPECT_NE(r.out.find("Overheads against 'bare' over caps"), std::string::npos);
    EXPECT_NE(r.out.find("- 2 failed runs excluded"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("- 1 timed-out run excluded"), std::string::npos);
    EXPECT_EQ(r.out.find("far apart in time"), std::string::npos);

    const auto j = nlohmann::json::parse(t::read_file(json));
    EXPECT_EQ(j.at("schema"), "joulebench.analysis-store/1");
    EXPECT_EQ(j.at("source").at("db"), m_db.string());
    EXPECT_EQ(j.at("source").at("experiment"), "analyze-db");
    EXPECT_EQ(j.at("source").at("metric"), "energy_j");
    EXPECT_EQ(j.at("source").at("by"), "environment");
    EXPECT_EQ(j.at("source").at("baseline"), "bare");
    EXPECT_EQ(j.at("runs").at("total"), 90);
    EXPECT_EQ(j.at("runs").at("used"), 87);
    EXPECT_EQ(j.at("runs").at("failed"), 2);
    EXPECT_EQ(j.at("runs").at("timeout"), 1);
    ASSERT_EQ(j.at("blocks").size(), 6U);
    const auto& b0 = j.at("blocks").at(0);
    EXPECT_EQ(b0.at("workload"), "resnet");
    EXPECT_EQ(b0.at("power_cap_w"), 150.0);
    EXPECT_TRUE(b0.at("cpu_power_cap_w").is_null());
    EXPECT_FALSE(b0.contains("environment"));
    // The block's analysis is the object of `analyze --csv`.
    EXPECT_EQ(b0.at("analysis").at("schema"), "joulebench.analysis/1");
    ASSERT_EQ(b0.at("analysis").at("groups").size(), 3U);
    EXPECT_EQ(b0.at("analysis").at("groups").at(0).at("name"), "bare");
    EXPECT_NEAR(b0.at("analysis").at("groups").at(0).at("median").get<double>(), 1500.0, 1e-9);
    EXPECT_EQ(b0.at("analysis").at("pairs").size(), 3U);
    EXPECT_NEAR(
        b0.at("analysis").at("baseline").at("overheads").at(0).at("median_pct").get<double>(), 5.0,
        1e-9);
    // The cap table.
    ASSERT_EQ(j.at("caps").size(), 1U);
    const auto& caps = j.at("caps").at(0);
    EXPECT_EQ(caps.at("domain"), "gpu");
    EXPECT_EQ(caps.at("baseline"), "bare");
    EXPECT_EQ(caps.at("optima").size(), 6U);
    EXPECT_EQ(caps.at("optima").at(0).at("cap_min_edp_w"), 200.0);
    EXPECT_NEAR(caps.at("optima").at(0).at("min_edp_js").get<double>(), 15500.0, 1e-9);
    bool found = false;
    for (const auto& s : caps.at("summary")) {
        if (s.at("environment") == "podman" && s.at("workload") == "resnet") {
            found = true;
            EXPECT_NEAR(s.at("edp_max_pct").get<double>(), 9.2, 1e-9);
            EXPECT_NEAR(s.at("time_avg_pct").get<double>(), 3.0, 1e-9);
        }
    }
    EXPECT_TRUE(found);
    EXPECT_EQ(j.at("warnings").size(), 2U) << j.at("warnings").dump();
}

TEST_F(AnalyzeDbCli, WarnsAboutABlockedPlan) {
    const fs::path blocked = m_dir.path() / "blocked.db";
    t::write_analyze_store(blocked, "blocked");
    const auto r = run_joulebench({"analyze", blocked.string(), "--resamples", "200"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(count(r.out, "groups were measured in blocks far apart in time"), 18U) << r.out;
    EXPECT_NE(r.out.find("workload 'bert', GPU cap 250 W: groups were measured "
                         "in blocks far apart in time: 'bare' (runs 1-4 of 14 by start time) and "
                         "'docker' (runs 5-9) do not overlap in time"),
              std::string::npos)
        << r.out;
}

TEST_F(AnalyzeDbCli, FormatsMetricAndFactor) {
    auto r = run_joulebench(
        {"analyze", m_db.string(), "--format", "csv", "--metric", "wall_s", "--resamples", "200"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(count(r.out,
                    "table,workload,environment,power_cap_w,cpu_power_cap_w,"
                    "cpu_estimated,cpu_attributed,cpu_shared\n"),
              6U);
    EXPECT_NE(r.out.find("block,resnet,,150,,false,false,false\n"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("\ncaps_gpu,bare,resnet,150,"), std::string::npos) << r.out;
    // CSV has no place for warnings: they go to stderr.
    EXPECT_NE(r.err.find("warning: 2 failed runs excluded"), std::string::npos) << r.err;

    r = run_joulebench({"analyze", m_db.string(), "--format", "md", "--resamples", "200"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(count(r.out, "### Block: "), 6U);
    EXPECT_NE(r.out.find("**Warnings (store)**"), std::string::npos);

    r = run_joulebench({"analyze", m_db.string(), "--format", "tex", "--resamples", "200"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_GE(count(r.out, "\\begin{tabular}"), 6U * 3U + 3U);

    r = run_joulebench(
        {"analyze", m_db.string(), "--by", "gpu_cap", "--baseline", "250 W", "--resamples", "200"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_NE(r.out.find("== Block: workload 'resnet', environment 'bare' =="), std::string::npos)
        << r.out;
}

TEST_F(AnalyzeDbCli, UsageErrors) {
    const fs::path csv = m_dir.path() / "x.csv";
    t::write_file(csv, "g,v\na,1\n");
    auto r = run_joulebench({"analyze", m_db.string(), "--csv", csv.string()});
    EXPECT_EQ(r.exit_code, 2);
    EXPECT_NE(r.err.find("excludes"), std::string::npos) << r.err;

    r = run_joulebench({"analyze"});
    EXPECT_EQ(r.exit_code, 2);
    EXPECT_NE(r.err.find("give a results store DB or --csv FILE"), std::string::npos) << r.err;

    r = run_joulebench({"analyze", "--csv", csv.string(), "--metric", "wall_s"});
    EXPECT_EQ(r.exit_code, 2);

    r = run_joulebench({"analyze", m_db.string(), "--metric", "joules"});
    EXPECT_EQ(r.exit_code, 2);

    r = run_joulebench({"analyze", m_db.string(), "--baseline", "kvm"});
    EXPECT_EQ(r.exit_code, 2);
    EXPECT_NE(r.err.find("error: analyze: analyse store " + m_db.string() +
                         ": use baseline 'kvm': no done run has environment 'kvm'"),
              std::string::npos)
        << r.err;
    EXPECT_NE(r.err.find("hint: the environment levels are 'bare', 'docker', 'podman'"),
              std::string::npos)
        << r.err;

    r = run_joulebench({"analyze", (m_dir.path() / "missing.db").string()});
    EXPECT_EQ(r.exit_code, 1);
    EXPECT_NE(r.err.find("error: "), std::string::npos);
}

}  // namespace
