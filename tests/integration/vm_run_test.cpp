// The vm environment end to end: `joulebench run` boots the real test guest of
// scripts/build-test-guest.sh under QEMU's TCG (no KVM needed), with a fake GPU (fake NVML) and a
// fake powercap tree on the host. A bare-vs-vm experiment (the guest's boot is a phase of its
// first run, the host's package and DRAM counters replace the guest's CPU estimate, the workload
// is a script of a folder shared with the guest over 9p), a guest that
// does not boot in time (its runs fail with the console's tail, the experiment goes on), and a
// SIGKILL of `joulebench run` that leaves no QEMU behind.
//
// The guest (debootstrap of a minimal bookworm with sshd and Debian's cloud kernel, about 1 to 2
// minutes) is cached by content hash under ${JOULEBENCH_CACHE_DIR:-/var/cache/joulebench}/
// test-guest/ and built here, once, when it is missing. Without root (debootstrap), debootstrap
// or QEMU the tests skip saying why.

#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <thread>

#include "fakes/fake_nvml_builder.hpp"
#include "fakes/fake_powercap_builder.hpp"
#include "fakes/test_support.hpp"
#include "joulebench/store.hpp"

namespace joulebench {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

fs::path guest_script() {
    return fs::path(JOULEBENCH_SOURCE_DIR) / "scripts" / "build-test-guest.sh";
}

bool on_path(const std::string& program) {
    return test::run_process({"sh", "-c", "command -v " + program}).exit_code == 0;
}

// The cached test guest's folder, built when missing; empty with `skip` set when it cannot be.
fs::path test_guest(std::string& skip) {
    static std::string s_skip;
    static const fs::path s_dir = [] {
        if (::geteuid() != 0) {
            s_skip = "building the test guest needs root (debootstrap)";
            return fs::path();
        }
        for (const char* tool : {"qemu-system-x86_64", "debootstrap", "mke2fs", "ssh", "scp"}) {
            if (!on_path(tool)) {
                s_skip = fmt::format("{} is not installed (make deps)", tool);
                return fs::path();
            }
        }
        test::ProcessOptions options;
        options.timeout = std::chrono::seconds(1200);
        const auto r = test::run_process({guest_script().string()}, options);
        if (r.exit_code != 0) {
            s_skip = "scripts/build-test-guest.sh failed: " + r.err;
            return fs::path();
        }
        // The folder is the last line (anything the script's tools printed comes before it).
        std::string dir = r.out;
        while (!dir.empty() && dir.back() == '\n') dir.pop_back();
        dir = dir.substr(dir.rfind('\n') == std::string::npos ? 0 : dir.rfind('\n') + 1);
        return fs::path(dir);
    }();
    skip = s_skip;
    return s_dir;
}

// Live processes whose command line contains `needle` (QEMU's holds the session's log folder).
std::vector<pid_t> processes_with(const std::string& needle) {
    std::vector<pid_t> out;
    for (const auto& e : fs::directory_iterator("/proc")) {
        const std::string name = e.path().filename().string();
        if (name.find_first_not_of("0123456789") != std::string::npos) continue;
        std::string cmdline;
        std::string stat;
        try {
            cmdline = test::read_file(e.path() / "cmdline");
            stat = test::read_file(e.path() / "stat");
        } catch (...) {
            continue;
        }
        const auto paren = stat.rfind(')');
        const bool zombie =
            paren != std::string::npos && paren + 2 < stat.size() && stat[paren + 2] == 'Z';
        if (!zombie && cmdline.find(needle) != std::string::npos && std::stoi(name) != ::getpid()) {
            out.push_back(std::stoi(name));
        }
    }
    return out;
}

class VmRunCli : public ::testing::Test {
protected:
    void SetUp() override {
        std::string skip;
        m_guest = test_guest(skip);
        if (m_guest.empty()) GTEST_SKIP() << skip;
        m_powercap = std::make_unique<test::FakePowercapTree>(m_dir.path() / "powercap");
        m_powercap->add_typical_socket(0, 20.0, 12.0, 3.0);
        m_powercap->start();
        m_nvml = std::make_unique<test::FakeNvmlState>(m_dir.path() / "nvml.json", 1);
    }

