// Power caps end to end: the real joulebench binary, real processes and signals, the fake NVML
// loaded through the production dlopen path and fake powercap trees. No real device is ever
// written: every run points NVML, powercap and the journal at temporary folders.

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <pwd.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fmt/format.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "capping/cap_journal.hpp"
#include "capping/nvml_capper.hpp"
#include "fakes/fake_nvml_builder.hpp"
#include "fakes/fake_powercap_builder.hpp"
#include "fakes/process_probe.hpp"
#include "fakes/test_support.hpp"
#include "sensors/nvml/nvml_backend.hpp"

namespace joulebench::test {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using ::testing::HasSubstr;
using ::testing::Not;


json parse_caps_json(const std::string& text) {
    try {
        return json::parse(text);
    } catch (const std::exception& e) {
        ADD_FAILURE() << "not JSON: " << e.what() << "\n" << text;
        return json::object();
    }
}

std::string q(const fs::path& p) { return "'" + p.string() + "'"; }

// Field N (1-based, after the comm) of /proc/PID/stat.
long stat_field(pid_t pid, int n) {
    const std::string text = read_file(fmt::format("/proc/{}/stat", pid));
    std::istringstream rest(text.substr(text.rfind(')') + 2));
    std::string value;
    for (int field = 3; field <= n; ++field) rest >> value;
    return std::stol(value);
}

class CapsCli : public ::testing::Test {
protected:
    TempDir m_dir{"joulebench-caps-cli"};
    FakeNvmlState m_state{m_dir.path() / "nvml.json", 2};
    fs::path m_state_dir = m_dir.path() / "state";
    fs::path m_caps_dir = m_state_dir / "caps";
    fs::path m_powercap = m_dir.path() / "no-powercap";

