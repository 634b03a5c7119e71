// Runs in the store: planned runs, resume (running found at start become interrupted and re-run,
// done runs are kept), a finished run written whole in one transaction (a child killed in the
// middle of one leaves nothing half-written), traces through the TraceSink, idle baselines, and
// the export documents.

#include <gtest/gtest.h>
#include <sqlite3.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmath>
#include <nlohmann/json.hpp>

#include "fakes/test_support.hpp"
#include "joulebench/error.hpp"
#include "joulebench/store.hpp"
#include "runner/store_trace_sink.hpp"
#include "unit/store_test_util.hpp"

namespace joulebench {
namespace {

std::int64_t count(sqlite3* db, const std::string& sql) {
    sqlite3_stmt* stmt = nullptr;
    EXPECT_EQ(sqlite3_prepare_v2(db, sql.c_str(), -1, &stmt, nullptr), SQLITE_OK) << sql;
    EXPECT_EQ(sqlite3_step(stmt), SQLITE_ROW);
    const std::int64_t value = sqlite3_column_int64(stmt, 0);
    sqlite3_finalize(stmt);
    return value;
}

class StoreRuns : public ::testing::Test {
protected:
    void SetUp() override {
        m_spec = test::store_example_spec();
        m_plan = make_plan(m_spec);
        Store store(path());
        store.record_experiment(experiment_record(m_spec));
        EXPECT_EQ(store.add_planned_runs(m_plan.runs), 8u);
    }
    std::filesystem::path path() const { return m_dir.path() / "runs.db"; }
    const RunSpec& run(std::size_t i) const { return m_plan.runs.at(i); }

