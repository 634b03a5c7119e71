// merge: shards of one experiment join without duplicates; an overlapping run keeps the done copy,
// else the latest attempt; sessions, domains, traces and baselines come along with their links
// intact; different experiments and an existing output are refused, and no output is left behind.

#include <gtest/gtest.h>
#include <sqlite3.h>

#include "fakes/test_support.hpp"
#include "joulebench/error.hpp"
#include "joulebench/store.hpp"
#include "runner/store_trace_sink.hpp"
#include "unit/store_test_util.hpp"

namespace joulebench {
namespace {

class StoreMerge : public ::testing::Test {
protected:
    void SetUp() override {
        m_spec = test::store_example_spec();
        m_plan = make_plan(m_spec);
    }
    std::filesystem::path db(const char* name) const { return m_dir.path() / name; }
    /// The plan index of the k-th run (0-based) of shard i of n.
    std::size_t in_shard(unsigned i, unsigned n, std::size_t k) const {
        return make_plan(m_spec, Shard{i, n}).runs.at(k).plan_index;
    }

    /// A store holding the runs of `shard` (all runs when nullopt), with `host` as its session.
    void create(const std::filesystem::path& path, std::optional<Shard> shard,
                const std::string& host) {
        Store store(path);
        store.record_experiment(experiment_record(m_spec));
        store.add_planned_runs(make_plan(m_spec, shard).runs);
        SessionInfo session;
        session.host_json = R"({"host":")" + host + R"("})";
        session.node = host;
        session.slurm_job_id = "9" + std::to_string(host.size());
        session.slurm_array_job_id = "90";
        session.slurm_array_task_id = std::to_string(shard ? shard->index : 0);
        session.allocation_json = R"({"job_cpus":4})";
        m_sessions[path] = store.begin_session(session);
        store.add_session_phases(m_sessions[path], "kvm", 0,
                                 {PhaseResult{"vm-shutdown", 1.5, 30.0 + static_cast<double>(host.size()), std::nullopt}});
        store.record_idle_baseline(
            IdleBaselineRecord{m_sessions[path], "gpu0", 1.0, 5.0, 20.0, std::nullopt, host});
    }

    void finish(const std::filesystem::path& path, std::size_t index, RunStatus status,
                double scale, double started_at) {
        Store store(path, Store::Mode::kExisting);
        const std::string& id = m_plan.runs[index].run_id;
        store.mark_running(id, m_sessions[path], 0, started_at);
        RunOutcome outcome;
        outcome.run_id = id;
        outcome.status = status;
        outcome.measure = test::example_measure(started_at, scale);
        store.finish_run(outcome);
    }

