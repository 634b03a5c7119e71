// `joulebench run` end to end: the real binary, real workload processes (short shell sleeps),
// real SQLite stores, the fake NVML loaded through the production dlopen path and an empty
// powercap root (so CPU energy is the CPU-time estimate). No real device is ever written.

#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>

#include <algorithm>
#include <cstdio>
#include <map>
#include <optional>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <thread>

#include "fakes/fake_nvml_builder.hpp"
#include "fakes/fake_powercap_builder.hpp"
#include "fakes/test_support.hpp"
#include "joulebench/store.hpp"

namespace joulebench::test {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

std::vector<std::string> lines_of(const fs::path& path) {
    std::vector<std::string> out;
    std::error_code ec;
    if (!fs::exists(path, ec)) return out;
    std::istringstream in(read_file(path));
    for (std::string line; std::getline(in, line);) {
        if (!line.empty()) out.push_back(line);
    }
    return out;
}

class RunCli : public ::testing::Test {
protected:
    TempDir m_dir{"joulebench-run-cli"};
    FakeNvmlState m_state{m_dir.path() / "nvml.json", 2};
    fs::path m_state_dir = m_dir.path() / "state";
    fs::path m_db = m_dir.path() / "results.db";
    fs::path m_file = m_dir.path() / "experiment.toml";

    ProcessOptions options() const {
        ProcessOptions o;
        o.env = {{"JOULEBENCH_NVML_LIBRARY", FakeNvmlEnvironment::library_path()},
                 {"JOULEBENCH_FAKE_NVML_STATE", m_state.path().string()},
                 {"JOULEBENCH_POWERCAP_ROOT", (m_dir.path() / "no-powercap").string()},
                 {"JOULEBENCH_STATE_DIR", m_state_dir.string()}};
        o.timeout = std::chrono::seconds(60);
        return o;
    }
    ProcessResult jb(const std::vector<std::string>& extra = {}) const {
        std::vector<std::string> args{"run",         m_file.string(), "--db",
                                      m_db.string(), "--interval",    "20"};
        args.insert(args.end(), extra.begin(), extra.end());
        return run_joulebench(args, options());
    }
    void write(const std::string& text) const { write_file(m_file, text); }
    std::vector<RunRecord> runs() const { return Store(m_db, Store::Mode::kReadOnly).runs(); }
    std::string log() const { return (m_dir.path() / "log").string(); }
};

// A workload that appends its run id (and GPU) to the log, then sleeps.
std::string logging_workload(const std::string& name, const std::string& log,
                             const std::string& sleep_s) {
    return fmt::format(R"([[workload]]
name = "{}"
command = ["sh", "-c", "echo $JOULEBENCH_RUN_ID $CUDA_VISIBLE_DEVICES >> {}; echo '{{\"items\": 7}}'; sleep {}"]
metrics = "json-line"
)",
                       name, log, sleep_s);
}

TEST_F(RunCli, TwoWorkloadsTwoCapsThreeRepetitionsEveryRunOnceWithItsFactorsAndCapsRestored) {
    write(
        "[experiment]\nname = \"full\"\nrepetitions = 3\nseed = 3\n\n" +
        logging_workload("a", log(), "0.05") + logging_workload("b", log(), "0.05") +
        "[[environment]]\nname = \"bare\"\ntype = \"bare\"\n\n[power_caps]\ngpu_w = [150, 200]\n\n"
        "[gpus]\ndevices = [0]\n");
    const auto r = jb();
    ASSERT_EQ(r.exit_code, 0) << r.err;
    const auto all = runs();
    ASSERT_EQ(all.size(), 12U);
    std::set<std::tuple<std::string, double, unsigned>> factors;
    for (const auto& run : all) {
        EXPECT_EQ(run.status, RunStatus::kDone) << run.run_id;
        EXPECT_EQ(run.attempt, 1U);
        EXPECT_EQ(run.environment, "bare");
        ASSERT_TRUE(run.gpu_cap_w.has_value());
        factors.emplace(run.workload, *run.gpu_cap_w, run.repetition);
        EXPECT_EQ(run.gpu, 0);
        EXPECT_EQ(run.exit_code, 0);
        // The cap of this run, read back from the fake GPU after the write.
        const auto caps = nlohmann::json::parse(run.caps_json);
        ASSERT_EQ(caps.size(), 1U) << run.caps_json;
        EXPECT_EQ(caps[0]["domain"], "gpu0");
        EXPECT_DOUBLE_EQ(caps[0]["requested_w"].get<double>(), *run.gpu_cap_w);
        EXPECT_DOUBLE_EQ(caps[0]["applied_w"].get<double>(), *run.gpu_cap_w);
        EXPECT_EQ(nlohmann::json::parse(run.metrics_json), nlohmann::json({{"items", 7}}));
        ASSERT_TRUE(run.gpu_energy_j.has_value());
        EXPECT_GT(*run.gpu_energy_j, 0.0);  // the fake draws 100 W
    }
    std::set<std::tuple<std::string, double, unsigned>> expected;
    for (const std::string w : {"a", "b"}) {
        for (const double cap : {150.0, 200.0}) {
            for (unsigned rep = 1; rep <= 3; ++rep) expected.emplace(w, cap, rep);
        }
    }
    EXPECT_EQ(factors, expected);
    EXPECT_EQ(lines_of(log()).size(), 12U);
    // Every cap was set and the original limit is back.
    std::multiset<std::uint64_t> sets;
    for (const auto& c : m_state.calls()) {
        if (c.function == "nvmlDeviceSetPowerManagementLimit" && c.value != 400000)
            sets.insert(c.value);
    }
    EXPECT_EQ(sets.count(150000), 6U);
    EXPECT_EQ(sets.count(200000), 6U);
    EXPECT_EQ(m_state.limits(0).current_mw, 400000U);
    EXPECT_EQ(m_state.limits(1).current_mw, 400000U);
    // Traces are stored with the runs.
    const Store store(m_db, Store::Mode::kReadOnly);
    EXPECT_FALSE(store.trace(all.front().run_id).times_s.empty());
    // Running again finds nothing to do.
    const auto again = jb();
    EXPECT_EQ(again.exit_code, 0) << again.err;
    EXPECT_EQ(lines_of(log()).size(), 12U);
}