    test::TempDir m_dir;
    ExperimentSpec m_spec;
    Plan m_plan;
};

TEST_F(StoreRuns, PlannedRunsAreAddedOnceInPlanOrder) {
    Store store(path(), Store::Mode::kExisting);
    EXPECT_EQ(store.add_planned_runs(m_plan.runs), 0u);  // a resume adds nothing
    const auto runs = store.runs();
    ASSERT_EQ(runs.size(), 8u);
    for (std::size_t i = 0; i < runs.size(); ++i) {
        EXPECT_EQ(runs[i].run_id, run(i).run_id);
        EXPECT_EQ(runs[i].plan_index, static_cast<std::int64_t>(i));
        EXPECT_EQ(runs[i].status, RunStatus::kPlanned);
        EXPECT_EQ(runs[i].attempt, 0u);
        EXPECT_EQ(runs[i].gpu_cap_w, run(i).gpu_cap_w);
        EXPECT_EQ(runs[i].workload, run(i).workload);
        EXPECT_FALSE(runs[i].energy_j.has_value());
    }
    EXPECT_EQ(store.status_counts().planned, 8u);
}

TEST_F(StoreRuns, ResumeKeepsDoneRunsAndRerunsInterruptedOnes) {
    {
        Store store(path(), Store::Mode::kExisting);
        const auto session = store.begin_session(SessionInfo{});
        store.mark_running(run(0).run_id, session, 0, 1000.0);
        store.finish_run(
            test::outcome(run(0).run_id, RunStatus::kDone, test::example_measure(1000.0)));
        store.mark_running(run(1).run_id, session, 1, 1001.0);
        store.mark_running(run(2).run_id, session, 0, 1003.0);
        RunOutcome failed;
        failed.run_id = run(2).run_id;
        failed.status = RunStatus::kFailed;
        failed.exit_code = 3;
        failed.ended_at = 1004.0;
        failed.stderr_tail = "boom";
        store.finish_run(failed);
        // The process dies here: run 1 stays marked running.
    }
    Store store(path(), Store::Mode::kExisting);
    EXPECT_EQ(store.status_counts().running, 1u);
    EXPECT_EQ(store.mark_stale_running_interrupted(), std::vector<std::string>{run(1).run_id});
    const StatusCounts counts = store.status_counts();
    EXPECT_EQ(counts.done, 1u);
    EXPECT_EQ(counts.failed, 1u);
    EXPECT_EQ(counts.interrupted, 1u);
    EXPECT_EQ(counts.planned, 5u);
    EXPECT_EQ(counts.running, 0u);

    const auto pending = store.pending_run_ids(false);
    ASSERT_EQ(pending.size(), 6u);
    EXPECT_EQ(pending[0], run(1).run_id);  // interrupted, in plan order
    EXPECT_EQ(pending[1], run(3).run_id);
    const auto with_retries = store.pending_run_ids(true);
    EXPECT_EQ(with_retries.size(), 7u);
    EXPECT_NE(std::find(with_retries.begin(), with_retries.end(), run(2).run_id),
              with_retries.end());
    EXPECT_EQ(std::find(with_retries.begin(), with_retries.end(), run(0).run_id),
              with_retries.end());

    EXPECT_EQ(store.runs({RunStatus::kDone}).size(), 1u);
    EXPECT_EQ(store.runs({RunStatus::kFailed, RunStatus::kInterrupted}).size(), 2u);

    // Re-running the interrupted run is its second attempt; history keeps the first.
    store.mark_running(run(1).run_id, std::nullopt, 1, 2000.0);
    EXPECT_EQ(store.run(run(1).run_id)->attempt, 2u);
    store.finish_run(test::outcome(run(1).run_id, RunStatus::kDone, test::example_measure(2000.0)));
    EXPECT_EQ(count(store.handle(),
                    "SELECT count(*) FROM run_attempts WHERE run_id = '" + run(1).run_id + "'"),
              2);
    EXPECT_EQ(
        count(store.handle(), "SELECT count(*) FROM run_attempts WHERE status = 'interrupted'"), 1);

    // A done run is never run again.
    try {
        store.mark_running(run(0).run_id, std::nullopt, std::nullopt, 3000.0);
        FAIL() << "a done run was marked running";
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("already done"), std::string::npos);
    }
}

TEST_F(StoreRuns, FinishRunRecordsEverything) {
    Store store(path(), Store::Mode::kExisting);
    SessionInfo session;
    session.host_json = R"({"cpu":"Fake CPU","gpus":[{"uuid":"GPU-1234"}]})";
    session.shard = Shard{1, 2};
    const auto session_id = store.begin_session(session);
    store.mark_running(run(0).run_id, session_id, 0, 0.0);
    RunOutcome outcome;
    outcome.run_id = run(0).run_id;
    outcome.measure = test::example_measure(1700000000.5);
    outcome.caps = {AppliedCap{"gpu0", 150.0, 149.5}};
    outcome.phases = {PhaseResult{"container-start", 0.8, 12.5, std::nullopt},
                      PhaseResult{"container-stop", 0.2, std::nullopt, std::nullopt}};
    outcome.warnings = {make_warning(warning_code::kRestNotIdle, "rest cut short")};
    outcome.stderr_tail = "last line\n";
    outcome.metrics_json = R"({"images_per_s": 812.5})";
    store.finish_run(outcome);

    const auto r = store.run(run(0).run_id);
    ASSERT_TRUE(r.has_value());
    EXPECT_EQ(r->status, RunStatus::kDone);
    EXPECT_EQ(r->attempt, 1u);
    EXPECT_EQ(r->gpu, 0);
    EXPECT_EQ(r->session_id, session_id);
    EXPECT_DOUBLE_EQ(*r->started_at, 1700000000.5);
    EXPECT_DOUBLE_EQ(*r->ended_at, 1700000002.5);
    EXPECT_EQ(r->exit_code, 0);
    EXPECT_DOUBLE_EQ(*r->wall_s, 2.0);
    EXPECT_DOUBLE_EQ(*r->energy_j, 140.0);
    EXPECT_DOUBLE_EQ(*r->gpu_energy_j, 100.0);
    EXPECT_DOUBLE_EQ(*r->cpu_energy_j, 40.0);  // the core domain is inside the package
    EXPECT_DOUBLE_EQ(*r->edp_js, 280.0);
    EXPECT_DOUBLE_EQ(*r->ed2p_js2, 560.0);
    EXPECT_EQ(nlohmann::json::parse(r->warnings_json),
              nlohmann::json::parse(R"(["gpu0: short run", "rest cut short"])"));
    const auto caps = nlohmann::json::parse(r->caps_json);
    EXPECT_EQ(caps[0]["domain"], "gpu0");
    EXPECT_EQ(caps[0]["applied_w"], 149.5);
    const auto phases = nlohmann::json::parse(r->phases_json);
    EXPECT_EQ(phases[0]["energy_j"], 12.5);
    EXPECT_TRUE(phases[1]["energy_j"].is_null());
    EXPECT_EQ(r->stderr_tail, "last line\n");
    EXPECT_EQ(nlohmann::json::parse(r->metrics_json)["images_per_s"], 812.5);
    const auto measure = nlohmann::json::parse(r->measure_json);
    EXPECT_FALSE(measure.empty());
    EXPECT_NE(r->measure_json.find("GPU-1234"), std::string::npos);  // GPU telemetry summary kept

    const auto domains = store.domains(run(0).run_id);
    ASSERT_EQ(domains.size(), 3u);
    EXPECT_EQ(domains[0].domain, "gpu0");
    EXPECT_EQ(domains[0].kind, "gpu");
    EXPECT_EQ(domains[0].method, "counter");
    EXPECT_DOUBLE_EQ(domains[0].energy_j, 100.0);
    EXPECT_EQ(domains[0].peak_power_w, 80.0);
    EXPECT_TRUE(domains[0].counts_in_total);
    EXPECT_FALSE(domains[2].counts_in_total);
    EXPECT_EQ(count(store.handle(), "SELECT wraps FROM run_domains WHERE domain = 'package0'"), 2);
    EXPECT_EQ(count(store.handle(), "SELECT count(*) FROM sessions WHERE shard = '1/2'"), 1);
}

TEST_F(StoreRuns, FinishRunRefusesWrongUse) {
    Store store(path(), Store::Mode::kExisting);
    EXPECT_THROW(store.finish_run(test::outcome(run(0).run_id)), Error);  // not running
    EXPECT_THROW(store.finish_run(test::outcome("nope")), Error);
    EXPECT_THROW(store.mark_running("nope", std::nullopt, std::nullopt, 1.0), Error);
    store.mark_running(run(0).run_id, std::nullopt, std::nullopt, 1.0);
    EXPECT_THROW(store.finish_run(test::outcome(run(0).run_id, RunStatus::kPlanned)), Error);
    RunOutcome not_an_object = test::outcome(run(0).run_id);
    not_an_object.metrics_json = "[1, 2]";
    EXPECT_THROW(store.finish_run(not_an_object), Error);
    EXPECT_EQ(store.run(run(0).run_id)->status, RunStatus::kRunning);
}

TEST_F(StoreRuns, AChildKilledMidTransactionLeavesNothingHalfWritten) {
    {
        Store store(path(), Store::Mode::kExisting);
        store.mark_running(run(0).run_id, std::nullopt, 0, 10.0);
    }
    // The child writes the first half of what finish_run writes (the run row, one domain), then
    // dies without committing, as a SIGKILL in the middle of finish_run would.
    const pid_t pid = fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
        try {
            Store store(path(), Store::Mode::kExisting);
            const std::string id = run(0).run_id;
            const std::string sql =
                "BEGIN IMMEDIATE;"
                "UPDATE runs SET status = 'done', energy_j = 140, ended_at = 12 WHERE run_id = '" +
                id +
                "';"
                "INSERT INTO run_domains (run_id, domain_index, domain, kind, method, backend, "
                "name, energy_j, "
                "avg_power_w, counts_in_total, failed_reads, wraps, resets) VALUES ('" +
                id + "', 0, 'gpu0', 'gpu', 'counter', 'nvml', 'x', 100, 50, 1, 0, 0, 0);";
            if (sqlite3_exec(store.handle(), sql.c_str(), nullptr, nullptr, nullptr) != SQLITE_OK)
                _exit(2);
            // Make sure the uncommitted pages reached the WAL file, as they would mid-commit.
            sqlite3_db_cacheflush(store.handle());
        } catch (...) {
            _exit(3);
        }
        _exit(0);  // no COMMIT, no destructors
    }
    int status = 0;
    ASSERT_EQ(waitpid(pid, &status, 0), pid);
    ASSERT_TRUE(WIFEXITED(status));
    ASSERT_EQ(WEXITSTATUS(status), 0);

