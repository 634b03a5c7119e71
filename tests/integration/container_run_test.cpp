// The docker and podman environments with real engines: a private dockerd and a private Podman
// store started by the test (tests/fakes/container_engine.hpp), a busybox image imported from a
// root filesystem built offline, and the real joulebench-hold. First the Environment itself
// (phases, exit codes, output files, exec failures, timeouts with TERM and with KILL, stop,
// leftovers of the workload and of crashed runs, cgroup CPU time), then `joulebench run` end to
// end under the fake powercap tree (runs stored with their phases, failures, a timeout, nothing
// left behind, SIGKILL of joulebench and the clean-up by the next run, a missing image refused
// before the first run). Skipped, with the reason, where an engine is not installed or not usable.

#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>

#include <atomic>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <thread>

#include "environments/container_environment.hpp"
#include "environments/container_owner.hpp"
#include "fakes/container_engine.hpp"
#include "fakes/fake_powercap_builder.hpp"
#include "fakes/test_support.hpp"
#include "joulebench/error.hpp"
#include "joulebench/store.hpp"

namespace joulebench::testing {
namespace {

namespace fs = std::filesystem;
using environments::InstanceResult;
using environments::WorkloadInstance;
using test::eventually;
using test::TempDir;
using ::testing::HasSubstr;

constexpr const char* kBusyboxImage = "joulebench-busybox:test";

fs::path hold_binary() {
    return fs::path(test::joulebench_binary()).parent_path() / "joulebench-hold";
}

// One engine, private to the test, with the busybox image imported.
struct EngineUnderTest {
    std::string name;  // "docker" or "podman"
    std::unique_ptr<DockerDaemon> docker;
    std::unique_ptr<PodmanStore> podman;

    [[nodiscard]] std::vector<std::string> client() const {
        return docker ? docker->client() : podman->client();
    }
    [[nodiscard]] std::vector<std::pair<std::string, std::string>> env() const {
        return docker ? docker->env() : podman->env();
    }
    [[nodiscard]] EnvironmentType type() const {
        return name == "podman" ? EnvironmentType::kPodman : EnvironmentType::kDocker;
    }
    std::pair<int, std::string> cmd(const std::vector<std::string>& args) const {
        return engine_command(client(), args, env());
    }
    // Ids of the containers (all, or running only) carrying a joulebench label.
    std::vector<std::string> containers(bool running_only = false) const {
        std::vector<std::string> args{"ps", "-q", "--filter", "label=joulebench.owner"};
        if (!running_only) args.insert(args.begin() + 1, "-a");
        const auto [rc, out] = cmd(args);
        EXPECT_EQ(rc, 0) << out;
        std::vector<std::string> ids;
        std::istringstream in(out);
        for (std::string id; in >> id;) ids.push_back(id);
        return ids;
    }
};

std::unique_ptr<EngineUnderTest> start_engine(const std::string& name, std::string& skip) {
    auto e = std::make_unique<EngineUnderTest>();
    e->name = name;
    if (name == "docker") {
        e->docker = DockerDaemon::start(skip);
        if (!e->docker) return nullptr;
    } else {
        e->podman = PodmanStore::create(skip);
        if (!e->podman) return nullptr;
    }
    if (!static_busybox()) {
        skip = "no static busybox (apt-get install busybox-static)";
        return nullptr;
    }
    import_busybox_image(e->client(), kBusyboxImage, e->env());
    return e;
}

// Records the phases an environment runs, in order, and runs them.
class RecordingPhases final : public environments::PhaseRecorder {
public:
    void phase(std::string_view name, const std::function<void()>& body) override {
        names.emplace_back(name);
        body();
    }
    std::vector<std::string> names;
};

// ---- the Environment with real engines ----------------------------------------------------------

class ContainerEnvironmentTest : public ::testing::TestWithParam<std::string> {
protected:
    void SetUp() override {
        std::string skip;
        m_engine = start_engine(GetParam(), skip);
        if (!m_engine) GTEST_SKIP() << skip;
        for (const auto& [k, v] : m_engine->env())
            m_env.push_back(std::make_unique<test::ScopedEnv>(k, v));
        m_env.push_back(
            std::make_unique<test::ScopedEnv>("JOULEBENCH_HOLD", hold_binary().string()));
    }
    void TearDown() override {
        m_env.clear();
        m_engine.reset();
    }