TEST_F(RunCli, FailureAndTimeoutAreRecordedAndTheExperimentGoesOnRetriesRerunThem) {
    write(R"([experiment]
name = "failures"
repetitions = 1
order = "interleaved"

[[workload]]
name = "bad"
command = ["sh", "-c", "echo first line >&2; echo 'it went wrong' >&2; exit 3"]

[[workload]]
name = "slow"
command = ["sleep", "30"]
timeout = "300ms"

[[workload]]
name = "good"
command = ["true"]

[[environment]]
name = "bare"
type = "bare"
)");
    const auto r = jb({"--retries", "1"});
    EXPECT_EQ(r.exit_code, 1) << r.err;
    EXPECT_THAT(r.err, HasSubstr("it went wrong"));
    std::map<std::string, RunRecord> by_name;
    for (const auto& run : runs()) by_name[run.workload] = run;
    ASSERT_EQ(by_name.size(), 3U);
    EXPECT_EQ(by_name["bad"].status, RunStatus::kFailed);
    EXPECT_EQ(by_name["bad"].exit_code, 3);
    EXPECT_THAT(by_name["bad"].stderr_tail, HasSubstr("first line\nit went wrong"));
    EXPECT_EQ(by_name["bad"].attempt, 2U);  // --retries 1
    EXPECT_EQ(by_name["slow"].status, RunStatus::kTimeout);
    EXPECT_EQ(by_name["slow"].signal, SIGTERM);
    ASSERT_TRUE(by_name["slow"].wall_s.has_value());
    EXPECT_LT(*by_name["slow"].wall_s, 25.0);  // ended by joulebench, not by itself
    EXPECT_EQ(by_name["slow"].attempt, 2U);
    EXPECT_EQ(by_name["good"].status, RunStatus::kDone);
    EXPECT_EQ(by_name["good"].attempt, 1U);

    // A later `--retries` takes the failed and timed-out runs again, though nothing new is left
    // to run (issue 22, item 2: it ran nothing); done runs are not run again.
    const auto again = jb({"--retries", "2"});
    EXPECT_EQ(again.exit_code, 1) << again.err;
    EXPECT_THAT(again.err, HasSubstr("retry 1: 2 run(s)"));
    std::map<std::string, RunRecord> after;
    for (const auto& run : runs()) after[run.workload] = run;
    EXPECT_EQ(after["bad"].attempt, 4U);
    EXPECT_EQ(after["slow"].attempt, 4U);
    EXPECT_EQ(after["good"].attempt, 1U);
}

// A run that cannot start (a script whose interpreter is missing) is a failed run with exit
// status 127; its reason names the interpreter, said once (issue 13, defect 10: "X: X").
TEST_F(RunCli, ARunThatCannotStartIsFailedAndItsReasonIsSaidOnce) {
    const fs::path script = m_dir.path() / "py4";
    write_file(script, "#!/nonexistent/python4\nprint(1)\n");
    fs::permissions(script, fs::perms::owner_all);
    write(fmt::format(R"([experiment]
name = "cannot-start"
repetitions = 1

[[workload]]
name = "py4"
command = ["{}"]

[[environment]]
name = "bare"
type = "bare"
)",
                      script.string()));
    const auto r = jb();
    EXPECT_EQ(r.exit_code, 1) << r.err;
    const std::string reason = "bad interpreter /nonexistent/python4: No such file or directory";
    const auto first = r.err.find(reason);
    ASSERT_NE(first, std::string::npos) << r.err;
    const auto line_end = r.err.find('\n', first);
    EXPECT_EQ(r.err.substr(first, line_end - first).find(reason, reason.size()), std::string::npos) << r.err;
    const auto all = runs();
    ASSERT_EQ(all.size(), 1U);
    EXPECT_EQ(all[0].status, RunStatus::kFailed);
    EXPECT_EQ(all[0].exit_code, 127);
}