    Store store(path(), Store::Mode::kExisting);
    const auto r = store.run(run(0).run_id);
    EXPECT_EQ(r->status, RunStatus::kRunning);
    EXPECT_FALSE(r->energy_j.has_value());
    EXPECT_TRUE(store.domains(run(0).run_id).empty());
    EXPECT_EQ(store.mark_stale_running_interrupted(), std::vector<std::string>{run(0).run_id});

    // The same in a child that does commit (through finish_run): everything is there.
    store.mark_running(run(0).run_id, std::nullopt, 0, 20.0);
    const pid_t committer = fork();
    ASSERT_GE(committer, 0);
    if (committer == 0) {
        try {
            Store child(path(), Store::Mode::kExisting);
            child.finish_run(
                test::outcome(run(0).run_id, RunStatus::kDone, test::example_measure(20.0)));
        } catch (...) {
            _exit(3);
        }
        _exit(0);
    }
    ASSERT_EQ(waitpid(committer, &status, 0), committer);
    ASSERT_EQ(WEXITSTATUS(status), 0);
    EXPECT_EQ(store.run(run(0).run_id)->status, RunStatus::kDone);
    EXPECT_EQ(store.domains(run(0).run_id).size(), 3u);
}

class FakeSensor final : public Sensor {
public:
    FakeSensor(std::string id, DomainKind kind) {
        m_info.id = std::move(id);
        m_info.kind = kind;
    }
    const SensorInfo& info() const override { return m_info; }
    std::optional<EnergySample> sample() noexcept override { return std::nullopt; }
    SensorHealth health() const override { return {}; }

private:
    SensorInfo m_info;
};