    test::TempDir m_dir;
    ExperimentSpec m_spec;
    Plan m_plan;
    std::map<std::filesystem::path, std::int64_t> m_sessions;
};

TEST_F(StoreMerge, ShardsJoinIntoTheWholePlan) {
    create(db("a.db"), Shard{1, 2}, "alpha");
    create(db("b.db"), Shard{2, 2}, "beta");
    const std::size_t a0 = in_shard(1, 2, 0);
    const std::size_t b0 = in_shard(2, 2, 0);
    const std::size_t b1 = in_shard(2, 2, 1);
    finish(db("a.db"), a0, RunStatus::kDone, 1.0, 100.0);
    finish(db("b.db"), b0, RunStatus::kDone, 2.0, 200.0);
    {
        // A trace in b, to check that it comes along.
        Store b(db("b.db"), Store::Mode::kExisting);
        b.mark_running(m_plan.runs[b1].run_id, m_sessions[db("b.db")], 1, 300.0);
        StoreTraceSink sink(b, m_plan.runs[b1].run_id, 2);
        std::vector<const Sensor*> none;
        sink.begin(none);
        for (int i = 0; i < 5; ++i) sink.row(i * 0.5, {}, {});
        sink.end();
        b.finish_run(
            test::outcome(m_plan.runs[b1].run_id, RunStatus::kDone, test::example_measure(300.0)));
    }

    const MergeReport report = Store::merge({db("a.db"), db("b.db")}, db("c.db"));
    EXPECT_EQ(report.runs, 8u);
    EXPECT_EQ(report.duplicates, 0u);
    EXPECT_TRUE(report.decisions.empty());

    Store c(db("c.db"), Store::Mode::kReadOnly);
    EXPECT_EQ(c.experiment()->file_sha256, m_spec.source_sha256);
    const auto runs = c.runs();
    ASSERT_EQ(runs.size(), 8u);
    for (std::size_t i = 0; i < runs.size(); ++i) EXPECT_EQ(runs[i].run_id, m_plan.runs[i].run_id);
    EXPECT_EQ(c.status_counts().done, 3u);
    EXPECT_DOUBLE_EQ(*c.run(m_plan.runs[b0].run_id)->energy_j, 280.0);
    EXPECT_EQ(c.domains(m_plan.runs[b0].run_id).size(), 3u);
    EXPECT_EQ(c.trace(m_plan.runs[b1].run_id).times_s.size(), 5u);
    // Sessions are renumbered, and every run still points at the session of its own host.
    sqlite3_stmt* stmt = nullptr;
    ASSERT_EQ(sqlite3_prepare_v2(
                  c.handle(),
                  "SELECT r.run_id, s.host_json FROM runs r JOIN sessions s ON s.id = r.session_id",
                  -1, &stmt, nullptr),
              SQLITE_OK);
    std::map<std::string, std::string> host_of;
    while (sqlite3_step(stmt) == SQLITE_ROW) {
        host_of[reinterpret_cast<const char*>(sqlite3_column_text(stmt, 0))] =
            reinterpret_cast<const char*>(sqlite3_column_text(stmt, 1));
    }
    sqlite3_finalize(stmt);
    EXPECT_EQ(host_of[m_plan.runs[a0].run_id], R"({"host":"alpha"})");
    EXPECT_EQ(host_of[m_plan.runs[b0].run_id], R"({"host":"beta"})");
    // Where each session ran comes along, and its phases follow it.
    const auto sessions = c.sessions();
    ASSERT_EQ(sessions.size(), 2u);
    EXPECT_EQ(sessions[0].node, std::optional<std::string>("alpha"));
    EXPECT_EQ(sessions[1].node, std::optional<std::string>("beta"));
    EXPECT_EQ(sessions[1].slurm_array_task_id, std::optional<std::string>("2"));
    EXPECT_EQ(sessions[1].allocation_json, std::optional<std::string>(R"({"job_cpus":4})"));
    const auto phases = c.session_phases();
    ASSERT_EQ(phases.size(), 2u);
    EXPECT_EQ(phases[0].session_id, sessions[0].id);
    EXPECT_EQ(phases[1].session_id, sessions[1].id);
    EXPECT_EQ(phases[1].environment, "kvm");
    EXPECT_EQ(phases[1].gpu, 0);
    EXPECT_EQ(phases[1].phase.name, "vm-shutdown");
    EXPECT_DOUBLE_EQ(*phases[1].phase.energy_j, 34.0);
    const auto baselines = c.idle_baselines();
    ASSERT_EQ(baselines.size(), 2u);
    EXPECT_NE(baselines[0].session_id, baselines[1].session_id);
    // The inputs are untouched.
    Store a(db("a.db"), Store::Mode::kReadOnly);
    EXPECT_EQ(a.runs().size(), 4u);
}

TEST_F(StoreMerge, OverlapsKeepTheDoneRunThenTheLatestAttempt) {
    create(db("a.db"), std::nullopt, "alpha");
    create(db("b.db"), std::nullopt, "beta");
    // Run 0: done in a, failed (a later attempt) in b: a's done run wins.
    finish(db("a.db"), 0, RunStatus::kDone, 1.0, 100.0);
    finish(db("b.db"), 0, RunStatus::kFailed, 3.0, 500.0);
    finish(db("b.db"), 0, RunStatus::kFailed, 3.0, 600.0);
    // Run 1: failed once in a, failed twice in b: b's second attempt wins.
    finish(db("a.db"), 1, RunStatus::kFailed, 1.0, 100.0);
    finish(db("b.db"), 1, RunStatus::kFailed, 2.0, 200.0);
    finish(db("b.db"), 1, RunStatus::kTimeout, 2.5, 300.0);
    // Run 2: done in both; same attempt; b ended later and wins.
    finish(db("a.db"), 2, RunStatus::kDone, 1.0, 100.0);
    finish(db("b.db"), 2, RunStatus::kDone, 4.0, 900.0);

    const MergeReport report = Store::merge({db("a.db"), db("b.db")}, db("c.db"));
    EXPECT_EQ(report.runs, 8u);
    EXPECT_EQ(report.duplicates, 8u);  // every run id is in both (planned ones too)
    ASSERT_EQ(report.decisions.size(), 8u);

    Store c(db("c.db"), Store::Mode::kReadOnly);
    const auto r0 = c.run(m_plan.runs[0].run_id);
    EXPECT_EQ(r0->status, RunStatus::kDone);
    EXPECT_DOUBLE_EQ(*r0->energy_j, 140.0);
    const auto r1 = c.run(m_plan.runs[1].run_id);
    EXPECT_EQ(r1->status, RunStatus::kTimeout);
    EXPECT_EQ(r1->attempt, 2u);
    EXPECT_DOUBLE_EQ(*r1->energy_j, 350.0);
    const auto r2 = c.run(m_plan.runs[2].run_id);
    EXPECT_DOUBLE_EQ(*r2->energy_j, 560.0);
    EXPECT_EQ(c.runs().size(), 8u);

    bool said = false;
    for (const auto& line : report.decisions) {
        if (line.rfind(m_plan.runs[0].run_id, 0) == 0) {
            said = true;
            EXPECT_NE(line.find("kept " + db("a.db").string() + " (done, attempt 1)"),
                      std::string::npos)
                << line;
            EXPECT_NE(line.find("over " + db("b.db").string() + " (failed, attempt 2)"),
                      std::string::npos)
                << line;
        }
    }
    EXPECT_TRUE(said);
}

TEST_F(StoreMerge, RefusesDifferentExperimentsAndLeavesNoOutput) {
    create(db("a.db"), std::nullopt, "alpha");
    {
        Store other(db("other.db"));
        other.record_experiment(experiment_record(
            parse_experiment_text(m_spec.source_text + "# changed\n", "store-test.toml")));
    }
    try {
        (void)Store::merge({db("a.db"), db("other.db")}, db("c.db"));
        FAIL() << "merged different experiments";
    } catch (const Error& e) {
        EXPECT_EQ(e.category(), ErrorCategory::kInvalidArgument);
        EXPECT_NE(std::string(e.what()).find("different experiments"), std::string::npos)
            << e.what();
        EXPECT_NE(e.hint().find("same experiment file"), std::string::npos);
    }
    EXPECT_FALSE(std::filesystem::exists(db("c.db")));

    test::write_file(db("exists.db"), "");
    EXPECT_THROW((void)Store::merge({db("a.db")}, db("exists.db")), Error);
    EXPECT_THROW((void)Store::merge({db("a.db"), db("a.db")}, db("d.db")), Error);
    { Store empty(db("empty.db")); }
    EXPECT_THROW((void)Store::merge({db("a.db"), db("empty.db")}, db("e.db")), Error);
    EXPECT_FALSE(std::filesystem::exists(db("d.db")));
    EXPECT_FALSE(std::filesystem::exists(db("e.db")));
}

}  // namespace
}  // namespace joulebench