TEST_F(RunCli, SigkillInTheMiddleThenResumeRunsEveryRunOnceAndCapsAreRestored) {
    write(
        "[experiment]\nname = \"killed\"\nrepetitions = 4\nseed = 1\n\n" +
        logging_workload("w", log(), "0.3") +
        "[[environment]]\nname = \"bare\"\ntype = \"bare\"\n\n[power_caps]\ngpu_w = [150, 250]\n\n"
        "[gpus]\ndevices = [1]\n");
    ChildProcess child(
        {joulebench_binary(), "run", m_file.string(), "--db", m_db.string(), "--interval", "20"},
        options());
    ASSERT_TRUE(eventually([&] { return lines_of(log()).size() >= 3; })) << child.err_so_far();
    child.send(SIGKILL);
    const auto killed = child.wait();
    EXPECT_EQ(killed.signal, SIGKILL);
    // The guardian puts the original limit back.
    EXPECT_TRUE(eventually([&] { return m_state.limits(1).current_mw == 400000U; }));
    std::set<std::string> done_before;
    for (const auto& run : runs()) {
        if (run.status == RunStatus::kDone) done_before.insert(run.run_id);
    }
    EXPECT_GE(done_before.size(), 1U);
    EXPECT_LT(done_before.size(), 8U);

    const auto resumed = jb();
    ASSERT_EQ(resumed.exit_code, 0) << resumed.err;
    EXPECT_THAT(resumed.err, HasSubstr("already done"));
    const auto all = runs();
    ASSERT_EQ(all.size(), 8U);
    std::set<std::string> ids;
    for (const auto& run : all) {
        EXPECT_EQ(run.status, RunStatus::kDone);
        ids.insert(run.run_id);
    }
    EXPECT_EQ(ids.size(), 8U);
    std::map<std::string, int> executions;
    for (const auto& line : lines_of(log())) ++executions[line.substr(0, line.find(' '))];
    EXPECT_EQ(executions.size(), 8U);
    for (const auto& id : done_before) EXPECT_EQ(executions[id], 1) << id << " was re-run";
    EXPECT_EQ(m_state.limits(1).current_mw, 400000U);
    EXPECT_EQ(m_state.limits(0).current_mw, 400000U);
}

TEST_F(RunCli, AChangedFileIsRefusedUnlessNew) {
    const std::string head = "[experiment]\nname = \"changing\"\n";
    const std::string rest =
        "[[workload]]\nname = \"w\"\ncommand = [\"true\"]\n\n[[environment]]\nname = \"bare\"\n"
        "type = \"bare\"\n";
    write(head + "repetitions = 1\n\n" + rest);
    ASSERT_EQ(jb().exit_code, 0);
    // Comments, blank lines and key order are not the experiment: the store resumes (issue 22,
    // item 3).
    write("# the same experiment, commented\n" + rest + "\n\n" + head + "repetitions   =   1 # one\n");
    const auto resumed = jb();
    EXPECT_EQ(resumed.exit_code, 0) << resumed.err;
    EXPECT_EQ(runs().size(), 1U);
    const fs::path old_log = m_db.string() + ".logs";
    std::size_t old_logs = 0;
    for (const auto& e : fs::directory_iterator(old_log)) old_logs += e.is_regular_file() ? 1 : 0;
    ASSERT_GT(old_logs, 0U);
    write(head + "repetitions = 2\n\n" + rest);
    const auto dry = jb({"--dry-run"});  // says so too, before anything would run
    EXPECT_NE(dry.exit_code, 0);
    EXPECT_THAT(dry.err, HasSubstr("--new"));
    const auto refused = jb();
    EXPECT_NE(refused.exit_code, 0);
    EXPECT_THAT(refused.err, HasSubstr("different experiment file"));
    EXPECT_THAT(refused.err, HasSubstr("--new"));
    EXPECT_EQ(runs().size(), 1U);  // untouched
    const auto fresh = jb({"--new"});
    ASSERT_EQ(fresh.exit_code, 0) << fresh.err;
    EXPECT_EQ(runs().size(), 2U);
    // The old store and its logs were moved aside together (issue 22, item 1): the new runs'
    // logs cannot overwrite the old runs' (run ids are stable).
    std::optional<fs::path> aside;
    for (const auto& e : fs::directory_iterator(m_dir.path())) {
        const std::string name = e.path().filename().string();
        if (name.rfind("results.db.replaced-", 0) == 0 && e.path().extension() != ".logs") aside = e.path();
    }
    ASSERT_TRUE(aside);
    const fs::path aside_logs = aside->string() + ".logs";
    ASSERT_TRUE(fs::is_directory(aside_logs));
    std::size_t moved = 0;
    for (const auto& e : fs::directory_iterator(aside_logs)) moved += e.is_regular_file() ? 1 : 0;
    EXPECT_EQ(moved, old_logs);
    EXPECT_THAT(fresh.err, HasSubstr("its logs to " + aside_logs.string()));
    EXPECT_EQ(Store(*aside, Store::Mode::kReadOnly).runs().size(), 1U);
}