    // Every variable that could reach real hardware or /var/lib points into the temporary folder.
    ProcessOptions options() const {
        ProcessOptions o;
        o.env = {{"JOULEBENCH_NVML_LIBRARY", FakeNvmlEnvironment::library_path()},
                 {"JOULEBENCH_FAKE_NVML_STATE", m_state.path().string()},
                 {"JOULEBENCH_POWERCAP_ROOT", m_powercap.string()},
                 {"JOULEBENCH_STATE_DIR", m_state_dir.string()}};
        return o;
    }
    ProcessResult jb(const std::vector<std::string>& args) const { return run_joulebench(args, options()); }
    std::vector<fs::path> journal_files() const {
        std::vector<fs::path> out;
        std::error_code ec;
        for (const auto& e : fs::directory_iterator(m_caps_dir, ec)) {
            if (e.path().extension() == ".json") out.push_back(e.path());
        }
        return out;
    }
    unsigned limit_mw(unsigned gpu) const { return m_state.limits(gpu).current_mw; }
    static unsigned limit_in(const json& nvml_state, unsigned gpu) {
        return nvml_state.at("gpus").at(gpu).at("limits").at("current_mw").get<unsigned>();
    }
    // A leftover of a run that died: GPU `gpu` at `capped_mw`, journalled original 400 W.
    void leave_leftover(unsigned gpu, unsigned capped_mw) const {
        const FakeNvmlEnvironment env(m_state.path());
        const auto system = nvml::NvmlSystem::open();
        const capping::NvmlCapper capper(system.devices().at(gpu));
        capping::JournalEntry e =
            capping::new_journal_entry(capper.info(), Watts(400.0), Watts(400.0), from_milliwatts(capped_mw));
        e.owner.pid = 999999;  // no such process; and if there were, not the one that wrote this
        e.owner.start_ticks = 1;
        capping::CapJournal(m_caps_dir).create(e);
        auto limits = m_state.limits(gpu);
        limits.current_mw = limits.enforced_mw = capped_mw;
        m_state.set_limits(gpu, limits);
    }
};

TEST_F(CapsCli, MeasureCapsEverySelectedGpuForTheRunOnlyAndReportsIt) {
    const fs::path during = m_dir.path() / "during.json";
    const fs::path listing = m_dir.path() / "listing";
    m_state.set_clocks_event_reasons(0, 0x4);  // GPU 0 held back by the software power cap
    auto r = jb({"measure", "--power-cap", "250", "--json", "-", "--", "/bin/sh", "-c",
                 "cp " + q(m_state.path()) + " " + q(during) + "; ls " + q(m_caps_dir) + " > " + q(listing)});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    const json seen = parse_caps_json(read_file(during));
    EXPECT_EQ(limit_in(seen, 0), 250000U);
    EXPECT_EQ(limit_in(seen, 1), 250000U);
    EXPECT_EQ(read_file(listing),
              "nvml-GPU-fa4e0000-0000-4000-8000-000000000000.json\nnvml-GPU-fa4e0000-0000-4000-8000-000000000001.json\n");
    EXPECT_EQ(limit_mw(0), 400000U);
    EXPECT_EQ(limit_mw(1), 400000U);
    EXPECT_TRUE(journal_files().empty());

    const json j = parse_caps_json(r.out);
    ASSERT_EQ(j.at("power_caps").size(), 2U) << r.out;
    const json& c0 = j.at("power_caps")[0];
    EXPECT_EQ(c0.at("id"), "gpu0");
    EXPECT_EQ(c0.at("kind"), "gpu");
    EXPECT_EQ(c0.at("key"), "GPU-fa4e0000-0000-4000-8000-000000000000");
    EXPECT_EQ(c0.at("requested_w"), 250.0);
    EXPECT_EQ(c0.at("enforced_w"), 250.0);
    EXPECT_EQ(c0.at("original_w"), 400.0);
    EXPECT_EQ(c0.at("default_w"), 400.0);
    EXPECT_EQ(c0.at("restored"), true);
    EXPECT_TRUE(c0.at("restore_error").is_null());
    EXPECT_EQ(c0.at("throttled_by_cap"), true);
    EXPECT_EQ(j.at("power_caps")[1].at("throttled_by_cap"), false);
    EXPECT_THAT(r.err, HasSubstr("Power cap:     GPU 0 (NVIDIA A100-SXM4-40GB, 00000000:17:00.0): 250.00 W requested, "
                                 "250.00 W enforced; original 400.00 W, restored; throttled by the cap (sw_power_cap)"));
    EXPECT_THAT(r.err, HasSubstr("not throttled by the cap"));
    // Written, then written back: nothing else.
    const auto calls = m_state.calls();
    ASSERT_EQ(calls.size(), 4U);
    EXPECT_EQ(calls[0].value, 250000U);
    EXPECT_EQ(calls[3].value, 400000U);
}

TEST_F(CapsCli, AMeasureWithoutCapsTouchesNothingAndPerGpuCapsApplyToTheirGpu) {
    auto plain = jb({"measure", "-q", "--json", "-", "--", "true"});
    ASSERT_EQ(plain.exit_code, 0) << plain.err;
    EXPECT_TRUE(m_state.calls().empty());
    EXPECT_TRUE(parse_caps_json(plain.out).at("power_caps").empty());
    EXPECT_FALSE(fs::exists(m_state_dir));  // nothing journalled, nothing created

    const fs::path during = m_dir.path() / "during.json";
    auto r = jb({"measure", "-q", "--power-cap", "0=250,1=300.5", "--", "cp", m_state.path().string(), during.string()});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    const json seen = parse_caps_json(read_file(during));
    EXPECT_EQ(limit_in(seen, 0), 250000U);
    EXPECT_EQ(limit_in(seen, 1), 300500U);
    EXPECT_EQ(limit_mw(0), 400000U);
    EXPECT_EQ(limit_mw(1), 400000U);
    EXPECT_TRUE(journal_files().empty());
}

TEST_F(CapsCli, OutOfRangeExitsTwoNamingTheRangeAndRunsNothing) {
    const fs::path marker = m_dir.path() / "ran";
    for (const std::string cap : {"450", "0=250,1=99"}) {
        auto r = jb({"measure", "--power-cap", cap, "--", "touch", marker.string()});
        EXPECT_EQ(r.exit_code, 2) << r.err;
        EXPECT_THAT(r.err, HasSubstr("outside the allowed range 100 W to 400 W")) << r.err;
        EXPECT_THAT(r.err, HasSubstr("hint: choose a limit between 100 W and 400 W"));
    }
    // Just below the range, the cap is shown as given, not rounded into the range (defect 10).
    auto below = jb({"measure", "--power-cap", "99.9999", "--", "touch", marker.string()});
    EXPECT_EQ(below.exit_code, 2) << below.err;
    EXPECT_THAT(below.err, HasSubstr("to 99.9999 W: outside the allowed range 100 W to 400 W")) << below.err;
    EXPECT_FALSE(fs::exists(marker));
    EXPECT_TRUE(m_state.calls().empty());
    EXPECT_TRUE(journal_files().empty());
    auto bad = jb({"measure", "--power-cap", "0=lots", "--", "touch", marker.string()});
    EXPECT_EQ(bad.exit_code, 2);
    EXPECT_THAT(bad.err, HasSubstr("'lots' is not a number of watts"));
}

TEST_F(CapsCli, NoPermissionFailsWithAHintAndTheWorkloadDoesNotRun) {
    m_state.inject_error(kNvmlSetter, 4);  // NVML_ERROR_NO_PERMISSION
    const fs::path marker = m_dir.path() / "ran";
    auto r = jb({"measure", "--power-cap", "250", "--", "touch", marker.string()});
    EXPECT_EQ(r.exit_code, 1) << r.err;
    EXPECT_THAT(r.err, HasSubstr("error: nvml: set power limit of GPU 0 to 250 W: Insufficient Permissions"));
    EXPECT_THAT(r.err, HasSubstr("hint: run as root"));
    EXPECT_FALSE(fs::exists(marker));
    EXPECT_EQ(limit_mw(0), 400000U);
    EXPECT_TRUE(journal_files().empty());
}

TEST_F(CapsCli, PersistenceModeOffIsWarnedAbout) {
    m_state.set_persistence_mode(1, false);
    auto r = jb({"measure", "--power-cap", "1=250", "--json", "-", "--", "true"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_THAT(r.err, HasSubstr("warning: GPU 1 (NVIDIA A100-SXM4-40GB, 00000000:27:00.0): persistence mode is off"));
    EXPECT_THAT(parse_caps_json(r.out).at("warnings").dump(), HasSubstr("persistence mode is off"));
    EXPECT_THAT(r.err, Not(HasSubstr("GPU 0 (NVIDIA A100-SXM4-40GB, 00000000:17:00.0): persistence")));
}

TEST_F(CapsCli, SigtermIsForwardedCapsAreRestoredAndTheStatusIs143) {
    const fs::path started = m_dir.path() / "started";
    const fs::path out = m_dir.path() / "m.json";
    ChildProcess child({joulebench_binary(), "measure", "--power-cap", "200", "--json", out.string(), "--", "/bin/sh",
                        "-c", "touch " + q(started) + "; sleep 30"},
                       options());
    ASSERT_TRUE(eventually([&] { return fs::exists(started); })) << child.err_so_far();
    EXPECT_EQ(limit_mw(0), 200000U);
    child.send(SIGTERM);
    auto r = child.wait();
    EXPECT_EQ(r.exit_code, 143) << r.err;
    EXPECT_EQ(limit_mw(0), 400000U);
    EXPECT_EQ(limit_mw(1), 400000U);
    EXPECT_TRUE(journal_files().empty());
    const json j = parse_caps_json(read_file(out));
    EXPECT_EQ(j.value("signal", 0), 15);
    EXPECT_EQ(j.at("power_caps")[0].at("restored"), true);
}

TEST_F(CapsCli, SigtermWhenTheCommandIgnoresItStillExits143) {
    const fs::path started = m_dir.path() / "started";
    ChildProcess child({joulebench_binary(), "measure", "-q", "--power-cap", "200", "--", "/bin/sh", "-c",
                        "trap 'exit 0' TERM; touch " + q(started) + "; while :; do sleep 0.05; done"},
                       options());
    ASSERT_TRUE(eventually([&] { return fs::exists(started); })) << child.err_so_far();
    child.send(SIGTERM);
    auto r = child.wait();
    EXPECT_EQ(r.exit_code, 143) << r.err;
    EXPECT_EQ(limit_mw(0), 400000U);
}

TEST_F(CapsCli, SigkillOfJoulebenchTheGuardianRestores) {
    const fs::path started = m_dir.path() / "started";
    ChildProcess child({joulebench_binary(), "measure", "-q", "--power-cap", "0=150,1=175", "--", "/bin/sh", "-c",
                        "touch " + q(started) + "; exec sleep 60"},
                       options());
    ASSERT_TRUE(eventually([&] { return fs::exists(started); })) << child.err_so_far();
    ASSERT_EQ(limit_mw(0), 150000U);
    ASSERT_EQ(limit_mw(1), 175000U);
    const pid_t jb_pid = child.pid();
    const pid_t guardian = guardian_of(jb_pid);
    ASSERT_GT(guardian, 0) << "no guardian process";
    // Outside joulebench's session and process group, and not its child.
    EXPECT_NE(stat_field(guardian, 5), stat_field(jb_pid, 5));  // pgrp
    EXPECT_NE(stat_field(guardian, 6), stat_field(jb_pid, 6));  // session
    EXPECT_NE(stat_field(guardian, 4), jb_pid);                 // ppid
    EXPECT_EQ(journal_files().size(), 2U);

    // SIGKILL to the whole process group: joulebench and the workload, not the guardian.
    ASSERT_EQ(::kill(-jb_pid, SIGKILL), 0);
    auto r = child.wait();
    EXPECT_EQ(r.signal, std::optional<int>(SIGKILL));
    EXPECT_TRUE(eventually([&] { return limit_mw(0) == 400000U && limit_mw(1) == 400000U; }))
        << "caps not restored after SIGKILL: " << limit_mw(0) << " " << limit_mw(1);
    EXPECT_TRUE(eventually([&] { return journal_files().empty(); }));
    EXPECT_TRUE(eventually([&] { return process_ended(guardian); }))
        << "the guardian did not exit";
    const auto calls = m_state.calls();
    ASSERT_EQ(calls.size(), 4U);
    EXPECT_EQ(calls[2].value, 400000U);
    EXPECT_EQ(calls[3].value, 400000U);
}

TEST_F(CapsCli, ALeftoverIsShownAndRestoredByCapsRestore) {
    leave_leftover(1, 180000);
    auto show = jb({"caps", "show", "--json"});
    ASSERT_EQ(show.exit_code, 0) << show.err;
    const json s = parse_caps_json(show.out);
    ASSERT_EQ(s.at("devices").size(), 2U) << show.out;
    const json& d1 = s.at("devices")[1];
    EXPECT_EQ(d1.at("current_w"), 180.0);
    EXPECT_EQ(d1.at("min_w"), 100.0);
    EXPECT_EQ(d1.at("max_w"), 400.0);
    EXPECT_EQ(d1.at("default_w"), 400.0);
    EXPECT_EQ(d1.at("persistence_mode"), true);
    ASSERT_TRUE(d1.at("journal").is_object()) << show.out;
    EXPECT_EQ(d1.at("journal").at("original_w"), 400.0);
    EXPECT_EQ(d1.at("journal").at("owner_running"), false);
    EXPECT_TRUE(s.at("devices")[0].at("journal").is_null());
    auto text = jb({"caps", "show"});
    EXPECT_THAT(text.out, HasSubstr("journal: original 400 W, capped to 180 W by pid 999999"));

    auto r = jb({"caps", "restore"});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    EXPECT_THAT(r.out, HasSubstr("restored: GPU 1 (NVIDIA A100-SXM4-40GB, 00000000:27:00.0): restored to 400 W"));
    EXPECT_EQ(limit_mw(1), 400000U);
    EXPECT_TRUE(journal_files().empty());
    auto again = jb({"caps", "restore"});
    EXPECT_EQ(again.exit_code, 0);
    EXPECT_THAT(again.out, HasSubstr("nothing to restore"));
}

TEST_F(CapsCli, ALeftoverIsRestoredBeforeTheNextMeasureRuns) {
    leave_leftover(0, 120000);
    const fs::path during = m_dir.path() / "during.json";
    auto r = jb({"measure", "-q", "--", "cp", m_state.path().string(), during.string()});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_THAT(r.err, HasSubstr("left by a crashed run: GPU 0"));
    EXPECT_EQ(limit_in(parse_caps_json(read_file(during)), 0), 400000U);
    EXPECT_TRUE(journal_files().empty());
}

TEST_F(CapsCli, ALeftoverOnTheDeviceToCapIsRestoredFirstThenCapped) {
    leave_leftover(0, 120000);
    const fs::path during = m_dir.path() / "during.json";
    auto r = jb({"measure", "-q", "--power-cap", "0=250", "--json", "-", "--", "cp", m_state.path().string(),
                 during.string()});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(limit_in(parse_caps_json(read_file(during)), 0), 250000U);
    // The original is the true one (400 W), not the leftover cap.
    EXPECT_EQ(parse_caps_json(r.out).at("power_caps")[0].at("original_w"), 400.0);
    EXPECT_EQ(limit_mw(0), 400000U);
}

// Journal written, cap set, workload ran, cap restored, journal cleared: in that order.
TEST_F(CapsCli, ExecutionOrderJournalCapRunRestoreClear) {
    const fs::path stamps = m_dir.path() / "stamps";
    const fs::path mtime = m_dir.path() / "journal_mtime";
    const fs::path journal_copy = m_dir.path() / "journal_copy.json";
    const fs::path during = m_dir.path() / "during.json";
    const std::string stamp = std::string(JOULEBENCH_MONOTONIC_NS_PATH) + " " + q(stamps);
    const std::string script = stamp + "; stat -c %.9Y " + q(m_caps_dir) + "/nvml-*.json > " + q(mtime) + "; cat " +
                               q(m_caps_dir) + "/nvml-*.json > " + q(journal_copy) + "; cp " + q(m_state.path()) +
                               " " + q(during) + "; " + stamp;
    auto r = jb({"measure", "-q", "--gpus", "0", "--power-cap", "220", "--", "/bin/sh", "-c", script});
    ASSERT_EQ(r.exit_code, 0) << r.err;

    std::istringstream in(read_file(stamps));
    long long start_mono = 0;
    long long start_real = 0;
    long long end_mono = 0;
    long long end_real = 0;
    in >> start_mono >> start_real >> end_mono >> end_real;
    ASSERT_GT(end_mono, 0) << read_file(stamps);
    // The journal's mtime on the monotonic clock (mtimes are CLOCK_REALTIME, truncated to the
    // kernel tick: never later than the write itself).
    const double mtime_real_s = std::stod(read_file(mtime));
    const auto journal_mono = static_cast<long long>(mtime_real_s * 1e9) - (start_real - start_mono);

    const auto calls = m_state.calls();
    ASSERT_EQ(calls.size(), 2U);
    EXPECT_EQ(calls[0].value, 220000U);
    EXPECT_EQ(calls[1].value, 400000U);
    EXPECT_LE(journal_mono, calls[0].monotonic_ns) << "journal written after the cap";
    EXPECT_LT(calls[0].monotonic_ns, start_mono) << "cap set after the workload started";
    EXPECT_LT(start_mono, end_mono);
    EXPECT_LT(end_mono, calls[1].monotonic_ns) << "restored before the workload ended";
    EXPECT_TRUE(journal_files().empty()) << "journal not cleared";
    // What the workload saw: the cap in force, and a journal holding the original.
    EXPECT_EQ(limit_in(parse_caps_json(read_file(during)), 0), 220000U);
    const json entry = parse_caps_json(read_file(journal_copy));
    EXPECT_EQ(entry.at("original_limit_uw"), 400000000U);
    EXPECT_EQ(entry.at("requested_limit_uw"), 220000000U);
    EXPECT_EQ(entry.at("backend"), "nvml");
}

TEST_F(CapsCli, AFailedRestoreKeepsTheJournalUntilCapsRestoreSucceeds) {
    const fs::path started = m_dir.path() / "started";
    const fs::path go = m_dir.path() / "go";
    ChildProcess child({joulebench_binary(), "measure", "-q", "--gpus", "0", "--power-cap", "230", "--", "/bin/sh",
                        "-c", "touch " + q(started) + "; while [ ! -e " + q(go) + " ]; do sleep 0.01; done"},
                       options());
    ASSERT_TRUE(eventually([&] { return fs::exists(started); })) << child.err_so_far();
    const pid_t guardian = guardian_of(child.pid());
    ASSERT_GT(guardian, 0);
    m_state.inject_error(0, kNvmlSetter, 15);  // NVML_ERROR_GPU_IS_LOST from now on
    write_file(go, "");
    auto r = child.wait();
    EXPECT_EQ(r.exit_code, 1) << r.err;
    EXPECT_THAT(r.err, HasSubstr("error: caps: restore GPU 0"));
    EXPECT_THAT(r.err, HasSubstr("GPU is lost"));
    EXPECT_THAT(r.err, HasSubstr("joulebench caps restore"));
    // The guardian tried once more and failed too; then it is gone.
    EXPECT_TRUE(eventually([&] { return process_ended(guardian); }));
    ASSERT_EQ(journal_files().size(), 1U);
    EXPECT_EQ(limit_mw(0), 230000U);

    auto failing = jb({"caps", "restore"});
    EXPECT_EQ(failing.exit_code, 1);
    EXPECT_THAT(failing.err, HasSubstr("kept"));
    EXPECT_EQ(journal_files().size(), 1U);

    m_state.inject_error(0, kNvmlSetter, 0);
    auto ok = jb({"caps", "restore"});
    EXPECT_EQ(ok.exit_code, 0) << ok.err;
    EXPECT_EQ(limit_mw(0), 400000U);
    EXPECT_TRUE(journal_files().empty());
}

class CpuCapsCli : public CapsCli {
protected:
    CpuCapsCli() {
        m_powercap = m_dir.path() / "powercap";
        m_tree = std::make_unique<FakePowercapTree>(m_powercap);
        m_tree->add_typical_socket(0, 40.0, 20.0, 4.0);
        m_tree->add_typical_socket(1, 40.0, 20.0, 4.0);
    }
    std::string limit_of(int package) const {
        return read_file(m_powercap / fmt::format("intel-rapl:{}", package) / "constraint_0_power_limit_uw");
    }
    std::unique_ptr<FakePowercapTree> m_tree;
};

TEST_F(CpuCapsCli, CapsEveryPackageForTheRunAndRestoresIt) {
    const fs::path during = m_dir.path() / "during";
    auto r = jb({"measure", "--gpus", "none", "--cpu-power-cap", "95.5", "--json", "-", "--", "/bin/sh", "-c",
                 "cat " + q(m_powercap / "intel-rapl:0" / "constraint_0_power_limit_uw") + " " +
                     q(m_powercap / "intel-rapl:1" / "constraint_0_power_limit_uw") + " > " + q(during)});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(read_file(during), "95500000\n95500000\n");
    EXPECT_EQ(limit_of(0), "165000000\n");
    EXPECT_EQ(limit_of(1), "165000000\n");
    EXPECT_TRUE(journal_files().empty());
    const json caps = parse_caps_json(r.out).at("power_caps");
    ASSERT_EQ(caps.size(), 2U);
    EXPECT_EQ(caps[1].at("id"), "package1");
    EXPECT_EQ(caps[1].at("kind"), "package");
    EXPECT_EQ(caps[1].at("original_w"), 165.0);
    EXPECT_EQ(caps[1].at("enforced_w"), 95.5);
    EXPECT_TRUE(caps[1].at("throttled_by_cap").is_null());
    EXPECT_TRUE(m_state.calls().empty());  // GPUs untouched
}

TEST_F(CpuCapsCli, OutOfRangeNamesTheRange) {
    const fs::path marker = m_dir.path() / "ran";
    auto r = jb({"measure", "--cpu-power-cap", "300", "--", "touch", marker.string()});
    EXPECT_EQ(r.exit_code, 2) << r.err;
    EXPECT_THAT(r.err, HasSubstr("CPU package 0 (intel-rapl:0) to 300 W: outside the allowed range 1 W to 205 W"));
    EXPECT_FALSE(fs::exists(marker));
    EXPECT_EQ(limit_of(0), "165000000\n");
}

TEST_F(CpuCapsCli, ANonRootUserGetsAPermissionErrorWithAHintAndNothingRuns) {
    const passwd* nobody = ::getpwnam("nobody");
    if (nobody == nullptr || ::geteuid() != 0) GTEST_SKIP() << "needs root and a 'nobody' user";
    // nobody may read the tree (as sysfs allows) and owns its state folder, nothing else.
    fs::permissions(m_dir.path(), fs::perms::owner_all | fs::perms::group_read | fs::perms::group_exec |
                                      fs::perms::others_read | fs::perms::others_exec);
    fs::create_directories(m_state_dir);
    ASSERT_EQ(::chown(m_state_dir.c_str(), nobody->pw_uid, nobody->pw_gid), 0);
    const fs::path marker = m_state_dir / "ran";
    ProcessOptions o = options();
    o.user = std::make_pair(nobody->pw_uid, nobody->pw_gid);
    o.env.emplace_back("JOULEBENCH_NVML_LIBRARY", "/nonexistent/libnvidia-ml.so.1");
    // From a clone in a private folder nobody cannot reach the built binary: a copy it can.
    const std::string binary = joulebench_binary_for_others(m_dir.path()).string();
    auto r = run_process({binary, "measure",
                          "--cpu-power-cap", "100", "--", "touch", marker.string()},
                         o);
    EXPECT_EQ(r.exit_code, 1) << r.err;
    EXPECT_THAT(r.err, HasSubstr("constraint_0_power_limit_uw: Permission denied"));
    EXPECT_THAT(r.err, HasSubstr("hint: writing a powercap limit needs root"));
    EXPECT_FALSE(fs::exists(marker));
    EXPECT_EQ(limit_of(0), "165000000\n");
    EXPECT_TRUE(journal_files().empty());

    // Without JOULEBENCH_STATE_DIR a user's journal lives under XDG_STATE_HOME, else ~/.local/state.
    ProcessOptions user = o;
    user.env.emplace_back("JOULEBENCH_STATE_DIR", std::nullopt);
    user.env.emplace_back("XDG_STATE_HOME", "/xdg/state");
    EXPECT_EQ(parse_caps_json(run_process({binary, "caps", "show", "--json"}, user).out).at("journal_dir"),
              "/xdg/state/joulebench/caps");
    user.env.emplace_back("XDG_STATE_HOME", std::nullopt);
    user.env.emplace_back("HOME", "/home/someone");
    EXPECT_EQ(parse_caps_json(run_process({binary, "caps", "show", "--json"}, user).out).at("journal_dir"),
              "/home/someone/.local/state/joulebench/caps");
}

TEST_F(CpuCapsCli, CapsShowListsPackagesWithTheirRange) {
    auto r = jb({"caps", "show", "--json"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    const json j = parse_caps_json(r.out);
    ASSERT_EQ(j.at("devices").size(), 4U) << r.out;  // 2 GPUs, 2 packages
    const json& p1 = j.at("devices")[3];
    EXPECT_EQ(p1.at("id"), "package1");
    EXPECT_EQ(p1.at("current_w"), 165.0);
    EXPECT_EQ(p1.at("min_w"), 1.0);
    EXPECT_EQ(p1.at("max_w"), 205.0);
    EXPECT_TRUE(p1.at("default_w").is_null());
    EXPECT_EQ(j.at("journal_dir"), (m_caps_dir).string());
}

}  // namespace
}  // namespace joulebench::test