TEST_F(StoreRuns, TraceSinkWritesChunksThatReadBackExactly) {
    Store store(path(), Store::Mode::kExisting);
    store.mark_running(run(0).run_id, std::nullopt, 0, 1.0);
    FakeSensor gpu("gpu0", DomainKind::kGpu);
    FakeSensor package("package0", DomainKind::kPackage);
    StoreTraceSink sink(store, run(0).run_id, 4);
    sink.begin({&gpu, &package});
    const std::size_t rows = 10;
    for (std::size_t i = 0; i < rows; ++i) {
        const double t = 0.1 * static_cast<double>(i);
        std::vector<TraceDomainValue> values(2);
        values[0] =
            TraceDomainValue{10.0 * t, i == 0 ? std::nullopt : std::optional<double>(100.0), true};
        values[1] = TraceDomainValue{5.0 * t, 50.0, i != 3};  // row 3: a failed read
        std::vector<std::optional<GpuTelemetry>> telemetry(2);
        GpuTelemetry g;
        g.utilisation_pct = static_cast<unsigned>(90 + i);
        g.temperature_c = 60.5;
        g.throttle_reasons = 0x4;
        g.enforced_limit = Watts(150.0);
        telemetry[0] = g;
        sink.row(t, values, telemetry);
    }
    sink.end();
    EXPECT_FALSE(sink.error().has_value());
    EXPECT_EQ(sink.rows_written(), rows);
    EXPECT_EQ(count(store.handle(), "SELECT count(*) FROM trace_chunks"), 3);  // 4 + 4 + 2 rows

    const Trace trace = store.trace(run(0).run_id);
    ASSERT_EQ(trace.columns.size(), 2u + 2u + 5u);
    EXPECT_EQ(trace.columns[0].domain, "gpu0");
    EXPECT_EQ(trace.columns[0].quantity, "energy_j");
    EXPECT_EQ(trace.columns[3].quantity, "power_w");
    EXPECT_EQ(trace.columns[4].quantity, "utilisation_pct");
    EXPECT_EQ(trace.columns[8].quantity, "enforced_limit_w");
    ASSERT_EQ(trace.times_s.size(), rows);
    for (std::size_t i = 0; i < rows; ++i) {
        const double t = 0.1 * static_cast<double>(i);
        EXPECT_EQ(trace.times_s[i], t);
        EXPECT_EQ(trace.values[0][i], 10.0 * t);
        if (i == 0) {
            EXPECT_TRUE(std::isnan(trace.values[1][i]));
        } else {
            EXPECT_EQ(trace.values[1][i], 100.0);
        }
        if (i == 3) {
            EXPECT_TRUE(std::isnan(trace.values[2][i]));
            EXPECT_TRUE(std::isnan(trace.values[3][i]));
        } else {
            EXPECT_EQ(trace.values[2][i], 5.0 * t);
        }
        EXPECT_EQ(trace.values[4][i], 90.0 + static_cast<double>(i));
        EXPECT_EQ(trace.values[5][i], 60.5);
        EXPECT_TRUE(std::isnan(trace.values[6][i]));  // SM clock not reported
        EXPECT_EQ(trace.values[7][i], 4.0);
        EXPECT_EQ(trace.values[8][i], 150.0);
    }
    // A new attempt starts with an empty trace.
    RunOutcome failed = test::outcome(run(0).run_id, RunStatus::kFailed);
    failed.exit_code = 1;
    store.finish_run(failed);
    store.mark_running(run(0).run_id, std::nullopt, 0, 5.0);
    EXPECT_TRUE(store.trace(run(0).run_id).times_s.empty());
}