    test::ProcessOptions options() const {
        test::ProcessOptions o;
        o.env = {{"JOULEBENCH_POWERCAP_ROOT", m_powercap->root().string()},
                 {"JOULEBENCH_NVML_LIBRARY", JOULEBENCH_FAKE_NVML_PATH},
                 {"JOULEBENCH_FAKE_NVML_STATE", m_nvml->path().string()},
                 {"JOULEBENCH_STATE_DIR", (m_dir.path() / "state").string()}};
        o.timeout = std::chrono::seconds(600);
        return o;
    }

    // The test guest as an [[environment]] (guest.toml of the script, with these extra keys).
    std::string vm_environment(const std::string& name, const std::string& extra) const {
        return fmt::format(R"([[environment]]
name = "{0}"
type = "vm"
image = "{1}/rootfs.img"
kernel = "{1}/vmlinuz"
initrd = "{1}/initrd.img"
append = "root=/dev/vda rw console=ttyS0"
accel = "tcg"
cpus = 1
memory = "512M"
user = "bench"
identity_file = "{1}/id_ed25519"
{2}
)",
                           name, m_guest.string(), extra);
    }

    test::TempDir m_dir{"jb-vm-cli"};
    fs::path m_guest;
    std::unique_ptr<test::FakePowercapTree> m_powercap;
    std::unique_ptr<test::FakeNvmlState> m_nvml;
};

std::map<std::string, DomainRecord> domains_of(const Store& store, const std::string& run_id) {
    std::map<std::string, DomainRecord> out;
    for (auto& d : store.domains(run_id)) out[d.domain] = d;
    return out;
}