TEST_F(RunCli, TwoGpuSlotsRunConcurrentlyEachMeasuringOnlyItsGpu) {
    write("[experiment]\nname = \"slots\"\nrepetitions = 4\norder = \"interleaved\"\n\n" +
          logging_workload("w", log(), "0.6") +
          "[[environment]]\nname = \"bare\"\ntype = \"bare\"\n\n"
          "[gpus]\ndevices = [0, 1]\n");
    const auto r = jb();
    ASSERT_EQ(r.exit_code, 0) << r.err;
    const auto all = runs();
    ASSERT_EQ(all.size(), 4U);
    const Store store(m_db, Store::Mode::kReadOnly);
    std::map<std::string, std::string> visible;
    for (const auto& line : lines_of(log())) {
        const auto space = line.find(' ');
        visible[line.substr(0, space)] = space == std::string::npos ? "" : line.substr(space + 1);
    }
    bool overlap = false;
    for (const auto& a : all) {
        ASSERT_TRUE(a.gpu.has_value());
        EXPECT_EQ(visible[a.run_id], std::to_string(*a.gpu));  // CUDA_VISIBLE_DEVICES
        std::set<std::string> gpu_domains;
        for (const auto& d : store.domains(a.run_id)) {
            if (d.domain.rfind("gpu", 0) == 0) gpu_domains.insert(d.domain);
        }
        EXPECT_EQ(gpu_domains, std::set<std::string>{fmt::format("gpu{}", *a.gpu)}) << a.run_id;
        for (const auto& b : all) {
            if (b.gpu == a.gpu) continue;
            if (*a.started_at < *b.ended_at && *b.started_at < *a.ended_at) overlap = true;
        }
    }
    EXPECT_TRUE(overlap) << "no two runs on different GPUs overlapped";
}