    EnvironmentSpec spec(std::vector<std::string> extra_args = {}) const {
        EnvironmentSpec s;
        s.name = "ctr";
        s.type = m_engine->type();
        s.image = kBusyboxImage;
        // The private dockerd has no bridge: containers get no network (podman: same, for
        // symmetry and because this machine has no netavark/CNI setup for it).
        s.run_args = {"--network", "none"};
        s.run_args.insert(s.run_args.end(), extra_args.begin(), extra_args.end());
        s.where = SourceLocation{"exp.toml", 7, 1};
        return s;
    }
    WorkloadInstance instance(std::vector<std::string> command, const std::string& run_id) const {
        WorkloadInstance i;
        i.run_id = run_id;
        i.command = std::move(command);
        i.env = {{"JOULEBENCH_RUN_ID", run_id}, {"GREETING", "hello there"}};
        i.stdout_file = m_dir.path() / (run_id + ".stdout");
        i.stderr_file = m_dir.path() / (run_id + ".stderr");
        i.kill_grace = std::chrono::seconds(5);
        return i;
    }
    // begin, execute, end: the whole life of one instance.
    InstanceResult run(environments::ContainerEnvironment& env, const WorkloadInstance& inst,
                       RecordingPhases& phases, std::vector<Warning>& warnings) const {
        env.begin_instance(inst, phases);
        InstanceResult r = env.execute(inst, nullptr);
        env.end_instance(inst, phases, warnings);
        return r;
    }