TEST_F(StoreRuns, TraceSinkReportsAFailureInsteadOfThrowing) {
    Store store(path(), Store::Mode::kExisting);
    FakeSensor gpu("gpu0", DomainKind::kGpu);
    StoreTraceSink sink(store, "no-such-run", 1);  // the foreign key refuses the chunk
    sink.begin({&gpu});
    sink.row(0.0, {TraceDomainValue{0.0, std::nullopt, true}}, {std::nullopt});
    sink.end();
    ASSERT_TRUE(sink.error().has_value());
    EXPECT_NE(sink.error()->find("FOREIGN KEY"), std::string::npos) << *sink.error();
    EXPECT_EQ(sink.rows_written(), 0u);
}

TEST_F(StoreRuns, IdleBaselines) {
    Store store(path(), Store::Mode::kExisting);
    const auto session = store.begin_session(SessionInfo{});
    store.record_idle_baseline(
        IdleBaselineRecord{session, "gpu0", 100.0, 30.0, 21.5, 35.0, "start"});
    store.record_idle_baseline(
        IdleBaselineRecord{std::nullopt, "total", 200.0, 10.0, 48.0, std::nullopt, "rest"});
    const auto baselines = store.idle_baselines();
    ASSERT_EQ(baselines.size(), 2u);
    EXPECT_EQ(baselines[0].session_id, session);
    EXPECT_EQ(baselines[0].domain, "gpu0");
    EXPECT_DOUBLE_EQ(baselines[0].power_w, 21.5);
    EXPECT_EQ(baselines[0].temperature_c, 35.0);
    EXPECT_FALSE(baselines[1].temperature_c.has_value());
    EXPECT_EQ(baselines[1].context, "rest");
}

