// The runner driven through its seams (src/runner/dependencies.hpp) with fakes: no GPU, sensor,
// signal or container, a real store and a real cap journal in a temporary folder. What is
// asserted is the runner's own logic: preflight before anything is touched, the order cap, run,
// restore per run, failures as data, retries, stops, GPU slots running at once, and the energy
// recorded from the sensors.

#include <gmock/gmock.h>
#include <unistd.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "fakes/test_support.hpp"
#include "joulebench/error.hpp"
#include "joulebench/store.hpp"
#include "runner/runner.hpp"
#include "runner/scheduler.hpp"
#include "unit/runner_fakes.hpp"

namespace joulebench::test {
namespace {

namespace fs = std::filesystem;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

class RunnerTest : public ::testing::Test {
protected:
    TempDir m_dir{"joulebench-runner"};
    fs::path m_db = m_dir.path() / "results.db";
    std::atomic<bool> m_stop{false};
    std::atomic<int> m_guard_done{0};
    std::atomic<int> m_guards{0};
    std::unique_ptr<FakeMachine> m_machine = std::make_unique<FakeMachine>(2);

    // An experiment: `body` after an [experiment] table named "t" with `repetitions`.
    ExperimentSpec spec(const std::string& body, unsigned repetitions = 1) const {
        return parse_experiment_text(fmt::format("[experiment]\nname = \"t\"\nrepetitions = {}\n"
                                                 "order = \"interleaved\"\n{}",
                                                 repetitions, body),
                                     "experiment.toml");
    }

    runner::RunnerDependencies deps() {
        runner::RunnerDependencies d;
        d.environments = std::make_shared<FakeEnvironments>(*m_machine);
        d.cappers = std::make_shared<FakeCappers>(*m_machine);
        d.sensors = std::make_shared<FakeSensors>(*m_machine);
        const fs::path journal = m_dir.path() / "caps";
        d.journal = [journal] { return capping::CapJournal(journal); };
        d.guard = [this](bool) -> std::unique_ptr<runner::CapGuard> {
            ++m_guards;
            return std::make_unique<FakeGuard>(m_guard_done);
        };
        d.stop = &m_stop;
        d.progress = m_progress.get();
        return d;
    }

    runner::RunnerOptions options() const {
        runner::RunnerOptions o;
        o.experiment_file = "experiment.toml";
        o.db = m_db;
        o.interval = std::chrono::milliseconds(20);
        return o;
    }

    runner::RunnerSummary run(const ExperimentSpec& s, const runner::RunnerOptions& o) {
        return runner::Runner(s, o, deps()).run();
    }
    runner::RunnerSummary run(const ExperimentSpec& s) { return run(s, options()); }

    std::vector<RunRecord> runs() const { return Store(m_db, Store::Mode::kReadOnly).runs(); }
    std::map<std::string, RunRecord> runs_by_workload() const {
        std::map<std::string, RunRecord> out;
        for (auto& r : runs()) out[r.workload + "/" + std::to_string(r.repetition)] = r;
        return out;
    }

