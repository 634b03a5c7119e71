// The ssh environment against a real sshd on localhost (tests/fakes/sshd_server.hpp): the remote
// side is the real joulebench binary under `joulebench measure`, reading the fake powercap tree
// and the fake NVML that sshd's SetEnv points its sessions at. Real processes, real signals; the
// tests look at the remote processes through /proc (the "remote" host is this machine).

#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>

#include <atomic>
#include <cmath>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <thread>

#include "environments/ssh_environment.hpp"
#include "common/shell_words.hpp"
#include "fakes/fake_nvml_builder.hpp"
#include "fakes/fake_powercap_builder.hpp"
#include "fakes/sshd_server.hpp"
#include "fakes/test_support.hpp"
#include "joulebench/error.hpp"
#include "joulebench/store.hpp"

namespace joulebench::environments {
namespace {

namespace fs = std::filesystem;
using test::eventually;
using test::read_file;
using ::testing::HasSubstr;

// Running, not a zombie.
bool alive(pid_t pid) {
    std::string stat;
    try {
        stat = read_file(fs::path("/proc") / std::to_string(pid) / "stat");
    } catch (...) {
        return false;
    }
    const auto paren = stat.rfind(')');
    return paren != std::string::npos && paren + 2 < stat.size() && stat[paren + 2] != 'Z';
}

// Live processes whose command line contains `needle`.
std::vector<pid_t> processes_with(const std::string& needle) {
    std::vector<pid_t> out;
    for (const auto& e : fs::directory_iterator("/proc")) {
        const std::string name = e.path().filename().string();
        if (name.empty() || name[0] < '0' || name[0] > '9') continue;
        std::string cmdline;
        try {
            cmdline = read_file(e.path() / "cmdline");
        } catch (...) {
            continue;
        }
        if (cmdline.find(needle) != std::string::npos && alive(std::stoi(name))) {
            out.push_back(std::stoi(name));
        }
    }
    return out;
}

class SshRun : public ::testing::Test {
protected:
    void SetUp() override {
        if (const auto reason = testing::SshdServer::unavailable_reason()) {
            GTEST_SKIP() << "no sshd here: " << *reason;
        }
        m_tree = std::make_unique<test::FakePowercapTree>(m_dir.path() / "powercap");
        m_tree->add_typical_socket(0, 60.0, 30.0, 6.0);
        m_tree->set_gate(m_gate);
        m_tree->start();
        m_nvml = std::make_unique<test::FakeNvmlState>(m_dir.path() / "nvml.json", 1);
        m_sshd =
            std::make_unique<testing::SshdServer>(std::vector<std::pair<std::string, std::string>>{
                {"JOULEBENCH_POWERCAP_ROOT", m_tree->root().string()},
                {"JOULEBENCH_NVML_LIBRARY", test::FakeNvmlEnvironment::library_path()},
                {"JOULEBENCH_FAKE_NVML_STATE", m_nvml->path().string()},
                {"JOULEBENCH_STATE_DIR", (m_dir.path() / "remote-state").string()}});
    }
    void TearDown() override {
        if (m_tree) m_tree->stop();
    }

    EnvironmentSpec spec() const {
        EnvironmentSpec s;
        s.name = "vm";
        s.type = EnvironmentType::kSsh;
        s.host = m_sshd->host();
        s.port = m_sshd->port();
        s.user = m_sshd->user();
        s.identity_file = m_sshd->identity_file().string();
        s.remote_joulebench = test::joulebench_binary();
        s.ssh_options = m_sshd->client_options();
        s.where = SourceLocation{"exp.toml", 7, 1};
        return s;
    }

    WorkloadInstance instance(std::vector<std::string> command) const {
        WorkloadInstance i;
        i.run_id = "0123456789abcdef";
        i.command = std::move(command);
        i.env = {{"JOULEBENCH_RUN_ID", i.run_id}, {"CUDA_DEVICE_ORDER", "PCI_BUS_ID"}};
        i.stdout_file = m_dir.path() / "run.stdout";
        i.stderr_file = m_dir.path() / "run.stderr";
        i.timeout = std::chrono::seconds(60);
        i.kill_grace = std::chrono::milliseconds(1000);
        return i;
    }

    static WorkloadSpec workload(std::vector<std::string> command) {
        WorkloadSpec w;
        w.name = "w";
        w.command = std::move(command);
        w.where = SourceLocation{"exp.toml", 3, 1};
        return w;
    }