TEST_F(StoreRuns, ExportCsvAndJson) {
    Store store(path(), Store::Mode::kExisting);
    // The first run of workload "w" done, the first run of the quoted workload timed out.
    std::size_t plain = 0;
    while (m_plan.runs[plain].workload != "w") ++plain;
    std::size_t quoted = 0;
    while (m_plan.runs[quoted].workload == "w") ++quoted;
    ASSERT_LT(plain, 4u);  // both in the first round, so repetition 1
    // The done run ran in task 3 of Slurm array job 700 on node gpu01.
    SessionInfo in_slurm;
    in_slurm.node = "gpu01";
    in_slurm.slurm_job_id = "703";
    in_slurm.slurm_array_job_id = "700";
    in_slurm.slurm_array_task_id = "3";
    store.mark_running(run(plain).run_id, store.begin_session(in_slurm), 1, 0.0);
    store.finish_run(
        test::outcome(run(plain).run_id, RunStatus::kDone, test::example_measure(1700000000.25)));
    store.mark_running(run(quoted).run_id, std::nullopt, std::nullopt, 1700000100.0);
    RunOutcome expired = test::outcome(run(quoted).run_id, RunStatus::kTimeout);
    expired.signal = 9;
    expired.ended_at = 1700000160.0;
    expired.stderr_tail = "killed";
    store.finish_run(expired);

    const std::string csv = export_csv(store);
    std::vector<std::string> lines;
    std::size_t start = 0;
    for (std::size_t nl; (nl = csv.find('\n', start)) != std::string::npos; start = nl + 1) {
        lines.push_back(csv.substr(start, nl - start));
    }
    ASSERT_EQ(lines.size(), 9u);  // header + 8 runs
    EXPECT_EQ(lines[0],
              "run_id,plan_index,workload,environment,power_cap_w,cpu_power_cap_w,repetition,"
              "instance,gpu,"
              "node,slurm_job,status,attempt,"
              "started_at,ended_at,exit_code,signal,wall_s,energy_j,gpu_energy_j,cpu_energy_j,"
              "total_includes_estimate,cpu_attributed,cpu_shared,edp_js,ed2p_js2,"
              "idle_power_w,net_energy_j,startup_wall_s,startup_energy_j,warnings,metrics,phases,marked_phases");
    const std::string cap0 = format_watts(*run(plain).gpu_cap_w);
    EXPECT_EQ(lines[plain + 1],
              run(plain).run_id + "," + std::to_string(plain) + ",w,bare," + cap0 +
                  ",,1,0,1,gpu01,700_3,done,1,1700000000.25," +
                  "1700000002.25,0,,2,140,100,40,false,false,false,280,560,,,,,\"[\"\"gpu0: short "
                  "run\"\"]\",,,");
    const std::string capq = format_watts(*run(quoted).gpu_cap_w);
    EXPECT_EQ(lines[quoted + 1], run(quoted).run_id + "," + std::to_string(quoted) +
                                     ",\"v, \"\"quoted\"\"\",bare," + capq + ",," +
                                     std::to_string(run(quoted).repetition) +
                                     ",0,,,,timeout,1,1700000100,1700000160,,9,60,,,,,,,,,,,,,,,,");
    for (std::size_t i = 1; i < lines.size(); ++i) {
        if (i == plain + 1 || i == quoted + 1) continue;
        EXPECT_NE(lines[i].find(",planned,0,"), std::string::npos) << lines[i];
    }

    const auto doc = nlohmann::json::parse(export_json(store));
    EXPECT_EQ(doc["experiment"]["name"], "store-test");
    EXPECT_EQ(doc["experiment"]["file_sha256"], m_spec.source_sha256);
    EXPECT_EQ(doc["columns"].size(), export_columns().size());
    ASSERT_EQ(doc["runs"].size(), 8u);
    const auto& first = doc["runs"][plain];
    EXPECT_EQ(first["run_id"], run(plain).run_id);
    EXPECT_EQ(first["power_cap_w"], *run(plain).gpu_cap_w);
    EXPECT_TRUE(first["cpu_power_cap_w"].is_null());
    EXPECT_EQ(first["gpu"], 1);
    EXPECT_EQ(first["started_at"], 1700000000.25);
    EXPECT_EQ(first["energy_j"], 140.0);
    EXPECT_EQ(first["edp_js"], 280.0);
    EXPECT_EQ(first["warnings"], nlohmann::json::parse(R"(["gpu0: short run"])"));
    EXPECT_TRUE(first["metrics"].is_null());
    const auto& timed_out = doc["runs"][quoted];
    EXPECT_EQ(timed_out["workload"], "v, \"quoted\"");
    EXPECT_EQ(timed_out["status"], "timeout");
    EXPECT_EQ(timed_out["signal"], 9);
    EXPECT_EQ(timed_out["wall_s"], 60.0);
    EXPECT_TRUE(timed_out["energy_j"].is_null());
    EXPECT_EQ(timed_out["warnings"], nlohmann::json::array());
}