TEST_F(VmRunCli, BareVsVmBootsOnceMeasuresHostCpuAndStopsTheGuest) {
    const fs::path file = m_dir.path() / "experiment.toml";
    const fs::path db = m_dir.path() / "results.db";
    test::write_file(file, R"([experiment]
name = "bare-vs-vm"
repetitions = 2
order = "interleaved"

[[workload]]
name = "hello"
command = ["sh", "wl/hello.sh"]

# The guest's joulebench measures a fake GPU too: the fake NVML of a shared folder (the
# variables reach the remote measure as they reach the workload).
[workload.env]
JOULEBENCH_NVML_LIBRARY = "fake/libnvidia-ml.so.1"
JOULEBENCH_FAKE_NVML_STATE = "fake/nvml.json"

[[environment]]
name = "bare"
type = "bare"

)" + vm_environment("vm", "boot_timeout = \"4m\"\nshare = [\"wl\", \"fake\"]"));
    fs::create_directories(m_dir.path() / "fake");
    fs::copy_file(JOULEBENCH_FAKE_NVML_PATH, m_dir.path() / "fake" / "libnvidia-ml.so.1");
    // The guest's clock is not the host's: its fake GPU's counter starts when it is loaded.
    test::FakeNvmlState(m_dir.path() / "fake" / "nvml.json", 1).update([](nlohmann::json& doc) {
        for (auto& gpu : doc["gpus"]) gpu.erase("energy_anchor_ns");
    });
    // The workload is a file of a shared folder: the guest sees it at the same relative path.
    fs::create_directories(m_dir.path() / "wl");
    // It marks its sleep on standard output and a phase of its own through $JOULEBENCH_MARKS:
    // in the guest, the guest's joulebench measure reads them (README "Markers").
    test::write_file(m_dir.path() / "wl" / "hello.sh",
                     "echo hello from $(uname -n)\necho JOULEBENCH_MARK begin sleep\nsleep 1\n"
                     "echo JOULEBENCH_MARK end sleep\necho begin after > \"$JOULEBENCH_MARKS\"\n"
                     "echo end after >> \"$JOULEBENCH_MARKS\"\n");
    auto o = options();
    o.cwd = m_dir.path();
    const auto r =
        test::run_joulebench({"run", file.string(), "--db", db.string(), "--interval", "50"}, o);
    EXPECT_EQ(r.exit_code, 0) << r.err;
    const Store store(db, Store::Mode::kReadOnly);
    std::vector<RunRecord> vm_runs;
    for (auto& run : store.runs()) {
        SCOPED_TRACE(run.environment + " " + run.run_id);
        EXPECT_EQ(run.status, RunStatus::kDone) << run.stderr_tail;
        const auto domains = domains_of(store, run.run_id);
        // The host's package is a counter in both environments (the fake powercap tree).
        ASSERT_EQ(domains.count("package0"), 1U);
        EXPECT_EQ(domains.at("package0").method, "counter");
        EXPECT_GT(domains.at("package0").energy_j, 0.0);
        EXPECT_EQ(domains.at("package0").measured_on, Location::kHost);
        EXPECT_EQ(domains.count("cpu-estimated"), 0U) << "the host counter replaces the estimate";
        // The GPU: the host's fake for bare runs, the guest's own for vm runs.
        ASSERT_EQ(domains.count("gpu0"), 1U);
        EXPECT_GT(domains.at("gpu0").energy_j, 0.0);
        EXPECT_EQ(domains.at("gpu0").measured_on,
                  run.environment == "vm" ? Location::kGuest : Location::kHost);
        if (run.environment == "vm") vm_runs.push_back(run);
        // The workload's marks, in the guest as on the host: the sleep with its GPU's energy.
        const auto marked = store.marked_phases(run.run_id);
        ASSERT_EQ(marked.size(), 2U);
        EXPECT_EQ(marked[0].phase.name, "sleep");
        EXPECT_EQ(marked[1].phase.name, "after");
        EXPECT_GE(marked[0].phase.wall_s, 1.0);
        EXPECT_FALSE(marked[0].phase.ended_by_run);
        bool gpu = false;
        for (const auto& d : marked[0].phase.domains) {
            if (d.id != "gpu0") continue;
            gpu = true;
            ASSERT_TRUE(d.energy_j.has_value());
            EXPECT_GT(*d.energy_j, 50.0 * marked[0].phase.wall_s);  // the fake GPU draws 100 W
        }
        EXPECT_TRUE(gpu);
    }
    ASSERT_EQ(vm_runs.size(), 2U) << r.err;
    std::sort(vm_runs.begin(), vm_runs.end(),
              [](const auto& a, const auto& b) { return a.plan_index < b.plan_index; });
    // boot = "once": the boot is a phase of the guest's first run only, with host energy.
    const auto first = nlohmann::json::parse(vm_runs[0].phases_json);
    ASSERT_EQ(first.size(), 1U) << vm_runs[0].phases_json;
    EXPECT_EQ(first[0]["name"], "vm-boot");
    EXPECT_GT(first[0]["wall_s"].get<double>(), 1.0);
    EXPECT_GT(first[0]["energy_j"].get<double>(), 0.0) << vm_runs[0].phases_json;
    EXPECT_THAT(vm_runs[1].phases_json, ::testing::AnyOf("", "[]"));
    // ... and its shutdown, after the slot's last run, is a phase of the session, with host
    // energy, never inside a run.
    const auto phases = store.session_phases();
    ASSERT_EQ(phases.size(), 1U);
    EXPECT_EQ(phases[0].environment, "vm");
    EXPECT_EQ(phases[0].phase.name, "vm-shutdown");
    EXPECT_EQ(phases[0].session_id, store.sessions().at(0).id);
    ASSERT_TRUE(phases[0].phase.energy_j.has_value());
    EXPECT_GT(*phases[0].phase.energy_j, 0.0);
    // The run's own time is measured in the guest around the workload (sleep 1).
    for (const auto& run : vm_runs) {
        ASSERT_TRUE(run.wall_s.has_value());
        EXPECT_GE(*run.wall_s, 1.0);
    }
    // The workload ran in the guest (its host name), its output kept like any run's.
    const fs::path logs = fs::path(db.string() + ".logs");
    EXPECT_THAT(test::read_file(logs / (vm_runs[0].run_id + ".stdout")),
                HasSubstr("hello from test-guest"));
    // The serial console is kept with the session's logs.
    bool console = false;
    for (const auto& e : fs::directory_iterator(logs)) {
        if (e.path().string().find(".console.log") == std::string::npos) continue;
        console = true;
        EXPECT_THAT(test::read_file(e.path()), HasSubstr("Linux version"));
    }
    EXPECT_TRUE(console) << "no console log in " << logs;
    EXPECT_TRUE(processes_with(logs.string()).empty()) << "QEMU outlived joulebench run";
    const auto host = nlohmann::json::parse(store.sessions().at(0).host_json);
    EXPECT_EQ(host["environments"]["vm"]["type"], "vm") << host.dump();
    EXPECT_EQ(host["environments"]["vm"]["accel"], "tcg") << host.dump();
}