    test::TempDir m_dir{"joulebench-ssh-run"};
    fs::path m_gate = m_dir.path() / "gate";
    std::unique_ptr<test::FakePowercapTree> m_tree;
    std::unique_ptr<test::FakeNvmlState> m_nvml;
    std::unique_ptr<testing::SshdServer> m_sshd;
};

// A python workload: opens the fake counters' gate, sleeps, closes it, prints what it was given.
std::vector<std::string> gated_python(const fs::path& gate, const std::string& extra_output) {
    // A JSON string literal is a valid Python string literal (for this ASCII text).
    const std::string gate_literal = nlohmann::json(gate.string()).dump();
    return {"/usr/bin/python3",
            "-c",
            "import os, sys, time, json\n"
            "open(" +
                gate_literal +
                ", 'w').close()\n"
                "time.sleep(0.5)\n"
                "os.remove(" +
                gate_literal +
                ")\n"
                "sys.stderr.write('to stderr\\n')\n"
                "sys.stdout.write(" +
                nlohmann::json(extra_output).dump() +
                ")\n"
                "print(json.dumps({'run': os.environ.get('JOULEBENCH_RUN_ID'), 'argv': "
                "sys.argv[1:]}))\n",
            "it's",
            "$HOME",
            "a b",
            ""};
}

TEST_F(SshRun, MeasuresRemotelyAndKeepsTheWorkloadOutputExact) {
    SshEnvironment env(spec());
    ASSERT_TRUE(env.measures_itself());
    // Output that looks like the protocol, with another nonce, must pass through untouched.
    const std::string extra = "@joulebench-ssh:00000000000000000000000000000000:end:0:2\n{}\n";
    auto inst = instance(gated_python(m_gate, extra));
    const InstanceResult r = env.execute(inst, nullptr);
    ASSERT_EQ(r.end, InstanceResult::End::kExited) << r.start_error;
    EXPECT_EQ(r.exit_code, 0) << read_file(inst.stderr_file);
    ASSERT_TRUE(r.measured.has_value()) << read_file(inst.stderr_file);
    EXPECT_TRUE(r.warnings.empty()) << r.warnings.front();
    EXPECT_EQ(r.measured->command, inst.command);
    EXPECT_EQ(read_file(inst.stdout_file),
              extra + R"({"run": "0123456789abcdef", "argv": ["it's", "$HOME", "a b", ""]})"
                      "\n");
    EXPECT_EQ(read_file(inst.stderr_file), "to stderr\n");
    // The energy is the remote measurement of the fake counters (they advance only while the
    // workload holds the gate open, so the measurement must find exactly that).
    const DomainResult* pkg = nullptr;
    for (const auto& d : r.measured->domains) {
        if (d.info.id == "package0") pkg = &d;
    }
    ASSERT_NE(pkg, nullptr);
    const double truth = m_tree->consumed_j("intel-rapl:0");
    ASSERT_GT(truth, 15.0);  // about 60 W for about 0.5 s
    EXPECT_NEAR(pkg->energy_j, truth, truth * 0.005);
    ASSERT_EQ(r.measured->gpus.size(), 1U);  // the fake NVML's GPU, remotely
    EXPECT_GT(r.measured->total_energy_j, pkg->energy_j);
    EXPECT_DOUBLE_EQ(r.cpu_user_s, r.measured->cpu_user_s);
    EXPECT_DOUBLE_EQ(r.started_at, r.measured->started_at);
    // Nothing of the run is left remotely (the remote script's watcher, whose command line
    // holds the run id, ends a grace after the result came back).
    EXPECT_TRUE(eventually([&] { return processes_with(inst.run_id).empty(); }));
}

TEST_F(SshRun, TheRemoteMeasureSamplesAtTheRunsInterval) {
    SshEnvironment env(spec());
    std::map<int, std::uint64_t> rows;
    for (const int ms : {20, 250}) {
        auto inst = instance({"/bin/sh", "-c", "sleep 1"});
        inst.interval = std::chrono::milliseconds(ms);
        const InstanceResult r = env.execute(inst, nullptr);
        ASSERT_EQ(r.exit_code, 0) << read_file(inst.stderr_file);
        ASSERT_TRUE(r.measured.has_value()) << read_file(inst.stderr_file);
        EXPECT_EQ(r.measured->interval_ms, ms);
        // Trace rows: the first reading, one per interval deadline, the last reading; never
        // more (a late sampler drops rows, it does not add any).
        EXPECT_LE(static_cast<double>(r.measured->samples),
                  std::floor(r.measured->wall_s * 1000.0 / ms) + 3.0)
            << ms;
        rows[ms] = r.measured->samples;
    }
    // About 52 rows against about 6 over the same second on an idle machine; a loaded one drops
    // late rows (12 against 6 seen with CI builds beside it), so only the order is asserted.
    EXPECT_GT(rows[20], rows[250]) << rows[20] << " vs " << rows[250];
}

TEST_F(SshRun, AFailingCommandIsAFailedRunWithItsStatusAndMeasurement) {
    SshEnvironment env(spec());
    auto inst = instance({"/bin/sh", "-c", "echo partial; echo oops >&2; exit 3"});
    const InstanceResult r = env.execute(inst, nullptr);
    EXPECT_EQ(r.end, InstanceResult::End::kExited);
    EXPECT_EQ(r.exit_code, 3);
    ASSERT_TRUE(r.measured.has_value());
    EXPECT_EQ(r.measured->exit_code, 3);
    EXPECT_EQ(read_file(inst.stdout_file), "partial\n");
    EXPECT_EQ(read_file(inst.stderr_file), "oops\n");
}

TEST_F(SshRun, ACommandMissingRemotelyIsRefusedByValidateAndNotStartedByExecute) {
    SshEnvironment env(spec());
    EXPECT_NO_THROW(env.validate(workload({"/bin/true"})));
    EXPECT_NO_THROW(env.validate(workload({"sh", "-c", "true"})));
    try {
        env.validate(workload({"no-such-command-8d1f"}));
        FAIL() << "no error";
    } catch (const Error& e) {
        EXPECT_EQ(e.category(), ErrorCategory::kNotFound);
        EXPECT_THAT(e.what(), HasSubstr("run: exp.toml:3: workload 'w': command "
                                        "'no-such-command-8d1f' not found on "));
        EXPECT_THAT(e.what(), HasSubstr("127.0.0.1"));
    }
    auto inst = instance({"no-such-command-8d1f"});
    const InstanceResult r = env.execute(inst, nullptr);
    EXPECT_EQ(r.end, InstanceResult::End::kNotStarted);
    EXPECT_THAT(r.start_error, HasSubstr("without a measurement"));
    EXPECT_THAT(r.start_error, HasSubstr("command not found"));
    EXPECT_FALSE(r.measured.has_value());
}

TEST_F(SshRun, ATimeoutEndsTheRemoteWorkloadAndWhatItLeftBehind) {
    SshEnvironment env(spec());
    const fs::path pid_file = m_dir.path() / "pid";
    const fs::path stubborn_file = m_dir.path() / "stubborn";
    // The workload starts a child that ignores SIGTERM, then sleeps; both carry a marker.
    auto inst = instance(
        {"/bin/sh", "-c",
         fmt::format("(trap '' TERM; echo $(exec sh -c 'echo $PPID') > {}; exec sleep 301) & "
                     "echo $$ > {}; exec sleep 302",
                     stubborn_file.string(), pid_file.string())});
    // The timeout starts locally, before ssh connects and the remote measure starts (well over
    // a second on a loaded machine): long enough for the workload to have started by then.
    inst.timeout = std::chrono::seconds(6);
    const InstanceResult r = env.execute(inst, nullptr);
    EXPECT_EQ(r.end, InstanceResult::End::kTimedOut);
    ASSERT_TRUE(fs::exists(pid_file));
    const pid_t workload = std::stoi(read_file(pid_file));
    const pid_t stubborn = std::stoi(read_file(stubborn_file));
    // The remote measure got SIGTERM, ended the workload and still sent its measurement.
    ASSERT_TRUE(r.measured.has_value()) << read_file(inst.stderr_file);
    EXPECT_EQ(r.measured->signal, SIGTERM);
    EXPECT_TRUE(eventually([&] { return !alive(workload) && !alive(stubborn); }))
        << "remote processes left: " << processes_with("sleep 30").size();
    EXPECT_TRUE(eventually([&] {
        return processes_with("sleep 301").empty() && processes_with("sleep 302").empty();
    }));
}

TEST_F(SshRun, TheStopFlagInterruptsTheRemoteWorkload) {
    SshEnvironment env(spec());
    const fs::path pid_file = m_dir.path() / "pid";
    auto inst = instance({"/bin/sh", "-c", "echo $$ > " + pid_file.string() + "; exec sleep 303"});
    std::atomic<bool> stop{false};
    inst.stop = &stop;
    std::thread stopper([&] {
        eventually([&] { return fs::exists(pid_file); });
        stop = true;
    });
    const InstanceResult r = env.execute(inst, nullptr);
    stopper.join();
    EXPECT_EQ(r.end, InstanceResult::End::kInterrupted);
    const pid_t workload = std::stoi(read_file(pid_file));
    EXPECT_TRUE(eventually([&] { return !alive(workload); }));
    // The remote script's own command line holds the text too; it is gone a grace later.
    EXPECT_TRUE(eventually([] { return processes_with("sleep 303").empty(); }));
}

TEST_F(SshRun, AnUnreachableHostIsRefusedWithFileLineHostAndSshsMessage) {
    EnvironmentSpec s = spec();
    // sshd is stopped: nothing listens on its port any more.
    m_sshd.reset();
    SshEnvironment env(s);
    try {
        env.validate(workload({"/bin/true"}));
        FAIL() << "no error";
    } catch (const Error& e) {
        const std::string what = e.what();
        EXPECT_THAT(what, HasSubstr("run: exp.toml:7: environment 'vm': ssh to "));
        EXPECT_THAT(what, HasSubstr("127.0.0.1"));
        EXPECT_THAT(what, HasSubstr("Connection refused"));
        EXPECT_THAT(e.hint(), HasSubstr("BatchMode=yes"));
        // The hint's command can be pasted: every word quoted where a shell would change it.
        EXPECT_THAT(e.hint(), HasSubstr("-i " + shell_word(s.identity_file)));
    }
    auto inst = instance({"/bin/true"});
    const InstanceResult r = env.execute(inst, nullptr);
    EXPECT_EQ(r.end, InstanceResult::End::kNotStarted);
    EXPECT_EQ(r.exit_code, 255);
    EXPECT_THAT(r.start_error, HasSubstr("connection failed"));
    EXPECT_THAT(r.start_error, HasSubstr("Connection refused"));
    ASSERT_FALSE(r.warnings.empty());
    EXPECT_THAT(r.warnings.back().text, HasSubstr("not a workload failure"));
    EXPECT_THAT(read_file(inst.stderr_file), HasSubstr("joulebench: ssh: connection failed"));
}

TEST_F(SshRun, AMissingRemoteJoulebenchIsNamed) {
    EnvironmentSpec s = spec();
    s.remote_joulebench = "/nonexistent/joulebench";
    SshEnvironment env(s);
    try {
        env.validate(workload({"/bin/true"}));
        FAIL() << "no error";
    } catch (const Error& e) {
        EXPECT_EQ(e.category(), ErrorCategory::kNotFound);
        EXPECT_THAT(e.what(),
                    HasSubstr("environment 'vm': remote joulebench '/nonexistent/joulebench' not "
                              "found on "));
    }
}

TEST_F(SshRun, CapsAreSetAndRestoredRemotely) {
    SshEnvironment env(spec());
    auto inst = instance({"/bin/sh", "-c", "sleep 0.2"});
    inst.gpu = 0;
    inst.gpu_cap_w = 150;
    inst.cpu_cap_w = 40;
    inst.env.emplace_back("CUDA_VISIBLE_DEVICES", "0");
    const auto limit_uw = [&] {
        return read_file(m_tree->root() / "intel-rapl:0" / "constraint_0_power_limit_uw");
    };
    const std::string cpu_before = limit_uw();
    const InstanceResult r = env.execute(inst, nullptr);
    ASSERT_EQ(r.exit_code, 0) << read_file(inst.stderr_file);
    ASSERT_TRUE(r.measured.has_value());
    ASSERT_EQ(r.measured->power_caps.size(), 2U) << read_file(inst.stderr_file);
    const auto& gpu_cap = r.measured->power_caps[0].kind == "gpu" ? r.measured->power_caps[0]
                                                                  : r.measured->power_caps[1];
    const auto& cpu_cap = r.measured->power_caps[0].kind == "gpu" ? r.measured->power_caps[1]
                                                                  : r.measured->power_caps[0];
    EXPECT_EQ(gpu_cap.requested_w, 150.0);
    EXPECT_EQ(gpu_cap.enforced_w, 150.0);
    EXPECT_EQ(gpu_cap.original_w, 400.0);
    EXPECT_TRUE(gpu_cap.restored);
    EXPECT_EQ(cpu_cap.requested_w, 40.0);
    EXPECT_TRUE(cpu_cap.restored);
    // Restored on the fake devices themselves, and the fake GPU saw the cap, then the original.
    EXPECT_EQ(m_nvml->limits(0).current_mw, 400000U);
    EXPECT_EQ(limit_uw(), cpu_before);
    std::vector<std::uint64_t> set_values;
    for (const auto& c : m_nvml->calls()) {
        if (c.function == "nvmlDeviceSetPowerManagementLimit") set_values.push_back(c.value);
    }
    EXPECT_EQ(set_values, (std::vector<std::uint64_t>{150000, 400000}));
    ASSERT_EQ(r.measured->gpus.size(), 1U);
    EXPECT_EQ(r.measured->gpus[0].index, 0);
}

TEST_F(SshRun, ValidateAndPrepareDescribeTheRemoteHost) {
    SshEnvironment env(spec());
    env.validate(workload({"/bin/true"}));
    env.prepare();
    const auto d = nlohmann::json::parse(env.describe());
    EXPECT_EQ(d["type"], "ssh");
    EXPECT_EQ(d["host"], "127.0.0.1");
    EXPECT_EQ(d["port"], m_sshd->port());
    EXPECT_THAT(d["remote_version"].get<std::string>(), HasSubstr("joulebench "));
    EXPECT_THAT(d["remote_uname"].get<std::string>(), HasSubstr("Linux"));
    std::vector<std::string> ids;
    for (const auto& s : d["remote_sensors"]) ids.push_back(s["id"]);
    EXPECT_THAT(ids, ::testing::IsSupersetOf({"gpu0", "package0", "dram0"}));
}

TEST_F(SshRun, LargeOutputComesThroughByteForByte) {
    SshEnvironment env(spec());
    auto inst =
        instance({"/usr/bin/python3", "-c",
                  "import sys\n"
                  "for i in range(60000): sys.stdout.write('%06d ' % i + 'x' * 50 + '\\n')\n"
                  "sys.stdout.write('no final newline')"});
    const InstanceResult r = env.execute(inst, nullptr);
    ASSERT_EQ(r.exit_code, 0) << read_file(inst.stderr_file);
    ASSERT_TRUE(r.measured.has_value());
    std::string expected;
    for (int i = 0; i < 60000; ++i) expected += fmt::format("{:06d} {}\n", i, std::string(50, 'x'));
    expected += "no final newline";
    const std::string got = read_file(inst.stdout_file);
    EXPECT_EQ(got.size(), expected.size());
    EXPECT_TRUE(got == expected);
}

// ---------------------------------------------------------------------------------------------
// `joulebench run` end to end with an ssh environment (the runner takes the measurement from the
// environment and sets no local caps for it).

class SshRunCli : public SshRun {
protected:
    test::ProcessOptions options() const {
        test::ProcessOptions o;
        // Nothing local is measured or capped: no NVML here, an empty powercap root.
        o.env = {{"JOULEBENCH_NVML_LIBRARY", (m_dir.path() / "no-nvml.so").string()},
                 {"JOULEBENCH_POWERCAP_ROOT", (m_dir.path() / "no-powercap").string()},
                 {"JOULEBENCH_STATE_DIR", (m_dir.path() / "local-state").string()}};
        o.timeout = std::chrono::seconds(180);
        return o;
    }
    test::ProcessResult run(const std::string& experiment,
                            const std::vector<std::string>& extra_args = {}) const {
        test::write_file(m_file, experiment);
        std::vector<std::string> argv{"run", m_file.string(), "--db", m_db.string()};
        argv.insert(argv.end(), extra_args.begin(), extra_args.end());
        return test::run_joulebench(argv, options());
    }
    std::vector<RunRecord> runs() const { return Store(m_db, Store::Mode::kReadOnly).runs(); }