TEST_F(StoreRuns, ExportSaysWhenTheEnergyIncludesTheEstimateOrOtherRunsCpuEnergy) {
    Store store(path(), Store::Mode::kExisting);
    // Run 0: its CPU energy is the CPU-time estimate; run 1: its package was attributed by CPU
    // time share; run 2: measured alone; run 3: not run, so no energy to qualify.
    MeasureResult estimated = test::example_measure(1.0);
    estimated.domains[1].info.kind = DomainKind::kEstimatedCpu;
    estimated.domains[1].info.id = "cpu-estimated";
    estimated.domains[1].info.method = Method::kEstimated;
    estimated.total_includes_estimate = true;
    MeasureResult attributed = test::example_measure(2.0);
    attributed.domains[1].sharing = Sharing::kAttributed;
    attributed.domains[1].cpu_time_share = 0.5;
    attributed.domains[1].measured_energy_j = 80.0;
    const std::vector<MeasureResult> measured = {estimated, attributed, test::example_measure(3.0)};
    for (std::size_t i = 0; i < measured.size(); ++i) {
        store.mark_running(run(i).run_id, std::nullopt, std::nullopt, 0.0);
        store.finish_run(test::outcome(run(i).run_id, RunStatus::kDone, measured[i]));
    }
    const auto doc = nlohmann::json::parse(export_json(store));
    const auto find = [&](const std::string& id) {
        for (const auto& r : doc["runs"])
            if (r["run_id"] == id) return r;
        return nlohmann::json();
    };
    const auto marks = [&](std::size_t i) {
        const auto r = find(run(i).run_id);
        return r["total_includes_estimate"].dump() + " " + r["cpu_attributed"].dump() + " " +
               r["cpu_shared"].dump();
    };
    EXPECT_EQ(marks(0), "true false false");
    EXPECT_EQ(marks(1), "false true false");
    EXPECT_EQ(marks(2), "false false false");
    EXPECT_EQ(marks(3), "null null null");
    // CSV: the same facts, by column name.
    const std::string csv = export_csv(store);
    const std::string header = csv.substr(0, csv.find('\n'));
    EXPECT_NE(header.find(",cpu_energy_j,total_includes_estimate,cpu_attributed,cpu_shared,"),
              std::string::npos)
        << header;
    EXPECT_NE(csv.find(",100,40,true,false,false,"), std::string::npos) << csv;
    EXPECT_NE(csv.find(",100,40,false,true,false,"), std::string::npos) << csv;
}