    TempDir m_dir{"jb-ctr-env"};
    std::unique_ptr<EngineUnderTest> m_engine;
    std::vector<std::unique_ptr<test::ScopedEnv>> m_env;
};

TEST_P(ContainerEnvironmentTest, RunsTheWorkloadWithItsExitCodeOutputPhasesAndCgroupCpuTime) {
    environments::ContainerEnvironment env(spec());
    env.validate(WorkloadSpec{});
    env.prepare();
    const auto described = nlohmann::json::parse(env.describe());
    EXPECT_EQ(described["engine"], GetParam());
    EXPECT_FALSE(described["version"].get<std::string>().empty());
    const auto [rc, id] = m_engine->cmd({"image", "inspect", "--format", "{{.Id}}", kBusyboxImage});
    ASSERT_EQ(rc, 0) << id;
    EXPECT_EQ(described["image_id"], id.substr(0, id.find('\n')));
    EXPECT_GT(described["image_size_bytes"].get<std::uint64_t>(), 1000000U);  // busybox: ~2 MB
    // The image audit is kept with the session: busybox has layers and no python3.
    ASSERT_TRUE(described.contains("audit")) << described.dump();
    EXPECT_FALSE(described["audit"]["layers"].empty());
    // The audit was given the engine's version prepare() read, not a second answer.
    EXPECT_EQ(described["audit"]["engine_version"], described["version"]);
    EXPECT_EQ(described["audit"]["software"]["status"], "no-python");

    // A busy loop, so the container's cgroup has CPU time to report.
    const auto inst = instance({"sh", "-c",
                                "echo \"out $GREETING $JOULEBENCH_RUN_ID\"; echo err >&2; i=0; "
                                "while [ $i -lt 300000 ]; do i=$((i+1)); done; exit 3"},
                               "run1");
    RecordingPhases phases;
    std::vector<Warning> warnings;
    const auto r = run(env, inst, phases, warnings);
    EXPECT_EQ(r.end, InstanceResult::End::kExited) << r.start_error;
    EXPECT_EQ(r.exit_code, 3);
    EXPECT_FALSE(r.signal.has_value());
    EXPECT_FALSE(r.left_processes);
    EXPECT_EQ(test::read_file(inst.stdout_file), "out hello there run1\n");
    EXPECT_EQ(test::read_file(inst.stderr_file), "err\n");
    EXPECT_THAT(phases.names,
                ::testing::ElementsAre("container-create", "container-start", "container-remove"));
    EXPECT_GT(r.cpu_user_s + r.cpu_system_s, 0.05) << "a 300000-step shell loop uses CPU";
    EXPECT_TRUE(r.warnings.empty()) << r.warnings.front();
    EXPECT_TRUE(warnings.empty());
    EXPECT_GT(r.started_at, 0.0);
    EXPECT_GE(r.end_time, r.start_time);
    EXPECT_TRUE(m_engine->containers().empty());
    env.tear_down();
}

TEST_P(ContainerEnvironmentTest, TheWorkloadStartsOnlyInExecuteNotWhenTheContainerStarts) {
    const fs::path shared = m_dir.path() / "shared";
    fs::create_directories(shared);
    environments::ContainerEnvironment env(spec({"-v", shared.string() + ":/m"}));
    env.prepare();
    const auto inst = instance({"touch", "/m/started"}, "run2");
    RecordingPhases phases;
    env.begin_instance(inst, phases);
    // The container is up (joulebench-hold said ready) and the workload has not run.
    const auto [rc, running] =
        m_engine->cmd({"ps", "-q", "--filter", "label=joulebench.run_id=run2"});
    EXPECT_EQ(rc, 0);
    EXPECT_FALSE(running.empty()) << "the container runs after container-start";
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    EXPECT_FALSE(fs::exists(shared / "started"));
    const auto r = env.execute(inst, nullptr);
    EXPECT_EQ(r.exit_code, 0);
    EXPECT_TRUE(fs::exists(shared / "started"));
    std::vector<Warning> warnings;
    env.end_instance(inst, phases, warnings);
    EXPECT_TRUE(m_engine->containers().empty());
}

TEST_P(ContainerEnvironmentTest, ACommandMissingFromTheImageIsNotStartedWith127) {
    environments::ContainerEnvironment env(spec());
    env.prepare();
    const auto inst = instance({"no-such-program", "x"}, "run3");
    RecordingPhases phases;
    std::vector<Warning> warnings;
    const auto r = run(env, inst, phases, warnings);
    EXPECT_EQ(r.end, InstanceResult::End::kNotStarted);
    EXPECT_EQ(r.exit_code, 127);
    EXPECT_THAT(r.start_error, HasSubstr("no-such-program"));
    EXPECT_THAT(r.start_error, HasSubstr("No such file or directory"));
    EXPECT_THAT(test::read_file(inst.stderr_file),
                HasSubstr("joulebench-hold: exec no-such-program"));
}

TEST_P(ContainerEnvironmentTest, TimeoutSendsTermToTheWorkload) {
    environments::ContainerEnvironment env(spec());
    env.prepare();
    auto inst = instance({"sleep", "30"}, "run4");
    inst.timeout = std::chrono::milliseconds(300);
    RecordingPhases phases;
    std::vector<Warning> warnings;
    const auto r = run(env, inst, phases, warnings);
    EXPECT_EQ(r.end, InstanceResult::End::kTimedOut);
    EXPECT_EQ(r.signal, SIGTERM);
    EXPECT_EQ(r.exit_code, 128 + SIGTERM);
    EXPECT_TRUE(m_engine->containers().empty());
}

TEST_P(ContainerEnvironmentTest, AWorkloadIgnoringTermIsKilledAfterTheGrace) {
    environments::ContainerEnvironment env(spec());
    env.prepare();
    auto inst = instance({"sh", "-c", "trap '' TERM; sleep 30"}, "run5");
    inst.timeout = std::chrono::milliseconds(300);
    inst.kill_grace = std::chrono::milliseconds(500);
    RecordingPhases phases;
    std::vector<Warning> warnings;
    const auto r = run(env, inst, phases, warnings);
    EXPECT_EQ(r.end, InstanceResult::End::kTimedOut);
    EXPECT_EQ(r.exit_code, 128 + SIGKILL);
    EXPECT_EQ(r.signal, SIGKILL);
    EXPECT_TRUE(m_engine->containers().empty());
}

TEST_P(ContainerEnvironmentTest, TheStopFlagInterruptsTheRun) {
    environments::ContainerEnvironment env(spec());
    env.prepare();
    std::atomic<bool> stop{false};
    auto inst = instance({"sleep", "30"}, "run6");
    inst.stop = &stop;
    RecordingPhases phases;
    env.begin_instance(inst, phases);
    std::thread stopper([&] {
        std::this_thread::sleep_for(std::chrono::milliseconds(300));
        stop = true;
    });
    const auto r = env.execute(inst, nullptr);
    stopper.join();
    std::vector<Warning> warnings;
    env.end_instance(inst, phases, warnings);
    EXPECT_EQ(r.end, InstanceResult::End::kInterrupted);
    EXPECT_EQ(r.exit_code, 128 + SIGTERM);
}

TEST_P(ContainerEnvironmentTest, ProcessesLeftByTheWorkloadAreKilledAndReported) {
    environments::ContainerEnvironment env(spec());
    env.prepare();
    const auto inst = instance({"sh", "-c", "sleep 100 & echo bg"}, "run7");
    RecordingPhases phases;
    std::vector<Warning> warnings;
    const auto before = std::chrono::steady_clock::now();
    const auto r = run(env, inst, phases, warnings);
    EXPECT_EQ(r.end, InstanceResult::End::kExited);
    EXPECT_EQ(r.exit_code, 0);
    EXPECT_TRUE(r.left_processes);
    // Not a timing assertion: the run must not have waited for the 100 s sleep.
    EXPECT_LT(std::chrono::steady_clock::now() - before, std::chrono::seconds(60));
}

TEST_P(ContainerEnvironmentTest, AWorkloadKilledByASignalReportsIt) {
    environments::ContainerEnvironment env(spec());
    env.prepare();
    const auto inst = instance({"sh", "-c", "kill -9 $$"}, "run8");
    RecordingPhases phases;
    std::vector<Warning> warnings;
    const auto r = run(env, inst, phases, warnings);
    EXPECT_EQ(r.end, InstanceResult::End::kExited);
    EXPECT_EQ(r.signal, SIGKILL);
    EXPECT_EQ(r.exit_code, 128 + SIGKILL);
}

TEST_P(ContainerEnvironmentTest, RunsAsAnotherUserOfTheContainer) {
    // The helper and the socket must be usable by any user; the output files are opened by
    // joulebench and passed in, so the user needs no access to them.
    environments::ContainerEnvironment env(spec({"--user", "65534:65534"}));
    env.prepare();
    const auto inst = instance({"id", "-u"}, "run9");
    RecordingPhases phases;
    std::vector<Warning> warnings;
    const auto r = run(env, inst, phases, warnings);
    EXPECT_EQ(r.end, InstanceResult::End::kExited) << r.start_error;
    EXPECT_EQ(r.exit_code, 0) << test::read_file(inst.stderr_file);
    EXPECT_EQ(test::read_file(inst.stdout_file), "65534\n");
}

TEST_P(ContainerEnvironmentTest, UnderTheEnginesInitTheHelperIsNotPid1AndStillWorks) {
    if (GetParam() == "podman" && !fs::exists("/usr/libexec/podman/catatonit"))
        GTEST_SKIP() << "podman --init needs catatonit (apt-get install catatonit)";
    environments::ContainerEnvironment env(spec({"--init"}));
    env.prepare();
    auto inst = instance({"sh", "-c", "echo $$ > /dev/null; sleep 100 & exit 5"}, "run11");
    RecordingPhases phases;
    std::vector<Warning> warnings;
    auto r = run(env, inst, phases, warnings);
    EXPECT_EQ(r.end, InstanceResult::End::kExited) << r.start_error;
    EXPECT_EQ(r.exit_code, 5) << test::read_file(inst.stderr_file);
    EXPECT_TRUE(r.left_processes);  // the background sleep, in the workload's process group
    // A process that left the workload's group (setsid) is still found and killed: without
    // that, joulebench-hold would wait for it (the timeout only guards this test).
    inst = instance({"sh", "-c", "setsid sleep 100 & sleep 0.2; exit 6"}, "run13");
    inst.timeout = std::chrono::seconds(60);
    r = run(env, inst, phases, warnings);
    EXPECT_EQ(r.end, InstanceResult::End::kExited);
    EXPECT_EQ(r.exit_code, 6);
    EXPECT_TRUE(r.left_processes);
    inst = instance({"sleep", "30"}, "run12");
    inst.timeout = std::chrono::milliseconds(300);
    r = run(env, inst, phases, warnings);
    EXPECT_EQ(r.end, InstanceResult::End::kTimedOut);
    EXPECT_EQ(r.exit_code, 128 + SIGTERM);  // the init forwards TERM to the helper, it to sleep
    EXPECT_TRUE(m_engine->containers().empty());
}

TEST_P(ContainerEnvironmentTest, TheImagesEntrypointRunsBeforeTheCommandAsDockerRunWould) {
    const auto [rc1, out1] =
        m_engine->cmd({"create", "--network", "none", "--name", "jb-base", kBusyboxImage, "true"});
    ASSERT_EQ(rc1, 0) << out1;
    const auto [rc2, out2] =
        m_engine->cmd({"commit", "--change", R"(ENTRYPOINT ["/bin/echo", "from-entrypoint"])",
                       "jb-base", "joulebench-entrypoint:test"});
    ASSERT_EQ(rc2, 0) << out2;
    (void)m_engine->cmd({"rm", "-f", "jb-base"});
    EnvironmentSpec s = spec();
    s.image = "joulebench-entrypoint:test";
    environments::ContainerEnvironment env(s);
    env.prepare();
    EXPECT_EQ(nlohmann::json::parse(env.describe())["entrypoint"],
              nlohmann::json({"/bin/echo", "from-entrypoint"}));
    const auto inst = instance({"and", "the command"}, "run10");
    RecordingPhases phases;
    std::vector<Warning> warnings;
    const auto r = run(env, inst, phases, warnings);
    EXPECT_EQ(r.exit_code, 0) << test::read_file(inst.stderr_file);
    EXPECT_EQ(test::read_file(inst.stdout_file), "from-entrypoint and the command\n");
}

TEST_P(ContainerEnvironmentTest, PrepareRemovesContainersOfACrashedJoulebenchOnly) {
    const std::string mine = environments::container_owner_label();
    const std::string host = mine.substr(0, mine.find('/'));
    const std::string crashed = host + "/00000000-0000-0000-0000-000000000000/1/1";
    const std::string elsewhere = "another-machine/x/1/1";
    for (const auto& [name, owner] : std::vector<std::pair<std::string, std::string>>{
             {"jb-crashed", crashed}, {"jb-elsewhere", elsewhere}}) {
        const auto [rc, out] =
            m_engine->cmd({"create", "--network", "none", "--name", name, "--label",
                           "joulebench.owner=" + owner, kBusyboxImage, "true"});
        ASSERT_EQ(rc, 0) << out;
    }
    ASSERT_EQ(m_engine->containers().size(), 2U);
    environments::ContainerEnvironment env(spec());
    env.prepare();
    const auto described = nlohmann::json::parse(env.describe());
    EXPECT_EQ(described["removed_leftovers"], 1);
    EXPECT_THAT(described["warning"].get<std::string>(), HasSubstr("crashed"));
    const auto [rc, names] = m_engine->cmd({"ps", "-a", "--format", "{{.Names}}"});
    EXPECT_THAT(names, HasSubstr("jb-elsewhere"));
    EXPECT_THAT(names, ::testing::Not(HasSubstr("jb-crashed")));
}

TEST_P(ContainerEnvironmentTest, AMissingImageIsRefusedByValidateWithFileAndLine) {
    EnvironmentSpec s = spec();
    s.image = "joulebench-no-such-image:1";
    environments::ContainerEnvironment env(s);
    try {
        env.validate(WorkloadSpec{});
        FAIL() << "expected an Error";
    } catch (const Error& e) {
        EXPECT_EQ(e.category(), ErrorCategory::kNotFound);
        EXPECT_THAT(e.what(), HasSubstr("exp.toml:7: environment 'ctr': image "
                                        "'joulebench-no-such-image:1' is not in"));
        EXPECT_THAT(e.hint(), HasSubstr("pull"));
    }
}

INSTANTIATE_TEST_SUITE_P(Engines, ContainerEnvironmentTest, ::testing::Values("docker", "podman"),
                         [](const auto& param_info) { return param_info.param; });

// ---- joulebench run
// ------------------------------------------------------------------------------

class ContainerRunCli : public ::testing::Test {
protected:
    void SetUp() override {
        std::string skip;
        m_docker = start_engine("docker", skip);
        if (!m_docker) GTEST_SKIP() << skip;
        m_podman = start_engine("podman", skip);
        if (!m_podman) GTEST_SKIP() << skip;
        m_powercap = std::make_unique<test::FakePowercapTree>(m_dir.path() / "powercap");
        m_powercap->add_typical_socket(0, 20.0, 12.0, 3.0);
        m_powercap->start();  // counters advance with real time
    }