// Gang mode: each run as one instance per GPU, the instances of a run meeting each other (each
// waits until the other has started: they ran at the same time), then a SIGKILL in the middle
// and a resume that runs every instance of the unfinished runs and none of the finished ones.
TEST_F(RunCli, GangModeRunsEveryRunOnBothGpusAtOnceAndAResumeAfterSigkillLosesNoInstance) {
    const fs::path meet = m_dir.path() / "meet";
    fs::create_directories(meet);
    write(fmt::format(R"toml([experiment]
name = "gang"
repetitions = 3
seed = 3

[[workload]]
name = "w"
command = ["sh", "-c", "echo $JOULEBENCH_RUN_ID $JOULEBENCH_INSTANCE $CUDA_VISIBLE_DEVICES >> {log}; touch {meet}/$JOULEBENCH_RUN_ID.$JOULEBENCH_INSTANCE; other=$((1 - JOULEBENCH_INSTANCE)); i=0; while [ ! -e {meet}/$JOULEBENCH_RUN_ID.$other ] && [ $i -lt 400 ]; do sleep 0.05; i=$((i+1)); done; [ -e {meet}/$JOULEBENCH_RUN_ID.$other ] || exit 9; sleep 0.2"]

[[environment]]
name = "bare"
type = "bare"

[power_caps]
gpu_w = [150, 250]

[gpus]
devices = [0, 1]
mode = "gang"
)toml",
                      fmt::arg("log", log()), fmt::arg("meet", meet.string())));
    ChildProcess child(
        {joulebench_binary(), "run", m_file.string(), "--db", m_db.string(), "--interval", "20"},
        options());
    ASSERT_TRUE(eventually([&] { return lines_of(log()).size() >= 5; })) << child.err_so_far();
    child.send(SIGKILL);
    EXPECT_EQ(child.wait().signal, SIGKILL);
    EXPECT_TRUE(eventually([&] {
        return m_state.limits(0).current_mw == 400000U && m_state.limits(1).current_mw == 400000U;
    }));
    std::set<std::string> done_before;
    for (const auto& run : runs()) {
        if (run.status == RunStatus::kDone) done_before.insert(run.run_id);
    }
    EXPECT_GE(done_before.size(), 1U);
    EXPECT_LT(done_before.size(), 6U);

    const auto resumed = jb();
    ASSERT_EQ(resumed.exit_code, 0) << resumed.err;
    const Store store(m_db, Store::Mode::kReadOnly);
    const auto all = store.runs();
    ASSERT_EQ(all.size(), 6U);
    for (const auto& run : all) {
        EXPECT_EQ(run.status, RunStatus::kDone) << run.run_id;
        EXPECT_EQ(run.instances, 2U);
        ASSERT_TRUE(run.start_skew_s.has_value());
    }
    // Every (run, instance) once, on its own GPU, with only its GPU's domain.
    std::set<std::pair<std::string, int>> observed;
    for (const auto& o : store.observations()) {
        EXPECT_EQ(o.status, RunStatus::kDone);
        ASSERT_TRUE(o.gpu.has_value());
        EXPECT_EQ(*o.gpu, o.instance);
        EXPECT_TRUE(observed.insert({o.run_id, o.instance}).second) << o.run_id;
        ASSERT_TRUE(o.gpu_energy_j.has_value());
        EXPECT_GT(*o.gpu_energy_j, 0.0);
        std::set<std::string> gpus;
        for (const auto& d : store.domains(o.run_id)) {
            if (d.instance == o.instance && d.kind == "gpu") gpus.insert(d.domain);
        }
        EXPECT_EQ(gpus, std::set<std::string>{fmt::format("gpu{}", o.instance)});
    }
    EXPECT_EQ(observed.size(), 12U);
    // The workload saw its instance and its GPU; a run done before the kill never ran again.
    std::map<std::string, int> executions;
    for (const auto& line : lines_of(log())) {
        std::istringstream in(line);
        std::string id, instance, gpu;
        in >> id >> instance >> gpu;
        EXPECT_EQ(instance, gpu) << line;
        ++executions[id + "." + instance];
    }
    for (const auto& id : done_before) {
        EXPECT_EQ(executions[id + ".0"], 1) << id << " was re-run";
        EXPECT_EQ(executions[id + ".1"], 1) << id << " was re-run";
    }
    // Export: one row per instance, with its instance and GPU.
    const auto exported = run_joulebench({"export", m_db.string(), "--format", "csv"}, options());
    ASSERT_EQ(exported.exit_code, 0) << exported.err;
    EXPECT_THAT(exported.out, HasSubstr(",repetition,instance,gpu,"));
    EXPECT_EQ(std::count(exported.out.begin(), exported.out.end(), '\n'), 13);
    // The report shows each GPU's medians under each cap.
    const fs::path md = m_dir.path() / "report.md";
    const auto report = run_joulebench(
        {"report", m_db.string(), "-o", md.string(), "--format", "md", "--resamples", "200"},
        options());
    ASSERT_EQ(report.exit_code, 0) << report.err;
    const std::string text = read_file(md);
    EXPECT_THAT(text, HasSubstr("Spread between GPUs under the same cap"));
    EXPECT_THAT(text, HasSubstr("| bare | 150 W | 0 | 3 |"));
    EXPECT_THAT(text, HasSubstr("| bare | 250 W | 1 | 3 |"));
}

TEST_F(RunCli, SigtermStopsAfterRestoringCapsAndTheRunningRunIsInterruptedThenResumed) {
    const fs::path sleep_file = m_dir.path() / "sleep";
    write_file(sleep_file, "20\n");
    write(fmt::format(R"toml([experiment]
name = "stopped"
repetitions = 3

[[workload]]
name = "w"
command = ["sh", "-c", "echo $JOULEBENCH_RUN_ID >> {}; sleep $(cat {})"]

[[environment]]
name = "bare"
type = "bare"

[power_caps]
gpu_w = [150]

[gpus]
devices = [0]
)toml",
                      log(), sleep_file.string()));
    ChildProcess child({joulebench_binary(), "run", m_file.string(), "--db", m_db.string()},
                       options());
    ASSERT_TRUE(eventually([&] { return lines_of(log()).size() == 1; })) << child.err_so_far();
    ASSERT_TRUE(eventually([&] { return m_state.limits(0).current_mw == 150000U; }));
    // A second `run` on the same store is refused while this one holds it.
    const auto second = jb();
    EXPECT_NE(second.exit_code, 0);
    EXPECT_THAT(second.err, HasSubstr("another joulebench run is using it"));
    child.send(SIGTERM);
    const auto stopped = child.wait();
    EXPECT_EQ(stopped.exit_code, 128 + SIGTERM) << stopped.err;
    EXPECT_THAT(stopped.err, HasSubstr("stopped by signal 15"));
    // joulebench restored the cap itself before it exited, and cleared its journal entry.
    EXPECT_EQ(m_state.limits(0).current_mw, 400000U);
    std::error_code ec;
    for (const auto& e : fs::directory_iterator(m_state_dir / "caps", ec)) {
        EXPECT_NE(e.path().extension(), ".json") << e.path();
    }
    std::map<RunStatus, int> statuses;
    for (const auto& run : runs()) ++statuses[run.status];
    EXPECT_EQ(statuses[RunStatus::kInterrupted], 1);
    EXPECT_EQ(statuses[RunStatus::kPlanned], 2);
    EXPECT_EQ(lines_of(log()).size(), 1U);  // nothing started after the signal

    write_file(sleep_file, "0.05\n");
    const auto resumed = jb();
    ASSERT_EQ(resumed.exit_code, 0) << resumed.err;
    for (const auto& run : runs()) EXPECT_EQ(run.status, RunStatus::kDone);
    EXPECT_EQ(lines_of(log()).size(), 4U);  // the interrupted one ran again, the others once
}