    fs::path m_file = m_dir.path() / "experiment.toml";
    fs::path m_db = m_dir.path() / "results.db";
};

TEST_F(SshRunCli, RunsAreMeasuredRemotelyWithCapsMetricsAndFailuresRecorded) {
    const auto r =
        run("[experiment]\nname = \"ssh-e2e\"\nrepetitions = 2\nseed = 5\n\n"
            "[[workload]]\nname = \"ok\"\n"
            "command = [\"/usr/bin/python3\", \"-c\", \"import os, time, json; "
            "print('JOULEBENCH_MARK begin sleep', flush=True); time.sleep(0.2); "
            "print('JOULEBENCH_MARK end sleep', flush=True); "
            "open(os.environ['JOULEBENCH_MARKS'], 'w').write('begin tail\\\\nend tail\\\\n'); "
            "print('noise'); print(json.dumps({'items': 7}))\"]\n"
            "metrics = \"json-line\"\ntimeout = \"60s\"\n\n"
            "[[workload]]\nname = \"fails\"\ncommand = [\"/bin/sh\", \"-c\", \"echo bad >&2; exit "
            "4\"]\n\n" +
            m_sshd->environment_toml("vm", test::joulebench_binary()) +
            "\n[power_caps]\ngpu_w = [150, 200]\n\n[gpus]\ndevices = [0]\n");
    EXPECT_EQ(r.exit_code, 1) << r.err;  // some runs failed (the "fails" workload's)
    const auto all = runs();
    ASSERT_EQ(all.size(), 8U) << r.err;
    unsigned ok = 0;
    unsigned failed = 0;
    for (const auto& run : all) {
        EXPECT_EQ(run.environment, "vm");
        ASSERT_TRUE(run.gpu_cap_w.has_value());
        if (run.workload == "ok") {
            ++ok;
            EXPECT_EQ(run.status, RunStatus::kDone) << run.stderr_tail << run.warnings_json;
            EXPECT_EQ(run.exit_code, 0);
            ASSERT_TRUE(run.gpu_energy_j.has_value()) << run.measure_json;
            EXPECT_GT(*run.gpu_energy_j, 0.0);  // the remote fake GPU draws 100 W
            EXPECT_EQ(nlohmann::json::parse(run.metrics_json), nlohmann::json({{"items", 7}}));
            // The remote measurement is the run's: stored whole, its totals are the run's, and
            // it holds the cap the remote measure set.
            const auto m = nlohmann::json::parse(run.measure_json);
            ASSERT_TRUE(run.energy_j.has_value());
            EXPECT_DOUBLE_EQ(*run.energy_j, m["total_energy_j"].get<double>());
            double remote_gpu_j = 0.0;
            for (const auto& d : m["domains"]) {
                if (d["kind"] == "gpu") remote_gpu_j += d["energy_j"].get<double>();
                EXPECT_EQ(d["measured_on"], "remote") << run.measure_json;
            }
            for (const auto& d : Store(m_db, Store::Mode::kReadOnly).domains(run.run_id)) {
                EXPECT_EQ(d.measured_on, Location::kRemote) << d.domain;
            }
            EXPECT_DOUBLE_EQ(*run.gpu_energy_j, remote_gpu_j);
            ASSERT_TRUE(run.wall_s.has_value());
            EXPECT_DOUBLE_EQ(*run.wall_s, m["wall_s"].get<double>());
            ASSERT_EQ(m["power_caps"].size(), 1U) << run.measure_json;
            EXPECT_EQ(m["power_caps"][0]["requested_w"].get<double>(), *run.gpu_cap_w);
            EXPECT_TRUE(m["power_caps"][0]["restored"].get<bool>());
            // The workload's marks, read by the remote measure, are the run's phases.
            const auto marked = Store(m_db, Store::Mode::kReadOnly).marked_phases(run.run_id);
            ASSERT_EQ(marked.size(), 2U) << run.measure_json;
            EXPECT_EQ(marked[0].phase.name, "sleep");
            EXPECT_EQ(marked[1].phase.name, "tail");
            EXPECT_GE(marked[0].phase.wall_s, 0.2);
            ASSERT_TRUE(marked[0].phase.energy_j.has_value());
            EXPECT_GT(*marked[0].phase.energy_j, 50.0 * marked[0].phase.wall_s);  // 100 W GPU
        } else {
            ++failed;
            EXPECT_EQ(run.status, RunStatus::kFailed);
            EXPECT_EQ(run.exit_code, 4);
            EXPECT_THAT(run.stderr_tail, HasSubstr("bad"));
        }
    }
    EXPECT_EQ(ok, 4U);
    EXPECT_EQ(failed, 4U);
    EXPECT_EQ(m_nvml->limits(0).current_mw, 400000U);  // restored on the remote side
}

TEST_F(SshRunCli, RunsIntervalReachesTheRemoteMeasure) {
    const auto r =
        run("[experiment]\nname = \"ssh-interval\"\nrepetitions = 2\n\n"
            "[[workload]]\nname = \"w\"\ncommand = [\"/bin/sh\", \"-c\", \"sleep 0.5\"]\n\n" +
                m_sshd->environment_toml("vm", test::joulebench_binary()),
            {"--interval", "25"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    const auto all = runs();
    ASSERT_EQ(all.size(), 2U);
    for (const auto& run : all) {
        ASSERT_EQ(run.status, RunStatus::kDone) << run.stderr_tail << run.warnings_json;
        const auto m = nlohmann::json::parse(run.measure_json);
        EXPECT_EQ(m["interval_ms"].get<double>(), 25.0) << run.measure_json;
        EXPECT_GT(m["samples"].get<std::uint64_t>(), 2U);  // more than the first and last rows
    }
}

// The columns a local run's trace has for these domains (store_trace_sink.hpp).
std::vector<std::pair<std::string, std::string>> expected_columns(const nlohmann::json& m) {
    std::vector<std::pair<std::string, std::string>> out;
    for (const auto& d : m["domains"]) {
        out.emplace_back(d["id"], "energy_j");
        out.emplace_back(d["id"], "power_w");
    }
    for (const auto& d : m["domains"]) {
        if (d["kind"] != "gpu") continue;
        for (const char* q : {"utilisation_pct", "temperature_c", "sm_clock_mhz",
                              "throttle_reasons", "enforced_limit_w"}) {
            out.emplace_back(d["id"], q);
        }
    }
    return out;
}

TEST_F(SshRunCli, TheRemoteTraceIsStoredLikeALocalRunsTrace) {
    const auto r = run(
        "[experiment]\nname = \"ssh-trace\"\nrepetitions = 2\n\n"
        "[[workload]]\nname = \"w\"\ncommand = [\"/bin/sh\", \"-c\", \"sleep 0.6\"]\n\n" +
            m_sshd->environment_toml("vm", test::joulebench_binary()) + "\n[gpus]\ndevices = [0]\n",
        {"--interval", "50"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    const auto all = runs();
    ASSERT_EQ(all.size(), 2U);
    const Store store(m_db, Store::Mode::kReadOnly);
    for (const auto& run : all) {
        ASSERT_EQ(run.status, RunStatus::kDone) << run.stderr_tail << run.warnings_json;
        EXPECT_EQ(run.warnings_json.find("trace"), std::string::npos) << run.warnings_json;
        const auto m = nlohmann::json::parse(run.measure_json);
        const Trace trace = store.trace(run.run_id);
        // The same columns as a local run measuring these domains, GPU telemetry included.
        std::vector<std::pair<std::string, std::string>> columns;
        for (const auto& c : trace.columns) columns.emplace_back(c.domain, c.quantity);
        EXPECT_EQ(columns, expected_columns(m));
        EXPECT_THAT(columns, ::testing::Contains(
                                 std::pair<std::string, std::string>("gpu0", "utilisation_pct")));
        EXPECT_THAT(columns, ::testing::Contains(
                                 std::pair<std::string, std::string>("package0", "energy_j")));
        // One row per sample the remote measure counted: at 50 ms over about 0.6 s, the first
        // and last readings and one per interval deadline.
        const auto samples = m["samples"].get<std::size_t>();
        EXPECT_EQ(trace.times_s.size(), samples);
        EXPECT_GE(samples, 3U);
        EXPECT_LE(static_cast<double>(samples),
                  std::floor(m["wall_s"].get<double>() * 1000.0 / 50.0) + 3.0);
        ASSERT_EQ(trace.values.size(), trace.columns.size());
        for (std::size_t i = 1; i < trace.times_s.size(); ++i) {
            EXPECT_GE(trace.times_s[i], trace.times_s[i - 1]);
        }
        // The last row's cumulative energy of each domain is the domain's measured energy (the
        // remote CSV keeps 6 decimals).
        for (const auto& d : m["domains"]) {
            if (d["method"] == "estimated") continue;
            for (std::size_t c = 0; c < trace.columns.size(); ++c) {
                if (trace.columns[c].domain != d["id"] || trace.columns[c].quantity != "energy_j") {
                    continue;
                }
                ASSERT_FALSE(trace.values[c].empty());
                EXPECT_NEAR(trace.values[c].back(), d["energy_j"].get<double>(), 2e-6) << d["id"];
            }
        }
    }
}

// A remote joulebench whose `measure` spoils (or empties) its --samples file after it wrote it.
fs::path spoiling_joulebench(const fs::path& dir, const std::string& how) {
    const fs::path path = dir / ("joulebench-" + how);
    test::write_file(path,
                     "#!/bin/sh\n"
                     "real=" +
                         test::joulebench_binary() +
                         "\n"
                         "case \"$1\" in measure) ;; *) exec \"$real\" \"$@\" ;; esac\n"
                         "\"$real\" \"$@\"\n"
                         "rc=$?\n"
                         "prev=\n"
                         "for a in \"$@\"; do\n"
                         "  if [ \"$prev\" = --samples ]; then " +
                         (how == "malformed" ? std::string("printf '9.5,abc\\n' >> \"$a\"")
                                             : std::string(": > \"$a\"")) +
                         "; fi\n"
                         "  prev=$a\n"
                         "done\n"
                         "exit $rc\n");
    fs::permissions(path, fs::perms::owner_all | fs::perms::group_read | fs::perms::group_exec |
                              fs::perms::others_read | fs::perms::others_exec);
    return path;
}

TEST_F(SshRunCli, AMalformedOrMissingTraceIsAWarningNotAFailure) {
    for (const std::string how : {"malformed", "empty"}) {
        fs::remove(m_db);
        fs::remove_all(m_db.string() + ".logs");
        const fs::path remote = spoiling_joulebench(m_dir.path(), how);
        const auto r = run("[experiment]\nname = \"ssh-bad-trace-" + how +
                           "\"\nrepetitions = 1\n\n"
                           "[[workload]]\nname = \"w\"\ncommand = [\"/bin/sh\", \"-c\", \"sleep "
                           "0.3\"]\n\n" +
                           m_sshd->environment_toml("vm", remote.string()));
        ASSERT_EQ(r.exit_code, 0) << how << ": " << r.err;
        const auto all = runs();
        ASSERT_EQ(all.size(), 1U);
        const auto& run = all[0];
        EXPECT_EQ(run.status, RunStatus::kDone) << run.warnings_json;
        ASSERT_FALSE(run.measure_json.empty());
        const auto samples = nlohmann::json::parse(run.measure_json)["samples"].get<std::size_t>();
        const Trace trace = Store(m_db, Store::Mode::kReadOnly).trace(run.run_id);
        const std::string target = fmt::format("{}@127.0.0.1:{}", m_sshd->user(), m_sshd->port());
        const auto warnings = nlohmann::json::parse(run.warnings_json);
        std::string trace_warning;
        for (const auto& w : warnings) {
            if (w.get<std::string>().find("trace") != std::string::npos) trace_warning = w;
        }
        if (how == "malformed") {
            // The bad line is the one after the header and every sample row; those rows stay.
            EXPECT_THAT(trace_warning,
                        HasSubstr(fmt::format("ssh: the trace from {} is malformed: line "
                                              "{}: 2 fields, the header has ",
                                              target, samples + 2)))
                << run.warnings_json;
            EXPECT_THAT(trace_warning,
                        HasSubstr(fmt::format("the {} rows before it are kept", samples)));
            EXPECT_EQ(trace.times_s.size(), samples);
        } else {
            EXPECT_THAT(trace_warning, HasSubstr("ssh: no trace came back from " + target))
                << run.warnings_json;
            EXPECT_TRUE(trace.times_s.empty());
            EXPECT_TRUE(trace.columns.empty());
        }
    }
}

TEST_F(SshRunCli, ACapOutsideTheRemoteGpusRangeIsRefusedBeforeTheFirstRun) {
    const auto r =
        run("[experiment]\nname = \"ssh-bad-cap\"\nrepetitions = 1\n\n"
            "[[workload]]\nname = \"w\"\ncommand = [\"/bin/true\"]\n\n" +
            m_sshd->environment_toml("vm", test::joulebench_binary()) +
            "\n[power_caps]\ngpu_w = [150, 450]\n\n[gpus]\ndevices = [0]\n");
    EXPECT_EQ(r.exit_code, 2) << r.err;
    // The fake GPU allows 100..400 W.
    EXPECT_THAT(r.err, HasSubstr("environment 'vm': GPU cap 450 W is outside the range of gpu0"));
    EXPECT_THAT(r.err, HasSubstr("[100 W, 400 W]"));
    EXPECT_FALSE(fs::exists(m_db));                    // refused before the store was made
    EXPECT_EQ(m_nvml->limits(0).current_mw, 400000U);  // nothing was set
}

TEST_F(SshRunCli, AllGpusOfARemoteHostMustBeListed) {
    const auto r =
        run("[experiment]\nname = \"ssh-all\"\nrepetitions = 1\n\n"
            "[[workload]]\nname = \"w\"\ncommand = [\"/bin/true\"]\n\n" +
            m_sshd->environment_toml("vm", test::joulebench_binary()) +
            "\n[gpus]\ndevices = \"all\"\n");
    EXPECT_EQ(r.exit_code, 2) << r.err;
    EXPECT_THAT(r.err, HasSubstr("devices = \"all\": every environment runs on another host"));
    EXPECT_THAT(r.err, HasSubstr("list the remote GPUs' indices"));
    EXPECT_FALSE(fs::exists(m_db));
}

TEST_F(SshRunCli, GpuSlotsRunConcurrentlyEachMeasuringItsRemoteGpu) {
    m_nvml->add_gpu();
    const auto r = run(
        "[experiment]\nname = \"ssh-slots\"\nrepetitions = 4\nseed = 2\n\n"
        "[[workload]]\nname = \"w\"\n"
        "command = [\"/usr/bin/python3\", \"-c\", \"import os, time, json; time.sleep(0.3); "
        "print(json.dumps({'cuda': os.environ['CUDA_VISIBLE_DEVICES']}))\"]\n"
        "metrics = \"json-line\"\ntimeout = \"60s\"\n\n" +
        m_sshd->environment_toml("vm", test::joulebench_binary()) + "\n[gpus]\ndevices = [0, 1]\n");
    ASSERT_EQ(r.exit_code, 0) << r.err;
    const auto all = runs();
    ASSERT_EQ(all.size(), 4U);
    std::set<int> gpus;
    for (const auto& run : all) {
        EXPECT_EQ(run.status, RunStatus::kDone) << run.stderr_tail << run.warnings_json;
        ASSERT_TRUE(run.gpu.has_value());
        gpus.insert(*run.gpu);
        EXPECT_EQ(nlohmann::json::parse(run.metrics_json)["cuda"], std::to_string(*run.gpu));
        // The remote measure measured the slot's GPU only.
        const auto m = nlohmann::json::parse(run.measure_json);
        ASSERT_EQ(m["gpus"].size(), 1U) << run.measure_json;
        EXPECT_EQ(m["gpus"][0]["index"], *run.gpu);
    }
    EXPECT_EQ(gpus, (std::set<int>{0, 1}));
}

TEST_F(SshRunCli, RunsOverlappingOnTheRemoteHostSayTheirCpuEnergyIsShared) {
    m_nvml->add_gpu();
    const fs::path marks = m_dir.path() / "marks";
    fs::create_directories(marks);
    // Each run waits until the other slot's run has started: they overlap for certain.
    const std::string wait = fmt::format(
        "touch {0}/$CUDA_VISIBLE_DEVICES; i=0; while [ ! -e {0}/0 ] || [ ! -e {0}/1 ]; do "
        "sleep 0.01; i=$((i+1)); [ $i -lt 3000 ] || exit 9; done; sleep 0.2",
        marks.string());
    const auto r = run(
        "[experiment]\nname = \"ssh-overlap\"\nrepetitions = 2\n\n"
        "[[workload]]\nname = \"w\"\ncommand = [\"/bin/sh\", \"-c\", " +
        nlohmann::json(wait).dump() + "]\ntimeout = \"60s\"\n\n" +
        m_sshd->environment_toml("vm", test::joulebench_binary()) + "\n[gpus]\ndevices = [0, 1]\n");
    ASSERT_EQ(r.exit_code, 0) << r.err;
    const auto all = runs();
    ASSERT_EQ(all.size(), 2U);
    for (const auto& run : all) {
        ASSERT_EQ(run.status, RunStatus::kDone) << run.stderr_tail << run.warnings_json;
        const auto m = nlohmann::json::parse(run.measure_json);
        // The remote package counter measured both runs; without the remote host's busy CPU
        // time no share is known, so the value stays whole and says so.
        std::vector<std::string> warnings = m["warnings"];
        EXPECT_THAT(warnings,
                    ::testing::Contains(HasSubstr("package0: shared: other runs ran at the same "
                                                  "time and the CPU time share is unknown")))
            << run.measure_json;
        EXPECT_THAT(warnings, ::testing::Not(::testing::Contains(HasSubstr(": attributed: "))));
        // dram0 is machine-wide too; the GPUs are each run's own.
        EXPECT_THAT(warnings, ::testing::Contains(HasSubstr("dram0: shared: ")));
        for (const char* gpu : {"gpu0: shared", "gpu1: shared"}) {
            EXPECT_THAT(warnings, ::testing::Not(::testing::Contains(HasSubstr(gpu))));
        }
    }
}

TEST_F(SshRunCli, ATimedOutRunLeavesNoRemoteProcess) {
    const auto r =
        run("[experiment]\nname = \"ssh-timeout\"\nrepetitions = 1\n\n"
            "[[workload]]\nname = \"slow\"\n"
            "command = [\"/bin/sh\", \"-c\", \"sleep 304\"]\ntimeout = \"1s\"\n\n" +
            m_sshd->environment_toml("vm", test::joulebench_binary()));
    const auto all = runs();
    ASSERT_EQ(all.size(), 1U) << r.err;
    EXPECT_EQ(all[0].status, RunStatus::kTimeout) << r.err;
    EXPECT_TRUE(eventually([] { return processes_with("sleep 304").empty(); }));
}

TEST_F(SshRunCli, AnUnreachableHostIsRefusedBeforeTheFirstRun) {
    const std::string environment = m_sshd->environment_toml("vm", test::joulebench_binary());
    m_sshd.reset();
    const auto r =
        run("[experiment]\nname = \"ssh-down\"\nrepetitions = 1\n\n"
            "[[workload]]\nname = \"w\"\ncommand = [\"/bin/true\"]\n\n" +
            environment);
    EXPECT_NE(r.exit_code, 0);
    // The [[environment]] table starts on line 9.
    EXPECT_THAT(r.err, HasSubstr("experiment.toml:9: environment 'vm': ssh to "));
    EXPECT_THAT(r.err, HasSubstr("Connection refused"));
    EXPECT_FALSE(fs::exists(m_db) && !runs().empty() && runs()[0].attempt > 0);
}

}  // namespace
}  // namespace joulebench::environments