    test::ProcessOptions options() const {
        test::ProcessOptions o;
        o.env = {{"JOULEBENCH_POWERCAP_ROOT", m_powercap->root().string()},
                 {"JOULEBENCH_NVML_LIBRARY", (m_dir.path() / "no-nvml.so").string()},
                 {"JOULEBENCH_STATE_DIR", (m_dir.path() / "state").string()}};
        for (const auto& [k, v] : m_docker->env()) o.env.emplace_back(k, v);
        for (const auto& [k, v] : m_podman->env()) o.env.emplace_back(k, v);
        o.timeout = std::chrono::seconds(300);
        return o;
    }
    test::ProcessResult jb(const fs::path& file, const fs::path& db) const {
        return test::run_joulebench({"run", file.string(), "--db", db.string(), "--interval", "20"},
                                    options());
    }
    static std::string environments() {
        return fmt::format(R"([[environment]]
name = "docker"
type = "docker"
image = "{0}"
run_args = ["--network", "none"]

[[environment]]
name = "podman"
type = "podman"
image = "{0}"
run_args = ["--network", "none"]
)",
                           kBusyboxImage);
    }

    TempDir m_dir{"jb-ctr-cli"};
    std::unique_ptr<EngineUnderTest> m_docker;
    std::unique_ptr<EngineUnderTest> m_podman;
    std::unique_ptr<test::FakePowercapTree> m_powercap;
};

TEST_F(ContainerRunCli, RunsInDockerAndPodmanWithPhasesFailuresAndATimeoutAndLeavesNothing) {
    const fs::path file = m_dir.path() / "experiment.toml";
    const fs::path db = m_dir.path() / "results.db";
    test::write_file(file, R"([experiment]
name = "containers"
repetitions = 1
order = "interleaved"

[[workload]]
name = "ok"
command = ["sh", "-c", "echo fine; echo JOULEBENCH_MARK begin nap; sleep 0.3; echo JOULEBENCH_MARK end nap; echo begin tail > $JOULEBENCH_MARKS; echo end tail >> $JOULEBENCH_MARKS"]

[[workload]]
name = "bad"
command = ["sh", "-c", "echo 'it went wrong' >&2; exit 4"]

[[workload]]
name = "slow"
command = ["sleep", "30"]
timeout = "500ms"

)" + environments());
    const auto r = jb(file, db);
    EXPECT_EQ(r.exit_code, 1) << r.err;  // failures make the exit status 1
    ASSERT_TRUE(fs::exists(db)) << r.err;
    std::map<std::pair<std::string, std::string>, RunRecord> runs;
    for (auto& run : Store(db, Store::Mode::kReadOnly).runs())
        runs[{run.workload, run.environment}] = run;
    ASSERT_EQ(runs.size(), 6U) << r.err;
    for (const std::string env : {"docker", "podman"}) {
        SCOPED_TRACE(env);
        const RunRecord& ok = runs[{"ok", env}];
        EXPECT_EQ(ok.status, RunStatus::kDone) << ok.stderr_tail;
        EXPECT_EQ(ok.exit_code, 0);
        ASSERT_TRUE(ok.energy_j.has_value());
        EXPECT_GT(*ok.energy_j, 0.0);  // the fake package draws 20 W during the 0.3 s sleep
        ASSERT_TRUE(ok.wall_s.has_value());
        EXPECT_GE(*ok.wall_s, 0.3);
        // Container start-up is stored apart from the run, phase by phase.
        const auto phases = nlohmann::json::parse(ok.phases_json.empty() ? "[]" : ok.phases_json);
        std::set<std::string> names;
        for (const auto& p : phases) {
            names.insert(p["name"].get<std::string>());
            EXPECT_GT(p["wall_s"].get<double>(), 0.0) << p.dump();
        }
        EXPECT_EQ(names, (std::set<std::string>{"container-create", "container-start",
                                                "container-remove"}))
            << "phases_json: " << ok.phases_json;
        // The workload's marks from inside the container: stdout through the engine's client,
        // $JOULEBENCH_MARKS the host's FIFO mounted in it.
        const auto marked = Store(db, Store::Mode::kReadOnly).marked_phases(ok.run_id);
        ASSERT_EQ(marked.size(), 2U) << ok.warnings_json;
        EXPECT_EQ(marked[0].phase.name, "nap");
        EXPECT_EQ(marked[1].phase.name, "tail");
        EXPECT_GE(marked[0].phase.wall_s, 0.25);
        ASSERT_TRUE(marked[0].phase.energy_j.has_value());
        EXPECT_GT(*marked[0].phase.energy_j, 0.0);  // the fake package draws 20 W
        EXPECT_FALSE(marked[1].phase.ended_by_run);

        const RunRecord& bad = runs[{"bad", env}];
        EXPECT_EQ(bad.status, RunStatus::kFailed);
        EXPECT_EQ(bad.exit_code, 4);
        EXPECT_THAT(bad.stderr_tail, HasSubstr("it went wrong"));

        const RunRecord& slow = runs[{"slow", env}];
        EXPECT_EQ(slow.status, RunStatus::kTimeout);
        EXPECT_EQ(slow.signal, SIGTERM);
    }
    EXPECT_TRUE(m_docker->containers().empty());
    EXPECT_TRUE(m_podman->containers().empty());
    // The container runs export like any other.
    const auto exported = test::run_joulebench({"export", db.string(), "--format", "json"});
    EXPECT_EQ(exported.exit_code, 0) << exported.err;
    EXPECT_EQ(nlohmann::json::parse(exported.out)["runs"].size(), 6U);
    // Each phase's time is summed as start-up, apart from the run's own wall time.
    for (const auto& row : nlohmann::json::parse(exported.out)["runs"]) {
        EXPECT_GT(row["startup_wall_s"].get<double>(), 0.0) << row.dump();
        EXPECT_EQ(row["phases"].size(), 3U) << row.dump();
    }
    // Every run of a container environment has its image's audit in the session.
    const Store store(db, Store::Mode::kReadOnly);
    const auto sessions = store.sessions();
    ASSERT_EQ(sessions.size(), 1U);
    const auto host = nlohmann::json::parse(sessions[0].host_json);
    for (const std::string env : {"docker", "podman"}) {
        EXPECT_EQ(host["environments"][env]["engine"], env) << host.dump();
        EXPECT_FALSE(host["environments"][env]["audit"]["layers"].empty()) << host.dump();
    }
}

TEST_F(ContainerRunCli, AMissingImageIsRefusedBeforeTheFirstRunWithFileAndLine) {
    const fs::path file = m_dir.path() / "experiment.toml";
    const fs::path log = m_dir.path() / "ran";
    test::write_file(file, fmt::format(R"([experiment]
name = "missing"
repetitions = 1

[[workload]]
name = "w"
command = ["sh", "-c", "echo ran >> {}"]

[[environment]]
name = "bare"
type = "bare"

[[environment]]
name = "docker"
type = "docker"
image = "joulebench-not-pulled:1"
)",
                                       log.string()));
    const auto r = jb(file, m_dir.path() / "results.db");
    EXPECT_NE(r.exit_code, 0);
    EXPECT_THAT(r.err, HasSubstr("experiment.toml:13: environment 'docker': image "
                                 "'joulebench-not-pulled:1' is not in docker's local store"));
    EXPECT_THAT(r.err, HasSubstr("pull"));
    EXPECT_FALSE(fs::exists(log)) << "no run may start (not even the bare one)";
}