TEST_F(RunCli, RestBaselineRecordsTheIdleBaselineAndWaitsForIt) {
    write("[experiment]\nname = \"rested\"\nrepetitions = 2\nrest = \"baseline\"\n\n" +
          logging_workload("w", log(), "0.05") +
          "[[environment]]\nname = \"bare\"\ntype = \"bare\"\n\n"
          "[gpus]\ndevices = [1]\n");
    const auto r = jb({"--idle-baseline", "0.5", "--rest-timeout", "10"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    const Store store(m_db, Store::Mode::kReadOnly);
    const auto baselines = store.idle_baselines();
    ASSERT_EQ(baselines.size(), 1U);
    EXPECT_EQ(baselines[0].domain, "gpu1");
    EXPECT_NEAR(baselines[0].power_w, 100.0, 2.0);  // the fake GPU draws 100 W
    for (const auto& run : store.runs()) {
        EXPECT_EQ(run.status, RunStatus::kDone);
        EXPECT_EQ(run.warnings_json.find("rest:"), std::string::npos) << run.warnings_json;
    }
}

TEST_F(RunCli, RestBaselineWarnsWhenTheGpuDoesNotComeBackNearIdle) {
    write("[experiment]\nname = \"hot\"\nrepetitions = 2\nrest = \"baseline\"\n\n" +
          logging_workload("w", log(), "0.05") +
          "[[environment]]\nname = \"bare\"\ntype = \"bare\"\n\n"
          "[gpus]\ndevices = [0]\n");
    ChildProcess child({joulebench_binary(), "run", m_file.string(), "--db", m_db.string(),
                        "--idle-baseline", "0.5", "--rest-timeout", "1"},
                       options());
    // After the baseline (100 W) the GPU stays at 400 W: the rest times out and says so.
    ASSERT_TRUE(eventually([&] { return !lines_of(log()).empty(); })) << child.err_so_far();
    m_state.set_power_mw(0, 400000);
    const auto r = child.wait();
    ASSERT_EQ(r.exit_code, 0) << r.err;
    const auto all = runs();
    ASSERT_EQ(all.size(), 2U);
    std::size_t warned = 0;
    for (const auto& run : all) {
        if (run.warnings_json.find("rest: not back near the idle baseline") != std::string::npos)
            ++warned;
    }
    EXPECT_EQ(warned, 1U);  // the second run; the first had no rest before it
}

TEST_F(RunCli, OverlappingRunsGetCpuEnergyAttributedByCpuTimeShare) {
    FakePowercapTree rapl(m_dir.path() / "powercap");
    rapl.add_typical_socket(0, 40.0, 20.0, 5.0);
    rapl.start();
    write(R"([experiment]
name = "attributed"
repetitions = 1
order = "interleaved"

[[workload]]
name = "busy"
command = ["sh", "-c", "i=0; while [ $i -lt 200000 ]; do i=$((i+1)); done"]

[[workload]]
name = "idle"
command = ["sleep", "1"]

[[environment]]
name = "bare"
type = "bare"

[gpus]
devices = [0, 1]
)");
    ProcessOptions o = options();
    for (auto& [name, value] : o.env) {
        if (name == "JOULEBENCH_POWERCAP_ROOT") value = rapl.root().string();
    }
    const auto r =
        run_joulebench({"run", m_file.string(), "--db", m_db.string(), "--interval", "20"}, o);
    rapl.stop();
    ASSERT_EQ(r.exit_code, 0) << r.err;
    std::map<std::string, RunRecord> by_name;
    for (const auto& run : runs()) by_name[run.workload] = run;
    ASSERT_EQ(by_name.size(), 2U);
    const RunRecord& busy = by_name["busy"];
    const RunRecord& idle = by_name["idle"];
    ASSERT_TRUE(*busy.started_at < *idle.ended_at && *idle.started_at < *busy.ended_at)
        << "no overlap";
    for (const auto* run : {&busy, &idle}) {
        EXPECT_THAT(run->warnings_json, HasSubstr("package0: attributed:")) << run->workload;
        EXPECT_THAT(run->warnings_json, HasSubstr("dram0: attributed:")) << run->workload;
        ASSERT_TRUE(run->cpu_energy_j.has_value());
        // Never more than the 45 W (package + dram) the machine drew over the run.
        EXPECT_LE(*run->cpu_energy_j, 45.0 * *run->wall_s * 1.05 + 0.5) << run->workload;
    }
    // cpu_energy_j is the sum of the attributed package and DRAM values, each its measured value
    // times the run's CPU-time share, as the warnings state them.
    for (const auto* run : {&busy, &idle}) {
        double sum = 0.0;
        for (const auto& w : nlohmann::json::parse(run->warnings_json)) {
            const std::string text = w.get<std::string>();
            double attributed = 0, measured = 0, cpu = 0, busy_cpu = 0, pct = 0;
            char domain[32] = {};
            if (std::sscanf(text.c_str(),
                            "%31[^:]: attributed: %lf J of the %lf J measured while other runs "
                            "overlapped, by this "
                            "run's share of the machine's busy CPU time (%lf of %lf CPU-s, %lf%%)",
                            domain, &attributed, &measured, &cpu, &busy_cpu, &pct) != 6) {
                continue;
            }
            EXPECT_NEAR(attributed, measured * std::min(1.0, cpu / busy_cpu),
                        0.002 + measured * 0.01)
                << text;
            if (std::string(domain) == "package0" || std::string(domain) == "dram0")
                sum += attributed;
        }
        EXPECT_NEAR(*run->cpu_energy_j, sum, 0.002) << run->warnings_json;
    }
    // The shell loop used CPU time, sleep almost none: the package energy follows that.
    EXPECT_GT(*busy.cpu_energy_j, 0.0) << busy.warnings_json;
    EXPECT_LT(*idle.cpu_energy_j, *busy.cpu_energy_j);
}

// The sequence warm-up, then per run: cap, run, restore, (rest), next cap; on the clock of the fake
// NVML's call log (CLOCK_MONOTONIC), read by the monotonic_ns helper around the workload.
TEST_F(RunCli, ExecutionOrderWarmupThenCapRunRestorePerRun) {
    const fs::path warm = m_dir.path() / "warm";
    const fs::path starts = m_dir.path() / "starts";
    const fs::path ends = m_dir.path() / "ends";
    const std::string stamp = JOULEBENCH_MONOTONIC_NS_PATH;
    write(fmt::format(R"toml([experiment]
name = "order"
repetitions = 2
order = "interleaved"
warmup = ["{0}", "{1}"]
rest = "100ms"

[[workload]]
name = "w"
command = ["sh", "-c", "{0} {2}; sleep 0.05; {0} {3}"]

[[environment]]
name = "bare"
type = "bare"

[power_caps]
gpu_w = [150, 200]

[gpus]
devices = [0]
)toml",
                      stamp, warm.string(), starts.string(), ends.string()));
    const auto r = jb();
    ASSERT_EQ(r.exit_code, 0) << r.err;
    auto first_column = [](const fs::path& file) {
        std::vector<std::int64_t> out;
        for (const auto& line : lines_of(file))
            out.push_back(std::stoll(line.substr(0, line.find(' '))));
        return out;
    };
    const auto warm_ns = first_column(warm);
    const auto start_ns = first_column(starts);
    const auto end_ns = first_column(ends);
    ASSERT_EQ(warm_ns.size(), 1U);
    ASSERT_EQ(start_ns.size(), 4U);
    ASSERT_EQ(end_ns.size(), 4U);
    std::vector<FakeNvmlCall> sets;
    for (const auto& c : m_state.calls()) {
        if (c.function == "nvmlDeviceSetPowerManagementLimit") sets.push_back(c);
    }
    ASSERT_EQ(sets.size(), 8U);  // per run: the cap, then the original back
    const std::vector<std::uint64_t> caps_in_plan_order = {150000, 200000, 150000, 200000};
    EXPECT_LT(warm_ns[0], sets[0].monotonic_ns);
    for (std::size_t k = 0; k < 4; ++k) {
        const auto& cap = sets[2 * k];
        const auto& restore = sets[2 * k + 1];
        EXPECT_EQ(cap.value, caps_in_plan_order[k]);
        EXPECT_EQ(restore.value, 400000U);
        EXPECT_LT(cap.monotonic_ns, start_ns[k]) << "run " << k;
        EXPECT_LT(start_ns[k], end_ns[k]) << "run " << k;
        EXPECT_LT(end_ns[k], restore.monotonic_ns) << "run " << k;
        if (k + 1 < 4) {
            EXPECT_LT(restore.monotonic_ns, sets[2 * k + 2].monotonic_ns) << "run " << k;
        }
    }
}

// A stored run's trace comes out of the store as `measure --samples` writes one: the same header
// on the same sensors, one row per stored sample (issue 22, item 10).
TEST_F(RunCli, ExportTraceWritesAStoredRunsTraceAsMeasureSamplesDoes) {
    write(R"([experiment]
name = "trace"
repetitions = 1

[[workload]]
name = "w"
command = ["sleep", "0.3"]

[[environment]]
name = "bare"
type = "bare"
)");
    ASSERT_EQ(jb().exit_code, 0);
    const auto all = runs();
    ASSERT_EQ(all.size(), 1U);
    const std::string id = all[0].run_id;
    const auto r = run_joulebench({"export", m_db.string(), "--trace", id}, options());
    ASSERT_EQ(r.exit_code, 0) << r.err;
    const auto stored = Store(m_db, Store::Mode::kReadOnly).trace(id);
    std::vector<std::string> lines;
    std::istringstream in(r.out);
    for (std::string line; std::getline(in, line);) lines.push_back(line);
    ASSERT_EQ(lines.size(), stored.times_s.size() + 1) << r.out;
    const fs::path samples = m_dir.path() / "samples.csv";
    const auto m = run_joulebench({"measure", "-q", "--gpus", "all", "--samples", samples.string(), "--", "true"}, options());
    ASSERT_EQ(m.exit_code, 0) << m.err;
    EXPECT_EQ(lines[0], lines_of(samples).at(0));
    EXPECT_THAT(lines[0], ::testing::StartsWith("time_s,gpu0_power_w,gpu0_energy_j,"));
    // The last row's energy of GPU 0 is the stored one.
    const std::string last = lines.back();
    EXPECT_THAT(last, HasSubstr(fmt::format(",{:.6f},", stored.values[0].back()))) << last;

    const auto unknown = run_joulebench({"export", m_db.string(), "--trace", "no-such-run"}, options());
    EXPECT_EQ(unknown.exit_code, 2);
    EXPECT_THAT(unknown.err, HasSubstr("no run 'no-such-run'"));
    const auto as_json = run_joulebench({"export", m_db.string(), "--trace", id, "--format", "json"}, options());
    EXPECT_EQ(as_json.exit_code, 2);
}

TEST_F(RunCli, DryRunChecksAndPrintsThePlanWithoutWriting) {
    write(
        "[experiment]\nname = \"dry\"\nrepetitions = 2\n\n" + logging_workload("w", log(), "0") +
        "[[environment]]\nname = \"bare\"\ntype = \"bare\"\n\n[power_caps]\ngpu_w = [150, 200]\n");
    const auto r = jb({"--dry-run"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_THAT(r.out, HasSubstr("4 runs in this plan"));
    EXPECT_THAT(r.out, HasSubstr("w/bare/150 W/#2"));
    EXPECT_FALSE(fs::exists(m_db));
    EXPECT_TRUE(lines_of(log()).empty());
    EXPECT_TRUE(m_state.calls().empty() ||
                std::none_of(m_state.calls().begin(), m_state.calls().end(), [](const auto& c) {
                    return c.function == "nvmlDeviceSetPowerManagementLimit";
                }));
}

TEST_F(RunCli, ProblemsFoundBeforeTheFirstRunNameTheFileAndLineAndWriteNothing) {
    write(R"([experiment]
name = "broken"
repetitions = 1

[[workload]]
name = "w"
command = ["no-such-command-joulebench"]

[[environment]]
name = "bare"
type = "bare"
)");
    const auto missing = jb();
    EXPECT_NE(missing.exit_code, 0);
    EXPECT_THAT(missing.err, HasSubstr("experiment.toml:5"));
    EXPECT_THAT(missing.err, HasSubstr("no-such-command-joulebench"));
    EXPECT_FALSE(fs::exists(m_db));

    write(R"([experiment]
name = "broken"
repetitions = 1

[[workload]]
name = "w"
command = ["true"]

[[environment]]
name = "bare"
type = "bare"

[power_caps]
gpu_w = [50]
)");
    const auto cap = jb();
    EXPECT_NE(cap.exit_code, 0);
    EXPECT_THAT(cap.err, HasSubstr("experiment.toml:14"));
    EXPECT_THAT(cap.err, HasSubstr("100"));  // the fake GPU's minimum, 100 W
    EXPECT_FALSE(fs::exists(m_db));
    EXPECT_EQ(m_state.limits(0).current_mw, 400000U);
}

}  // namespace
}  // namespace joulebench::test