    struct FileCloser {
        void operator()(std::FILE* f) const { std::fclose(f); }
    };
    std::unique_ptr<std::FILE, FileCloser> m_progress{std::tmpfile()};
    std::string progress_text() const {
        std::fflush(m_progress.get());
        std::rewind(m_progress.get());
        std::string text;
        char buf[4096];
        for (std::size_t n; (n = std::fread(buf, 1, sizeof buf, m_progress.get())) > 0;)
            text.append(buf, n);
        return text;
    }
};

const std::string kBare = "[[environment]]\nname = \"bare\"\ntype = \"bare\"\n";

std::string workload(const std::string& name, const std::string& script) {
    return fmt::format("[[workload]]\nname = \"{}\"\ncommand = [\"{}\"]\n", name, script);
}

TEST_F(RunnerTest, EveryRunIsCappedThenRunThenRestoredInOrder) {
    const auto s = spec(workload("w", "ok") + kBare + "[power_caps]\ngpu_w = [150, 250]\n" +
                        "[gpus]\ndevices = [0]\n");
    const auto summary = run(s);
    EXPECT_EQ(summary.executed, 2U);
    EXPECT_EQ(summary.counts.done, 2U);
    EXPECT_TRUE(summary.caps_restored);
    const std::string gpu0 = FakeMachine::gpu_key(0);
    const auto plan = make_plan(s);
    ASSERT_EQ(plan.runs.size(), 2U);
    const std::string a = plan.runs[0].run_id;
    const std::string b = plan.runs[1].run_id;
    EXPECT_THAT(m_machine->log.only({"set ", "begin ", "execute ", "end ", "prepare", "tear"}),
                ElementsAre("prepare bare",                                             //
                            "set " + gpu0 + " 150", "begin " + a,                       //
                            "execute " + a + " gpu=0 cap=150", "end " + a,              //
                            "set " + gpu0 + " 400",                                     //
                            "set " + gpu0 + " 250", "begin " + b,                       //
                            "execute " + b + " gpu=0 cap=250", "end " + b,              //
                            "set " + gpu0 + " 400", "tear down bare"));
    EXPECT_EQ(m_machine->limit(gpu0), 400.0);
    EXPECT_EQ(m_machine->limit(FakeMachine::gpu_key(1)), 400.0);  // not a slot: never capped
    EXPECT_TRUE(capping::CapJournal(m_dir.path() / "caps").list().empty());
    EXPECT_EQ(m_guards.load(), 1);
    EXPECT_EQ(m_guard_done.load(), 1);  // every cap restored: the guard has nothing to do
    for (const auto& r : runs()) {
        EXPECT_EQ(r.caps_json.find("\"requested_w\":" + fmt::format("{}", *r.gpu_cap_w)) !=
                      std::string::npos,
                  true)
            << r.caps_json;
        EXPECT_THAT(r.phases_json, HasSubstr("fake-start"));
        EXPECT_THAT(r.phases_json, HasSubstr("fake-stop"));
    }
}

TEST_F(RunnerTest, TheRecordedEnergyIsWhatTheSensorsCountedDuringTheRun) {
    m_machine->gpu_joules = 12.5;
    m_machine->package_joules = 4.0;
    run(spec(workload("w", "ok") + kBare + "[gpus]\ndevices = [1]\n"));
    const auto all = runs();
    ASSERT_EQ(all.size(), 1U);
    const RunRecord& r = all.front();
    EXPECT_EQ(r.status, RunStatus::kDone);
    EXPECT_EQ(r.gpu, 1);
    EXPECT_DOUBLE_EQ(*r.gpu_energy_j, 12.5);
    EXPECT_DOUBLE_EQ(*r.cpu_energy_j, 4.0);
    EXPECT_DOUBLE_EQ(*r.energy_j, 16.5);
    EXPECT_DOUBLE_EQ(*r.edp_js, 16.5 * *r.wall_s);
    const auto domains = Store(m_db, Store::Mode::kReadOnly).domains(r.run_id);
    ASSERT_EQ(domains.size(), 2U);
    EXPECT_EQ(domains[0].domain, "gpu1");
    EXPECT_EQ(domains[1].domain, "package0");
}

// The live views (docs/live.md) see each run end at the energies the store records, exactly: the
// last reading comes after the last trace row, and the counters are moved to it.
TEST_F(RunnerTest, TheLiveStateSeesEveryRunEndAtTheEnergyTheStoreRecords) {
    m_machine->gpu_joules = 12.5;
    m_machine->package_joules = 4.0;
    auto live = std::make_shared<live::LiveState>("node-a", "run");
    runner::RunnerOptions o = options();
    o.live = live;
    run(spec(workload("w", "ok") + workload("bad", "fail") + kBare + "[power_caps]\ngpu_w = [150]\n" +
             "[gpus]\ndevices = [1]\n"),
        o);
    const live::LiveSnapshot s = live->snapshot();
    EXPECT_EQ(s.experiment, "t");
    EXPECT_TRUE(s.running.empty());
    ASSERT_EQ(s.finished.size(), 2U);
    const auto store_runs = runs_by_workload();
    for (const auto& r : s.finished) {
        const RunRecord& rec = store_runs.at(r.labels.workload + "/1");
        EXPECT_EQ(r.labels.run_id, rec.run_id);
        EXPECT_EQ(r.labels.slot, 1);
        EXPECT_EQ(r.labels.gpu_cap_w, 150.0);
        EXPECT_EQ(r.status, rec.status);
        if (rec.status != RunStatus::kDone) continue;
        EXPECT_DOUBLE_EQ(*r.energy_j, *rec.energy_j);
        EXPECT_DOUBLE_EQ(r.wall_s, *rec.wall_s);
        std::map<std::string, double> by_domain;
        for (const auto& d : r.domains) by_domain[d.id] = d.energy_j;
        for (const auto& d : Store(m_db, Store::Mode::kReadOnly).domains(rec.run_id)) {
            EXPECT_DOUBLE_EQ(by_domain.at(d.domain), d.energy_j) << d.domain;
        }
    }
    ASSERT_TRUE(s.plan.has_value());
    EXPECT_EQ(s.plan->planned, 2U);
    EXPECT_EQ(s.plan->done, 1U);
    EXPECT_EQ(s.plan->failed, 1U);
    EXPECT_EQ(s.plan->pending, 0U);
    EXPECT_EQ(s.runs_by_status.at("done"), 1U);
    EXPECT_EQ(s.runs_by_status.at("failed"), 1U);
    EXPECT_THAT(s.messages, ::testing::Contains(HasSubstr("failed bad/bare/150 W/#1")));
    EXPECT_GT(s.monitoring.sampler_ticks, 0U);
}

// Inside a Slurm job that holds part of its node, the node's CPU package counter also counts the
// other jobs: the domain is labelled shared and a warning names the job's CPUs against the
// node's; the session records the node, the job and the allocation.
TEST_F(RunnerTest, OnANodeSharedWithOtherJobsCpuEnergyIsLabelledShared) {
    auto d = deps();
    SlurmJob job;
    job.job_id = "812";
    job.array_job_id = "810";
    job.array_task_id = "2";
    job.node = "gpu07";
    job.cpus_on_node = 1;  // of a node with more (or, on a one-CPU machine, all: see below)
    d.slurm_job = job;
    const bool whole_node = ::sysconf(_SC_NPROCESSORS_ONLN) <= 1;
    runner::Runner(spec(workload("w", "ok") + kBare), options(), std::move(d)).run();
    const Store store(m_db, Store::Mode::kReadOnly);
    const auto r = store.runs().at(0);
    ASSERT_EQ(r.status, RunStatus::kDone);
    bool package = false;
    for (const auto& dom : store.domains(r.run_id)) {
        if (dom.domain != "package0") continue;
        package = true;
        EXPECT_EQ(dom.sharing, whole_node ? Sharing::kAlone : Sharing::kShared);
    }
    EXPECT_TRUE(package);
    if (!whole_node) {
        EXPECT_THAT(r.warnings_json, HasSubstr("Slurm job 812 (array task 810_2) holds 1 of the node's"));
    }
    const auto sessions = store.sessions();
    ASSERT_EQ(sessions.size(), 1u);
    EXPECT_EQ(sessions[0].node, std::optional<std::string>("gpu07"));
    EXPECT_EQ(sessions[0].slurm_job_id, std::optional<std::string>("812"));
    EXPECT_EQ(sessions[0].slurm_array_task_id, std::optional<std::string>("2"));
    ASSERT_TRUE(sessions[0].allocation_json.has_value());
    const auto a = nlohmann::json::parse(*sessions[0].allocation_json);
    EXPECT_EQ(a["job"], "810_2");
    EXPECT_EQ(a["job_cpus"], 1);
    EXPECT_EQ(a["whole_node"], whole_node);
}

TEST_F(RunnerTest, OutsideSlurmTheSessionHasANodeAndNoJob) {
    run(spec(workload("w", "ok") + kBare));
    const Store store(m_db, Store::Mode::kReadOnly);
    const auto sessions = store.sessions();
    ASSERT_EQ(sessions.size(), 1u);
    EXPECT_TRUE(sessions[0].node.has_value());
    EXPECT_FALSE(sessions[0].slurm_job_id.has_value());
    for (const auto& dom : store.domains(store.runs().at(0).run_id)) {
        EXPECT_NE(dom.sharing, Sharing::kShared) << dom.domain;
    }
}

TEST_F(RunnerTest, AFailedWorkloadIsAFailedRunAndTheExperimentGoesOn) {
    const auto summary =
        run(spec(workload("bad", "fail") + workload("good", "ok") + workload("slow", "timeout") +
                 "timeout = \"1s\"\n" + kBare));
    EXPECT_EQ(summary.executed, 3U);
    auto by = runs_by_workload();
    EXPECT_EQ(by["bad/1"].status, RunStatus::kFailed);
    EXPECT_EQ(by["bad/1"].exit_code, 1);
    EXPECT_EQ(by["good/1"].status, RunStatus::kDone);
    EXPECT_EQ(by["slow/1"].status, RunStatus::kTimeout);
    EXPECT_EQ(summary.counts.failed, 1U);
    EXPECT_EQ(summary.counts.timeout, 1U);
    EXPECT_THAT(progress_text(), HasSubstr("exit status 1"));
    EXPECT_THAT(progress_text(), HasSubstr("timed out after 1s"));
}

TEST_F(RunnerTest, RetriesRunAFailedRunAgainUntilItIsDone) {
    auto o = options();
    o.retries = 2;
    const auto summary = run(spec(workload("flaky", "fail-once") + kBare), o);
    EXPECT_EQ(summary.executed, 2U);  // one failure, one retry; no third attempt
    const auto all = runs();
    ASSERT_EQ(all.size(), 1U);
    EXPECT_EQ(all[0].status, RunStatus::kDone);
    EXPECT_EQ(all[0].attempt, 2U);
    EXPECT_THAT(progress_text(), HasSubstr("retry 1: 1 run(s)"));
}

TEST_F(RunnerTest, AGpuCapOutsideAGpusRangeIsRefusedBeforeAnythingIsTouched) {
    const auto s = spec(workload("w", "ok") + kBare + "[power_caps]\ngpu_w = [150, 450]\n");
    try {
        run(s);
        FAIL() << "no error";
    } catch (const Error& e) {
        EXPECT_EQ(e.category(), ErrorCategory::kInvalidArgument);
        EXPECT_THAT(std::string(e.what()), HasSubstr("run: experiment.toml:"));
        EXPECT_THAT(std::string(e.what()), HasSubstr("gpu_w 450: "));
        EXPECT_THAT(std::string(e.what()), HasSubstr("100 W to 400 W"));
    }
    EXPECT_FALSE(fs::exists(m_db));
    EXPECT_THAT(m_machine->log.events(), ::testing::IsEmpty());  // nothing prepared, nothing set
    EXPECT_EQ(m_guards.load(), 0);
}

TEST_F(RunnerTest, AWorkloadAnEnvironmentCannotRunFailsThePreflight) {
    const auto s = spec(workload("ok", "ok") + workload("gone", "missing") + kBare);
    try {
        run(s);
        FAIL() << "no error";
    } catch (const Error& e) {
        EXPECT_THAT(std::string(e.what()), HasSubstr("experiment.toml:"));
        EXPECT_THAT(std::string(e.what()), HasSubstr("workload 'gone'"));
    }
    EXPECT_FALSE(fs::exists(m_db));
    EXPECT_THAT(m_machine->log.events(), ::testing::IsEmpty());
}

TEST_F(RunnerTest, AGpuThatIsNotThereIsNamedWithTheGpusTable) {
    try {
        run(spec(workload("w", "ok") + kBare + "[gpus]\ndevices = [0, 7]\n"));
        FAIL() << "no error";
    } catch (const Error& e) {
        EXPECT_THAT(std::string(e.what()), HasSubstr("[gpus] devices: GPU 7 does not exist"));
    }
    EXPECT_FALSE(fs::exists(m_db));
}

TEST_F(RunnerTest, ADryRunChecksEverythingAndWritesNothing) {
    auto o = options();
    o.dry_run = true;
    const auto summary = run(spec(workload("w", "ok") + kBare + "[power_caps]\ngpu_w = [150]\n"), o);
    EXPECT_EQ(summary.planned, 1U);
    EXPECT_EQ(summary.executed, 0U);
    EXPECT_FALSE(fs::exists(m_db));
    EXPECT_THAT(m_machine->log.events(), ::testing::IsEmpty());
}

TEST_F(RunnerTest, GpuSlotsRunAtOnceEachOnItsOwnGpuAndASlotsRunsNeverOverlap) {
    const auto s = spec(workload("a", "meet") + workload("b", "meet") + workload("c", "ok") +
                        workload("d", "ok") + kBare + "[gpus]\ndevices = [0, 1]\n");
    const auto summary = run(s);
    EXPECT_EQ(summary.counts.done, 4U);
    // The two "meet" runs each waited for the other: they ran at the same time, on two slots.
    const auto met = m_machine->log.only({"met ", "alone "});
    EXPECT_THAT(met, ::testing::Each(HasSubstr("met ")));
    EXPECT_EQ(met.size(), 2U);
    // Every run saw its own slot's GPU, and was recorded with it.
    std::map<std::string, std::string> gpu_seen;
    for (const auto& e : m_machine->log.only({"execute "})) {
        const auto id = e.substr(8, 16);
        gpu_seen[id] = e.substr(e.find("gpu=") + 4, 1);
    }
    for (const auto& r : runs()) {
        ASSERT_TRUE(r.gpu.has_value());
        EXPECT_EQ(gpu_seen[r.run_id], std::to_string(*r.gpu)) << r.workload;
    }
    // On each GPU, a run ends before the next starts.
    for (const std::string gpu : {"0", "1"}) {
        std::string last;
        for (const auto& e : m_machine->log.only({"execute ", "done "})) {
            if (e.find("gpu=" + gpu) == std::string::npos) continue;
            const std::string kind = e.substr(0, e.find(' '));
            EXPECT_NE(kind, last) << "two runs overlapped on GPU " << gpu;
            last = kind;
        }
    }
}

TEST_F(RunnerTest, OverlappingRunsSayHowTheirCpuPackageEnergyWasShared) {
    run(spec(workload("a", "meet") + workload("b", "meet") + kBare + "[gpus]\ndevices = [0, 1]\n"));
    for (const auto& r : runs()) {
        // The machine's busy CPU time is known here (/proc/stat): attributed by CPU-time share.
        const bool attributed = r.warnings_json.find("package0: attributed: ") != std::string::npos;
        const bool shared = r.warnings_json.find("package0: shared: ") != std::string::npos;
        EXPECT_TRUE(attributed || shared) << r.warnings_json;
        EXPECT_LE(*r.cpu_energy_j, 2 * m_machine->package_joules + 1e-9);
        // The same facts as data: the domain's sharing, the run's flag and the warning's code.
        const Store store(m_db, Store::Mode::kReadOnly);
        const auto domains = store.domains(r.run_id);
        const auto package = std::find_if(domains.begin(), domains.end(),
                                          [](const DomainRecord& d) { return d.domain == "package0"; });
        ASSERT_NE(package, domains.end());
        EXPECT_EQ(package->sharing, attributed ? Sharing::kAttributed : Sharing::kShared);
        EXPECT_EQ(r.cpu_attributed, attributed);
        EXPECT_EQ(r.cpu_shared, shared);
        if (attributed) {
            ASSERT_TRUE(package->cpu_time_share && package->measured_energy_j);
            EXPECT_NEAR(package->energy_j, *package->measured_energy_j * *package->cpu_time_share, 1e-9);
        }
        const auto gpu = std::find_if(domains.begin(), domains.end(),
                                      [](const DomainRecord& d) { return d.kind == "gpu"; });
        ASSERT_NE(gpu, domains.end());
        EXPECT_EQ(gpu->sharing, Sharing::kAlone);  // a slot's own GPU is measured alone
        const auto warnings = store.warnings(r.run_id);
        EXPECT_TRUE(std::any_of(warnings.begin(), warnings.end(), [&](const Warning& w) {
            return w.code == (attributed ? warning_code::kCpuAttributed : warning_code::kCpuShared);
        }));
    }
}

const std::string kGang = "[gpus]\ndevices = [0, 1]\nmode = \"gang\"\n";

TEST_F(RunnerTest, GangModeRunsEachRunOnEveryGpuAtOnceEachUnderTheRunsCap) {
    m_machine->gpu_joules_per_cap_watt = 0.1;
    const auto s = spec(workload("w", "meet") + kBare + "[power_caps]\ngpu_w = [150, 250]\n" + kGang);
    const auto summary = run(s);
    EXPECT_EQ(summary.counts.done, 2U);
    EXPECT_TRUE(summary.caps_restored);
    const auto plan = make_plan(s);
    ASSERT_EQ(plan.runs.size(), 2U);
    // The first run's two instances waited for each other: they ran at the same time.
    const auto met = m_machine->log.only({"met ", "alone "});
    ASSERT_EQ(met.size(), 4U);
    EXPECT_EQ(met[0], "met " + plan.runs[0].run_id);
    EXPECT_EQ(met[1], "met " + plan.runs[0].run_id);
    // Every instance of a run ran on its own GPU under the run's cap, and no instance of the
    // next run started before every instance of the previous one had ended.
    const auto events = m_machine->log.only({"execute ", "done "});
    ASSERT_EQ(events.size(), 8U);
    for (std::size_t r = 0; r < 2; ++r) {
        const std::string id = plan.runs[r].run_id;
        const std::string cap = fmt::format("{}", *plan.runs[r].gpu_cap_w);
        std::set<std::string> executed;
        for (std::size_t i = 4 * r; i < 4 * r + 4; ++i) {
            EXPECT_THAT(events[i], HasSubstr(id)) << "instances of two runs overlapped";
            if (events[i].rfind("execute ", 0) == 0) {
                EXPECT_THAT(events[i], HasSubstr("cap=" + cap));
                executed.insert(events[i].substr(events[i].find("gpu="), 5));
            }
        }
        EXPECT_EQ(executed, (std::set<std::string>{"gpu=0", "gpu=1"}));
    }
    // Stored: one row per run (its instances together), one observation per instance.
    const Store store(m_db, Store::Mode::kReadOnly);
    for (const auto& r : store.runs()) {
        EXPECT_EQ(r.instances, 2U);
        EXPECT_FALSE(r.gpu.has_value());
        ASSERT_TRUE(r.start_skew_s.has_value());
        EXPECT_GE(*r.start_skew_s, 0.0);
        ASSERT_TRUE(r.gpu_energy_j.has_value());
        EXPECT_NEAR(*r.gpu_energy_j, 2 * 0.1 * *r.gpu_cap_w, 1e-6);
    }
    const auto observations = store.observations();
    ASSERT_EQ(observations.size(), 4U);
    std::set<std::pair<std::string, int>> seen;
    for (const auto& o : observations) {
        EXPECT_EQ(o.status, RunStatus::kDone);
        ASSERT_TRUE(o.gpu.has_value());
        EXPECT_EQ(o.gpu, o.instance);  // instance i ran on the i-th slot, GPU i here
        ASSERT_TRUE(o.gpu_energy_j.has_value());
        EXPECT_NEAR(*o.gpu_energy_j, 0.1 * *o.gpu_cap_w, 1e-6) << o.run_id << " " << o.instance;
        seen.insert({o.run_id, o.instance});
        // Its domains are its own GPU's, stored under its instance; in the first run (whose
        // instances met) its CPU package energy was measured while the other instance ran too,
        // so it says how it was shared (the second run's instances may not overlap at all).
        std::set<std::string> gpus;
        for (const auto& d : store.domains(o.run_id)) {
            if (d.instance == o.instance && d.kind == "gpu") gpus.insert(d.domain);
        }
        EXPECT_EQ(gpus, std::set<std::string>{fmt::format("gpu{}", *o.gpu)});
        if (o.run_id == plan.runs[0].run_id) {
            EXPECT_TRUE(o.cpu_attributed || o.cpu_shared);
        }
        EXPECT_FALSE(store.trace(o.run_id, o.instance).times_s.empty());
    }
    EXPECT_EQ(seen.size(), 4U);
    EXPECT_EQ(m_machine->limit(FakeMachine::gpu_key(0)), 400.0);
    EXPECT_EQ(m_machine->limit(FakeMachine::gpu_key(1)), 400.0);
}

TEST_F(RunnerTest, AGangRunIsDoneOnlyWhenEveryInstanceIsAndAStoppedOneRunsAgainWhole) {
    std::thread stopper([&] {
        for (int i = 0; i < 2000 && m_machine->log.only({"execute "}).size() < 2; ++i)
            std::this_thread::sleep_for(std::chrono::milliseconds(5));
        m_stop = true;
    });
    const auto s = spec(workload("w", "hang-first") + kBare + kGang, 2);
    const auto first = run(s);
    stopper.join();
    EXPECT_TRUE(first.stopped);
    EXPECT_EQ(first.counts.interrupted, 1U);
    EXPECT_EQ(first.counts.done, 0U);
    {
        const Store store(m_db, Store::Mode::kReadOnly);
        for (const auto& o : store.observations({RunStatus::kDone})) ADD_FAILURE() << o.run_id;
    }
    m_stop = false;
    const auto second = run(s);
    EXPECT_EQ(second.counts.done, 2U);
    const Store store(m_db, Store::Mode::kReadOnly);
    const auto observations = store.observations();
    ASSERT_EQ(observations.size(), 4U);  // two runs, two instances each, none twice
    std::map<std::string, int> per_run;
    for (const auto& o : observations) {
        EXPECT_EQ(o.status, RunStatus::kDone);
        ++per_run[o.run_id];
    }
    for (const auto& [id, n] : per_run) EXPECT_EQ(n, 2) << id;
    // The stopped run ran again whole: each of its instances twice; the other run's once.
    std::map<std::string, int> executions;
    for (const auto& e : m_machine->log.only({"execute "})) ++executions[e.substr(8, e.find(' ', 8) - 8)];
    std::vector<int> counts;
    for (const auto& [id, n] : executions) counts.push_back(n);
    std::sort(counts.begin(), counts.end());
    EXPECT_EQ(counts, (std::vector<int>{2, 4}));
}

TEST_F(RunnerTest, GangModeIsReadFromTheGpusTableAndAnUnknownModeIsRefused) {
    EXPECT_EQ(spec(workload("w", "ok") + kBare + kGang).gpus->mode, GpuMode::kGang);
    EXPECT_EQ(spec(workload("w", "ok") + kBare + "[gpus]\ndevices = [0]\n").gpus->mode,
              GpuMode::kSlots);
    try {
        (void)spec(workload("w", "ok") + kBare + "[gpus]\ndevices = [0]\nmode = \"gangs\"\n");
        ADD_FAILURE() << "accepted";
    } catch (const Error& e) {
        EXPECT_THAT(e.what(), HasSubstr("experiment.toml:"));
        EXPECT_THAT(e.what(), HasSubstr("mode 'gangs' is not \"slots\" or \"gang\""));
    }
}

TEST_F(RunnerTest, AStopEndsTheRunningRunAsInterruptedAndStartsNoOther) {
    std::thread stopper([&] {
        for (int i = 0; i < 2000 && m_machine->log.only({"execute "}).empty(); ++i)
            std::this_thread::sleep_for(std::chrono::milliseconds(5));
        m_stop = true;
    });
    const auto summary = run(spec(workload("hang", "hang") + workload("next", "ok") + kBare));
    stopper.join();
    EXPECT_TRUE(summary.stopped);
    auto by = runs_by_workload();
    EXPECT_EQ(by["hang/1"].status, RunStatus::kInterrupted);
    EXPECT_EQ(by["next/1"].status, RunStatus::kPlanned);
    EXPECT_EQ(m_machine->log.only({"execute "}).size(), 1U);
}

TEST_F(RunnerTest, AWorkloadKilledByTheStopSignalItselfIsInterruptedNotFailed) {
    std::thread stopper([&] {
        for (int i = 0; i < 2000 && m_machine->log.only({"execute "}).empty(); ++i)
            std::this_thread::sleep_for(std::chrono::milliseconds(5));
        m_stop = true;
    });
    const auto summary = run(spec(workload("w", "signalled-at-stop") + kBare));
    stopper.join();
    EXPECT_TRUE(summary.stopped);
    EXPECT_EQ(runs_by_workload()["w/1"].status, RunStatus::kInterrupted);
    EXPECT_EQ(summary.counts.failed, 0U);
}

TEST_F(RunnerTest, ACapThatCannotBeSetFailsThatRunOnly) {
    m_machine->refuse.insert({FakeMachine::gpu_key(0), 150.0});
    const auto summary =
        run(spec(workload("w", "ok") + kBare + "[power_caps]\ngpu_w = [150, 250]\n[gpus]\ndevices = [0]\n"));
    EXPECT_TRUE(summary.caps_restored);
    for (const auto& r : runs()) {
        if (*r.gpu_cap_w == 150.0) {
            EXPECT_EQ(r.status, RunStatus::kFailed);
            EXPECT_THAT(r.warnings_json, HasSubstr("its power cap could not be set"));
        } else {
            EXPECT_EQ(r.status, RunStatus::kDone);
        }
    }
    EXPECT_EQ(m_machine->limit(FakeMachine::gpu_key(0)), 400.0);
    EXPECT_EQ(m_machine->log.only({"execute "}).size(), 1U);  // the capped-at-150 run never ran
}

TEST_F(RunnerTest, ACapThatCannotBeRestoredStopsTheRunnerAndLeavesItToTheGuard) {
    m_machine->refuse.insert({FakeMachine::gpu_key(0), 400.0});  // the original, written back
    const auto summary = run(spec(workload("w", "ok") + kBare +
                                  "[power_caps]\ngpu_w = [150, 250]\n[gpus]\ndevices = [0]\n"));
    EXPECT_FALSE(summary.caps_restored);
    EXPECT_EQ(summary.executed, 1U);  // no run after the one whose cap stayed
    EXPECT_EQ(m_guard_done.load(), 0);
    EXPECT_EQ(capping::CapJournal(m_dir.path() / "caps").list().size(), 1U);  // keeps the original
    EXPECT_THAT(progress_text(), HasSubstr("error: caps: restore GPU 0"));
}

TEST_F(RunnerTest, AResumeRunsOnlyWhatIsLeftAndAChangedExperimentIsRefused) {
    const auto s = spec(workload("w", "ok") + kBare, 2);
    EXPECT_EQ(run(s).executed, 2U);
    const auto again = run(s);
    EXPECT_EQ(again.executed, 0U);
    EXPECT_EQ(again.already_done, 2U);
    try {
        run(spec(workload("w", "ok") + kBare, 3));
        FAIL() << "no error";
    } catch (const Error& e) {
        EXPECT_THAT(std::string(e.what()), HasSubstr("holds the results of a different experiment"));
        EXPECT_THAT(e.hint(), HasSubstr("--new"));
    }
}

TEST_F(RunnerTest, CapsACrashedRunLeftInTheJournalAreRestoredBeforeTheFirstCap) {
    const capping::CapJournal journal(m_dir.path() / "caps");
    CapDeviceInfo device;
    device.target = CapTarget::kGpu;
    device.index = 0;
    device.id = "gpu0";
    device.key = FakeMachine::gpu_key(0);
    device.backend = "nvml";
    device.label = "GPU 0 (Fake GPU)";
    auto entry = capping::new_journal_entry(device, Watts(320), std::nullopt, Watts(150));
    entry.owner.pid = 999999;  // a process that is gone
    journal.create(entry);
    m_machine->set_limit(FakeMachine::gpu_key(0), 150.0);  // what the crashed run left
    const auto summary =
        run(spec(workload("w", "ok") + kBare + "[power_caps]\ngpu_w = [200]\n[gpus]\ndevices = [0]\n"));
    EXPECT_EQ(summary.counts.done, 1U) << summary.executed;
    const auto sets = m_machine->log.only({"set "});
    ASSERT_GE(sets.size(), 2U) << progress_text() << ::testing::PrintToString(m_machine->log.events());
    EXPECT_EQ(sets[1], "set " + FakeMachine::gpu_key(0) + " 320");  // the replay, before the cap
    EXPECT_EQ(m_machine->limit(FakeMachine::gpu_key(0)), 320.0);  // the true original, kept
    EXPECT_THAT(progress_text(), HasSubstr("left by a crashed run"));
}

TEST(QueueScheduler, HandsOutEveryRunOnceAndStopsWhenAsked) {
    std::vector<RunSpec> specs(20);
    std::vector<const RunSpec*> queue;
    for (std::size_t i = 0; i < specs.size(); ++i) {
        specs[i].run_id = std::to_string(i);
        queue.push_back(&specs[i]);
    }
    std::mutex mutex;
    std::multiset<std::string> seen;
    std::map<std::size_t, int> firsts;
    runner::QueueScheduler scheduler;
    scheduler.run(
        3, queue, [] { return true; },
        [&](std::size_t slot, const RunSpec& run, bool first) {
            std::lock_guard lock(mutex);
            seen.insert(run.run_id);
            firsts[slot] += first ? 1 : 0;
        });
    EXPECT_EQ(seen.size(), 20U);
    for (const auto& s : specs) EXPECT_EQ(seen.count(s.run_id), 1U);
    for (const auto& [slot, n] : firsts) EXPECT_EQ(n, 1) << slot;  // one first run per slot

    // keep_going is asked once before each run is handed out: the fifth "no" stops it.
    int allowed = 0;
    std::atomic<int> handed{0};
    scheduler.run(
        2, queue, [&] { return allowed < 5 && ++allowed > 0; },
        [&](std::size_t, const RunSpec&, bool) { ++handed; });
    EXPECT_EQ(handed.load(), 5);
}

TEST(QueueScheduler, TheFirstFailureIsRethrownAfterEverySlotStopped) {
    std::vector<RunSpec> specs(10);
    std::vector<const RunSpec*> queue;
    for (auto& s : specs) queue.push_back(&s);
    runner::QueueScheduler scheduler;
    // One slot: the failing run is the last one handed out.
    std::atomic<int> ran{0};
    EXPECT_THROW(scheduler.run(
                     1, queue, [] { return true; },
                     [&](std::size_t, const RunSpec&, bool) {
                         if (++ran == 3) throw Error(ErrorCategory::kIo, "store: full");
                     }),
                 Error);
    EXPECT_EQ(ran.load(), 3);
    // Two slots: the error still comes out, once both threads have ended (joined).
    ran = 0;
    try {
        scheduler.run(
            2, queue, [] { return true; },
            [&](std::size_t, const RunSpec&, bool) {
                if (++ran == 3) throw Error(ErrorCategory::kIo, "store: full");
            });
        FAIL() << "no error";
    } catch (const Error& e) {
        EXPECT_EQ(std::string(e.what()), "store: full");
    }
}

}  // namespace
}  // namespace joulebench::test