// boot = "per-run": the run boots and stops a guest of its own, both phases measured on the host.
TEST_F(VmRunCli, PerRunBootsAndStopsTheGuestAsPhasesOfTheRun) {
    const fs::path file = m_dir.path() / "experiment.toml";
    const fs::path db = m_dir.path() / "results.db";
    test::write_file(file, R"([experiment]
name = "per-run"
repetitions = 1

[[workload]]
name = "hello"
command = ["uname", "-n"]

)" + vm_environment("vm", "boot = \"per-run\""));
    const auto r = test::run_joulebench({"run", file.string(), "--db", db.string()}, options());
    EXPECT_EQ(r.exit_code, 0) << r.err;
    const auto runs = Store(db, Store::Mode::kReadOnly).runs();
    ASSERT_EQ(runs.size(), 1U);
    EXPECT_EQ(runs[0].status, RunStatus::kDone) << runs[0].stderr_tail;
    const auto phases = nlohmann::json::parse(runs[0].phases_json);
    ASSERT_EQ(phases.size(), 2U) << runs[0].phases_json;
    EXPECT_EQ(phases[0]["name"], "vm-boot");
    EXPECT_EQ(phases[1]["name"], "vm-shutdown");
    for (const auto& p : phases) EXPECT_GT(p["energy_j"].get<double>(), 0.0) << p;
    EXPECT_THAT(test::read_file(fs::path(db.string() + ".logs") / (runs[0].run_id + ".stdout")),
                HasSubstr("test-guest"));
    EXPECT_TRUE(processes_with(db.string() + ".logs").empty());
}

TEST_F(VmRunCli, AGuestThatDoesNotBootInTimeFailsItsRunsAndTheExperimentGoesOn) {
    const fs::path file = m_dir.path() / "experiment.toml";
    const fs::path db = m_dir.path() / "results.db";
    test::write_file(file, R"([experiment]
name = "slow-boot"
repetitions = 2
order = "interleaved"

[[workload]]
name = "w"
command = ["true"]

[[environment]]
name = "bare"
type = "bare"

)" + vm_environment("once", "boot_timeout = \"2s\"") +
                               fmt::format(R"([[environment]]
name = "per-run"
type = "vm"
image = "{0}/rootfs.img"
kernel = "{0}/vmlinuz"
append = "root=/dev/vda console=ttyS0 panic=-1"
accel = "tcg"
memory = "512M"
user = "bench"
identity_file = "{0}/id_ed25519"
boot = "per-run"
)",
                                           m_guest.string()));
    const auto r = test::run_joulebench({"run", file.string(), "--db", db.string()}, options());
    EXPECT_EQ(r.exit_code, 1) << r.err;  // failed runs
    std::map<std::string, std::vector<RunRecord>> runs;
    for (auto& run : Store(db, Store::Mode::kReadOnly).runs()) {
        runs[run.environment].push_back(run);
    }
    for (auto& [env, list] : runs) {
        std::sort(list.begin(), list.end(),
                  [](const auto& a, const auto& b) { return a.plan_index < b.plan_index; });
        ASSERT_EQ(list.size(), 2U) << env;
    }
    for (const auto& run : runs["bare"]) EXPECT_EQ(run.status, RunStatus::kDone);
    for (const auto& run : runs["once"]) {
        EXPECT_EQ(run.status, RunStatus::kFailed);
        EXPECT_THAT(run.stderr_tail, HasSubstr("did not answer ssh on 127.0.0.1:"));
        EXPECT_THAT(run.stderr_tail, HasSubstr("within boot_timeout 2s (console log "));
    }
    // Without its initrd the kernel cannot mount the root (virtio_blk is a module) and panics;
    // panic=-1 reboots, and -no-reboot makes that QEMU's end: the run fails with the console.
    for (const auto& run : runs["per-run"]) {
        EXPECT_EQ(run.status, RunStatus::kFailed);
        EXPECT_THAT(run.stderr_tail, HasSubstr("QEMU exited with status 0 while the guest booted"));
        EXPECT_THAT(run.stderr_tail, HasSubstr(".console.log); its last lines:"));
        EXPECT_THAT(run.stderr_tail, HasSubstr("Kernel panic"));
    }
    // The failed boot is still a phase, with its time; with boot = "once" the slot's next run
    // fails at once with the same message, "per-run" tries again.
    EXPECT_THAT(runs["once"][0].phases_json, HasSubstr("vm-boot"));
    EXPECT_THAT(runs["once"][1].phases_json, ::testing::AnyOf("", "[]"));
    EXPECT_EQ(runs["once"][0].stderr_tail, runs["once"][1].stderr_tail);
    for (const auto& run : runs["per-run"]) EXPECT_THAT(run.phases_json, HasSubstr("vm-boot"));
    EXPECT_TRUE(processes_with(db.string() + ".logs").empty());
}