TEST_F(StoreRuns, ExportSumsThePhasesOutsideTheRunAsStartUp) {
    Store store(path(), Store::Mode::kExisting);
    store.mark_running(run(0).run_id, std::nullopt, std::nullopt, 0.0);
    RunOutcome o = test::outcome(run(0).run_id, RunStatus::kDone, test::example_measure(1.0));
    o.phases = {{"container-create", 0.25, 2.5, std::nullopt},
                {"container-start", 0.5, 4.0, std::nullopt},
                {"container-remove", 0.125, 1.0, std::nullopt}};
    store.finish_run(o);
    store.mark_running(run(1).run_id, std::nullopt, std::nullopt, 0.0);
    RunOutcome partial = test::outcome(run(1).run_id, RunStatus::kDone, test::example_measure(2.0));
    partial.phases = {{"container-create", 0.25, 2.5, std::nullopt}, {"container-start", 1.0, std::nullopt, std::nullopt}};
    store.finish_run(partial);

    const auto doc = nlohmann::json::parse(export_json(store));
    const auto find = [&](const std::string& id) {
        for (const auto& r : doc["runs"])
            if (r["run_id"] == id) return r;
        return nlohmann::json();
    };
    const auto full = find(run(0).run_id);
    EXPECT_DOUBLE_EQ(full["startup_wall_s"].get<double>(), 0.875);
    EXPECT_DOUBLE_EQ(full["startup_energy_j"].get<double>(), 7.5);
    ASSERT_EQ(full["phases"].size(), 3u);
    EXPECT_EQ(full["phases"][1]["name"], "container-start");
    // The run's own energy is not changed by its phases.
    EXPECT_DOUBLE_EQ(full["energy_j"].get<double>(), 140.0);
    // A phase without energy: the wall time still adds up, the energy is unknown.
    const auto half = find(run(1).run_id);
    EXPECT_DOUBLE_EQ(half["startup_wall_s"].get<double>(), 1.25);
    EXPECT_TRUE(half["startup_energy_j"].is_null());
    // A run without phases: no start-up, an empty list.
    const auto none = find(run(2).run_id);
    EXPECT_TRUE(none["startup_wall_s"].is_null());
    EXPECT_EQ(none["phases"], nlohmann::json::array());
}

TEST_F(StoreRuns, MarkedPhasesAreStoredReadBackAndExported) {
    Store store(path(), Store::Mode::kExisting);
    store.mark_running(run(0).run_id, std::nullopt, std::nullopt, 0.0);
    MeasureResult m = test::example_measure(1.0);
    MarkedPhase warm{"warmup", 0.5, 1.5, 1.0, 60.0, {}, false};
    warm.domains = {{"gpu0", 50.0, Method::kCounter, true}, {"package0", 10.0, Method::kCounter, true}};
    MarkedPhase open{"measured", 1.5, 4.0, 2.5, std::nullopt, {}, true};
    open.domains = {{"gpu0", std::nullopt, Method::kIntegrated, true}};
    m.phases = {warm, open};
    store.finish_run(test::outcome(run(0).run_id, RunStatus::kDone, m));

    const auto phases = store.marked_phases(run(0).run_id);
    ASSERT_EQ(phases.size(), 2U);
    EXPECT_EQ(phases[0].phase.name, "warmup");
    EXPECT_DOUBLE_EQ(phases[0].phase.begin_s, 0.5);
    EXPECT_DOUBLE_EQ(*phases[0].phase.energy_j, 60.0);
    ASSERT_EQ(phases[0].phase.domains.size(), 2U);
    EXPECT_EQ(phases[0].phase.domains[1].id, "package0");
    EXPECT_DOUBLE_EQ(*phases[0].phase.domains[1].energy_j, 10.0);
    EXPECT_FALSE(phases[1].phase.energy_j);
    EXPECT_TRUE(phases[1].phase.ended_by_run);
    EXPECT_EQ(phases[1].phase.domains[0].method, Method::kIntegrated);
    EXPECT_EQ(store.marked_phases().size(), 2U);
    EXPECT_TRUE(store.marked_phases(run(1).run_id).empty());

    const auto doc = nlohmann::json::parse(export_json(store));
    for (const auto& r : doc["runs"]) {
        if (r["run_id"] != run(0).run_id) {
            EXPECT_EQ(r["marked_phases"], nlohmann::json::array());
            continue;
        }
        ASSERT_EQ(r["marked_phases"].size(), 2U);
        EXPECT_EQ(r["marked_phases"][0]["name"], "warmup");
        EXPECT_DOUBLE_EQ(r["marked_phases"][0]["domains"]["gpu0"].get<double>(), 50.0);
        EXPECT_TRUE(r["marked_phases"][1]["energy_j"].is_null());
    }
    EXPECT_NE(export_csv(store).find("\"\"name\"\":\"\"warmup\"\""), std::string::npos);
}

}  // namespace
}  // namespace joulebench
