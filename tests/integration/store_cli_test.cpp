// `joulebench plan`, `export` and `merge` run as the real binary on real files.

#include <gtest/gtest.h>
#include <sqlite3.h>

#include <nlohmann/json.hpp>

#include "fakes/test_support.hpp"
#include "joulebench/store.hpp"
#include "unit/store_test_util.hpp"

namespace joulebench {
namespace {

const std::string kExample =
    std::string(JOULEBENCH_TEST_DATA_DIR) + "/experiments/docker-vs-bare.toml";

TEST(PlanCli, PrintsTheOrderedPlan) {
    const auto r = test::run_joulebench({"plan", kExample});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_NE(r.out.find("experiment 'docker-vs-bare'"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("= 12 variants, 10 repetitions: 120 runs"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("order shuffled, seed 7"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("warmup 1m; rest until back near the idle baseline; GPU slots 0, 1"),
              std::string::npos)
        << r.out;
    // The golden first run of seed 7 (tests/unit/plan_order_test.cpp), with its factors.
    EXPECT_NE(r.out.find("0  a0343e8fc8726bfe  resnet50-infer  docker"), std::string::npos)
        << r.out;
    EXPECT_TRUE(r.err.empty()) << r.err;
}

TEST(PlanCli, JsonShardAndBlockedWarning) {
    test::TempDir dir;
    std::string text = test::read_file(kExample);
    text.replace(text.find("order = \"shuffled\""), 18, "order = \"blocked\"");
    test::write_file(dir.path() / "blocked.toml", text);
    const auto r = test::run_joulebench(
        {"plan", (dir.path() / "blocked.toml").string(), "--shard", "2/3", "--json"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_NE(r.err.find("warning: order = \"blocked\""), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("temperature"), std::string::npos) << r.err;
    const auto doc = nlohmann::json::parse(r.out);
    EXPECT_EQ(doc["total_runs"], 120);
    EXPECT_EQ(doc["shard"]["index"], 2);
    EXPECT_EQ(doc["runs"].size(), 40u);
    EXPECT_EQ(doc["runs"][0]["plan_index"], 1);
    EXPECT_EQ(doc["runs"][1]["plan_index"], 4);
    EXPECT_EQ(doc["runs"][0]["workload"], "resnet50-infer");
    EXPECT_EQ(doc["runs"][0]["repetition"], 2);  // blocked: variant 0, repetitions 1..10 first
    EXPECT_EQ(doc["runs"][0]["power_cap_w"], 150);
    EXPECT_EQ(doc["warnings"].size(), 1u);
}

TEST(PlanCli, InvalidFileIsAUsageErrorWithTheLine) {
    test::TempDir dir;
    test::write_file(dir.path() / "bad.toml",
                     "[experiment]\nname = \"x\"\nrepetitions = 2\n[[workload]]\nname = "
                     "\"w\"\ncommand = \"ls -l\"\n");
    const auto r = test::run_joulebench({"plan", (dir.path() / "bad.toml").string()});
    EXPECT_EQ(r.exit_code, 2);
    EXPECT_NE(r.err.find("error: experiment: " + (dir.path() / "bad.toml").string() +
                         ":6: command of workload 'w' must be an array of arguments, not a string"),
              std::string::npos)
        << r.err;
    EXPECT_NE(r.err.find("hint: write [\"program\""), std::string::npos) << r.err;
    const auto shard = test::run_joulebench({"plan", kExample, "--shard", "3/2"});
    EXPECT_EQ(shard.exit_code, 2);
    EXPECT_NE(shard.err.find("shard"), std::string::npos) << shard.err;
    const auto missing = test::run_joulebench({"plan", (dir.path() / "none.toml").string()});
    EXPECT_EQ(missing.exit_code, 1);
    EXPECT_NE(missing.err.find("no such file"), std::string::npos) << missing.err;
}

class StoreCli : public ::testing::Test {
protected:
    void SetUp() override {
        m_spec = test::store_example_spec();
        m_plan = make_plan(m_spec);
    }
    std::filesystem::path make_store(const char* name, std::optional<Shard> shard,
                                     std::size_t done_index, double scale) {
        const auto path = m_dir.path() / name;
        Store store(path);
        store.record_experiment(experiment_record(m_spec));
        store.add_planned_runs(make_plan(m_spec, shard).runs);
        store.mark_running(m_plan.runs[done_index].run_id, std::nullopt, 0, 1700000000.0);
        store.finish_run(test::outcome(m_plan.runs[done_index].run_id, RunStatus::kDone,
                                       test::example_measure(1700000000.0, scale)));
        return path;
    }
    test::TempDir m_dir;
    ExperimentSpec m_spec;
    Plan m_plan;
};

TEST_F(StoreCli, ExportCsvToStdoutAndJsonToAFile) {
    const auto db = make_store("a.db", std::nullopt, 0, 1.0);
    const auto csv = test::run_joulebench({"export", db.string(), "--format", "csv"});
    ASSERT_EQ(csv.exit_code, 0) << csv.err;
    Store store(db, Store::Mode::kReadOnly);
    EXPECT_EQ(csv.out, export_csv(store));
    EXPECT_EQ(csv.out.rfind("run_id,plan_index,workload,environment,power_cap_w,", 0), 0u);
    EXPECT_NE(
        csv.out.find(",done,1,1700000000,1700000002,0,,2,140,100,40,false,false,false,280,560,"),
        std::string::npos)
        << csv.out;

    const auto out = m_dir.path() / "runs.json";
    const auto json =
        test::run_joulebench({"export", db.string(), "--format", "json", "-o", out.string()});
    ASSERT_EQ(json.exit_code, 0) << json.err;
    EXPECT_TRUE(json.out.empty());
    const auto doc = nlohmann::json::parse(test::read_file(out));
    EXPECT_EQ(doc["runs"].size(), 8u);
    EXPECT_EQ(doc["runs"][0]["energy_j"], 140.0);
    EXPECT_EQ(doc["experiment"]["name"], "store-test");

    const auto missing = test::run_joulebench({"export", (m_dir.path() / "none.db").string()});
    EXPECT_EQ(missing.exit_code, 1);
    EXPECT_NE(missing.err.find("error: store: open"), std::string::npos) << missing.err;
    const auto bad_format = test::run_joulebench({"export", db.string(), "--format", "xml"});
    EXPECT_EQ(bad_format.exit_code, 2);
}

TEST_F(StoreCli, MergeJoinsShardsAndRefusesOtherExperiments) {
    const auto a = make_store("a.db", Shard{1, 2}, 0, 1.0);
    const auto b =
        make_store("b.db", Shard{2, 2}, make_plan(m_spec, Shard{2, 2}).runs.at(0).plan_index, 2.0);
    const auto c = m_dir.path() / "c.db";
    const auto r = test::run_joulebench({"merge", a.string(), b.string(), "-o", c.string()});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_NE(r.out.find("merged 2 stores into " + c.string() +
                         ": 8 runs, no run in more than one store"),
              std::string::npos)
        << r.out;
    Store merged(c, Store::Mode::kReadOnly);
    EXPECT_EQ(merged.status_counts().done, 2u);
    EXPECT_EQ(merged.status_counts().total(), 8u);

    // Overlap: a.db and the merged store share run 0 and its shard.
    const auto d = m_dir.path() / "d.db";
    const auto overlap = test::run_joulebench({"merge", c.string(), a.string(), "-o", d.string()});
    ASSERT_EQ(overlap.exit_code, 0) << overlap.err;
    EXPECT_NE(overlap.out.find("4 in more than one store"), std::string::npos) << overlap.out;
    EXPECT_NE(
        overlap.out.find(m_plan.runs[0].run_id + ": kept " + c.string() + " (done, attempt 1)"),
        std::string::npos)
        << overlap.out;

    {
        Store other(m_dir.path() / "other.db");
        other.record_experiment(
            experiment_record(parse_experiment_text(m_spec.source_text + "\n", "other.toml")));
    }
    const auto refused =
        test::run_joulebench({"merge", a.string(), (m_dir.path() / "other.db").string(), "-o",
                              (m_dir.path() / "e.db").string()});
    EXPECT_EQ(refused.exit_code, 2);
    EXPECT_NE(refused.err.find("different experiments"), std::string::npos) << refused.err;
    EXPECT_FALSE(std::filesystem::exists(m_dir.path() / "e.db"));

    const auto one =
        test::run_joulebench({"merge", a.string(), "-o", (m_dir.path() / "f.db").string()});
    EXPECT_EQ(one.exit_code, 2);  // needs two stores
}

// A value changed outside joulebench (a cap of -56 W): export refuses naming the file and the run
// (exit 1, hint to verify), `verify` lists it (exit 1) and says a sound store is ok (exit 0).
TEST_F(StoreCli, VerifyAndExportFindADamagedRun) {
    const auto good = make_store("good.db", std::nullopt, 0, 1.0);
    const auto bad = make_store("bad.db", std::nullopt, 1, 1.0);
    const std::string& run = m_plan.runs[1].run_id;
    sqlite3* raw = nullptr;
    ASSERT_EQ(sqlite3_open(bad.c_str(), &raw), SQLITE_OK);
    ASSERT_EQ(
        sqlite3_exec(raw, ("UPDATE runs SET gpu_cap_w = -56 WHERE run_id = '" + run + "'").c_str(),
                     nullptr, nullptr, nullptr),
        SQLITE_OK);
    sqlite3_close(raw);

    const auto exported = test::run_joulebench({"export", bad.string(), "--format", "json"});
    EXPECT_EQ(exported.exit_code, 1);
    EXPECT_TRUE(exported.out.empty()) << exported.out;
    EXPECT_NE(exported.err.find("error: store: " + bad.string() + ": run " + run),
              std::string::npos)
        << exported.err;
    EXPECT_NE(exported.err.find("hint: run `joulebench verify " + bad.string()), std::string::npos)
        << exported.err;

    const auto ok = test::run_joulebench({"verify", good.string()});
    EXPECT_EQ(ok.exit_code, 0) << ok.err;
    EXPECT_NE(ok.out.find(good.string() + ": ok"), std::string::npos) << ok.out;
    const auto both = test::run_joulebench({"verify", good.string(), bad.string()});
    EXPECT_EQ(both.exit_code, 1);
    EXPECT_NE(both.out.find(bad.string() + ": damaged"), std::string::npos) << both.out;
    EXPECT_NE(both.out.find("run " + run + ": stored result does not match its checksum"),
              std::string::npos)
        << both.out;
    const auto json = test::run_joulebench({"verify", "--json", bad.string()});
    EXPECT_EQ(json.exit_code, 1);
    const auto doc = nlohmann::json::parse(json.out);
    EXPECT_EQ(doc["stores"][0]["damaged_runs"], nlohmann::json::array({run}));
    EXPECT_EQ(doc["stores"][0]["ok"], false);

    const auto garbled = m_dir.path() / "garbled.db";
    test::write_file(garbled, std::string(8192, '\x42'));
    const auto unreadable = test::run_joulebench({"verify", garbled.string()});
    EXPECT_EQ(unreadable.exit_code, 1);
    EXPECT_NE(unreadable.out.find(garbled.string() + ": cannot be read"), std::string::npos)
        << unreadable.out;
}

}  // namespace
}  // namespace joulebench