TEST_F(ContainerRunCli, SigkillOfJoulebenchEndsTheWorkloadAndTheNextRunRemovesTheContainer) {
    const fs::path file = m_dir.path() / "experiment.toml";
    test::write_file(file, fmt::format(R"([experiment]
name = "killed"
repetitions = 1

[[workload]]
name = "long"
command = ["sleep", "300"]

[[environment]]
name = "docker"
type = "docker"
image = "{}"
run_args = ["--network", "none"]
)",
                                       kBusyboxImage));
    test::ChildProcess child({test::joulebench_binary(), "run", file.string(), "--db",
                              (m_dir.path() / "a.db").string(), "--interval", "20"},
                             options());
    ASSERT_TRUE(eventually([&] { return !m_docker->containers(true).empty(); }))
        << child.err_so_far();
    // Let the workload start (the container runs joulebench-hold before it).
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
    child.send(SIGKILL);
    EXPECT_EQ(child.wait().signal, SIGKILL);
    // joulebench-hold sees joulebench's socket close and ends the workload: the container stops.
    EXPECT_TRUE(eventually([&] { return m_docker->containers(true).empty(); }))
        << "the container still runs after joulebench was killed";
    const auto left = m_docker->containers();
    ASSERT_EQ(left.size(), 1U) << "the killed joulebench could not remove its container";

    // The next run of a docker environment on this machine removes it.
    const fs::path next = m_dir.path() / "next.toml";
    test::write_file(next, fmt::format(R"([experiment]
name = "next"
repetitions = 1

[[workload]]
name = "quick"
command = ["true"]

[[environment]]
name = "docker"
type = "docker"
image = "{}"
run_args = ["--network", "none"]
)",
                                       kBusyboxImage));
    const auto r = jb(next, m_dir.path() / "b.db");
    EXPECT_EQ(r.exit_code, 0) << r.err;
    EXPECT_TRUE(m_docker->containers().empty());
}

}  // namespace
}  // namespace joulebench::testing