TEST_F(VmRunCli, SigkillOfRunLeavesNoQemuBehind) {
    const fs::path file = m_dir.path() / "experiment.toml";
    const fs::path db = m_dir.path() / "results.db";
    test::write_file(file, R"([experiment]
name = "killed"
repetitions = 1

[[workload]]
name = "long"
command = ["sleep", "300"]

)" + vm_environment("vm", ""));
    test::ChildProcess child({test::joulebench_binary(), "run", file.string(), "--db", db.string()},
                             options());
    const fs::path logs = db.string() + ".logs";
    const std::string marker = logs.string();  // QEMU's console path is in there
    // Mid-run: the guest booted and the workload's output file was opened.
    auto running = [&] {
        std::error_code ec;
        for (const auto& e : fs::directory_iterator(logs, ec)) {
            if (e.path().extension() == ".stdout") return true;
        }
        return false;
    };
    ASSERT_TRUE(test::eventually(running, std::chrono::seconds(300), std::chrono::milliseconds(50))) << child.err_so_far();
    const std::vector<pid_t> qemu = processes_with(marker);
    ASSERT_EQ(qemu.size(), 1U) << child.err_so_far();
    child.send(SIGKILL);
    EXPECT_EQ(child.wait().signal, SIGKILL);
    EXPECT_TRUE(
        test::eventually([&] { return processes_with(marker).empty(); }, std::chrono::seconds(30),
                         std::chrono::milliseconds(50)))
        << "QEMU " << qemu.at(0) << " outlived the SIGKILLed joulebench run";
}

// SIGTERM (as Ctrl-C) while the guest boots: joulebench stops the boot, ends QEMU and exits.
TEST_F(VmRunCli, SigtermDuringTheBootStopsTheGuest) {
    const fs::path file = m_dir.path() / "experiment.toml";
    const fs::path db = m_dir.path() / "results.db";
    test::write_file(file, R"([experiment]
name = "terminated"
repetitions = 1

[[workload]]
name = "w"
command = ["true"]

)" + vm_environment("vm", ""));
    test::ChildProcess child({test::joulebench_binary(), "run", file.string(), "--db", db.string()},
                             options());
    const std::string marker = db.string() + ".logs";
    ASSERT_TRUE(
        test::eventually([&] { return !processes_with(marker).empty(); }, std::chrono::seconds(120),
                         std::chrono::milliseconds(50)))
        << child.err_so_far();
    child.send(SIGTERM);
    const auto r = child.wait();
    EXPECT_NE(r.exit_code, 0) << r.err;
    EXPECT_FALSE(r.signal.has_value()) << "joulebench handles SIGTERM itself";
    EXPECT_TRUE(processes_with(marker).empty()) << "QEMU outlived joulebench run";
    const auto runs = Store(db, Store::Mode::kReadOnly).runs();
    ASSERT_EQ(runs.size(), 1U);
    EXPECT_NE(runs[0].status, RunStatus::kDone);
}

}  // namespace
}  // namespace joulebench
