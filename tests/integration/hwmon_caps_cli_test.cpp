// amdgpu power caps through hwmon's power1_cap end to end: `caps show`, `caps restore` and the
// guardian of a process that held a cap and was killed with SIGKILL. The fake hwmon tree's cap
// files are plain writable files (JOULEBENCH_HWMON_ROOT); no real device is ever written.

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "capping/cap_journal.hpp"
#include "capping/cap_session.hpp"
#include "capping/hwmon_capper.hpp"
#include "fakes/fake_hwmon_builder.hpp"
#include "fakes/process_probe.hpp"
#include "fakes/test_support.hpp"

namespace joulebench::test {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using ::testing::HasSubstr;

class HwmonCapsCli : public ::testing::Test {
protected:
    TempDir m_dir{"joulebench-hwmon-caps"};
    FakeHwmonTree m_tree{m_dir.path() / "sys"};
    fs::path m_state_dir = m_dir.path() / "state";
    fs::path m_caps_dir = m_state_dir / "caps";
    fs::path m_rocm_state = m_dir.path() / "rocm.json";

    void SetUp() override {
        m_tree.add_device("hwmon3", "amdgpu", "0000:03:00.0");
        m_tree.add_power("hwmon3", 1, "average", 120'000'000, "PPT");
        m_tree.add_power_cap("hwmon3", 300'000'000, 100'000'000, 300'000'000, 280'000'000);
    }
    // Nothing reaches real hardware or /var/lib; ROCm SMI is absent unless `rocm` is set.
    std::vector<std::pair<std::string, std::optional<std::string>>> variables(bool rocm = false) const {
        return {{"JOULEBENCH_HWMON_ROOT", m_tree.root().string()},
                {"JOULEBENCH_POWERCAP_ROOT", (m_dir.path() / "no-powercap").string()},
                {"JOULEBENCH_NVML_LIBRARY", std::string("/nonexistent/libnvidia-ml.so.1")},
                {"JOULEBENCH_ROCM_SMI_LIBRARY",
                 rocm ? std::string(JOULEBENCH_FAKE_ROCM_SMI_PATH) : std::string("/nonexistent/librocm_smi64.so.1")},
                {"JOULEBENCH_FAKE_ROCM_SMI_STATE", m_rocm_state.string()},
                {"JOULEBENCH_STATE_DIR", m_state_dir.string()}};
    }
    ProcessResult jb(const std::vector<std::string>& args, bool rocm = false) const {
        ProcessOptions o;
        o.env = variables(rocm);
        return run_joulebench(args, o);
    }
    std::uint64_t cap_uw() const { return m_tree.power_cap_uw("hwmon3"); }
    std::size_t journal_files() const {
        std::size_t n = 0;
        std::error_code ec;
        for (const auto& e : fs::directory_iterator(m_caps_dir, ec)) {
            if (e.path().extension() == ".json") ++n;
        }
        return n;
    }
    static const json* device_with_backend(const json& show, const std::string& backend) {
        for (const auto& d : show.at("devices")) {
            if (d.at("backend") == backend) return &d;
        }
        return nullptr;
    }
};

TEST_F(HwmonCapsCli, CapsShowListsTheAmdGpuWithItsRange) {
    const auto r = jb({"caps", "show", "--json"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    const json j = json::parse(r.out);
    const json* d = device_with_backend(j, "hwmon");
    ASSERT_NE(d, nullptr) << r.out;
    EXPECT_EQ(d->at("id"), "hwmon-gpu0");
    EXPECT_EQ(d->at("key"), "0000:03:00.0");
    EXPECT_DOUBLE_EQ(d->at("current_w").get<double>(), 300.0);
    EXPECT_DOUBLE_EQ(d->at("min_w").get<double>(), 100.0);
    EXPECT_DOUBLE_EQ(d->at("max_w").get<double>(), 300.0);
    EXPECT_DOUBLE_EQ(d->at("default_w").get<double>(), 280.0);
    const auto text = jb({"caps", "show"});
    EXPECT_THAT(text.out, HasSubstr("limit 300 W, enforced 300 W, default 280 W, allowed 100 W to 300 W"));
}

TEST_F(HwmonCapsCli, CapsShowLeavesToRocmSmiAGpuItLists) {
    // ROCm SMI lists the same board (BDFID 0x300 = 0000:03:00.0): it is capped through ROCm SMI.
    const json doc{{"gpus",
                    {{{"name", "AMD Instinct MI210"},
                      {"unique_id", 0x42},
                      {"bdfid", 0x300},
                      {"power_uw", 100'000'000},
                      {"cap_uw", 300'000'000},
                      {"cap_min_uw", 100'000'000},
                      {"cap_max_uw", 300'000'000}}}}};
    std::ofstream(m_rocm_state) << doc.dump();
    const auto r = jb({"caps", "show", "--json"}, true);
    ASSERT_EQ(r.exit_code, 0) << r.err;
    const json j = json::parse(r.out);
    EXPECT_NE(device_with_backend(j, "rocm"), nullptr) << r.out;
    EXPECT_EQ(device_with_backend(j, "hwmon"), nullptr) << r.out;
    EXPECT_THAT(j.at("skipped").dump(), HasSubstr("capped through ROCm SMI, which lists the same GPU (pci:0000:03:00.0)"));
}

TEST_F(HwmonCapsCli, CapsRestoreWritesBackALeftover) {
    {
        const capping::HwmonCapper c(m_tree.root() / "hwmon3");
        capping::JournalEntry e = capping::new_journal_entry(c.info(), Watts(300.0), c.default_limit(), Watts(150.0));
        e.owner.pid = 999999;  // a run that died
        e.owner.start_ticks = 1;
        capping::CapJournal(m_caps_dir).create(e);
    }
    m_tree.write_file("hwmon3", "power1_cap", "150000000\n");
    const auto show = jb({"caps", "show"});
    EXPECT_THAT(show.out, HasSubstr("journal: original 300 W, capped to 150 W by pid 999999"));
    const auto r = jb({"caps", "restore"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_THAT(r.out, HasSubstr("restored: AMD GPU hwmon-gpu0"));
    EXPECT_EQ(cap_uw(), 300'000'000U);
    EXPECT_EQ(journal_files(), 0U);
}

TEST_F(HwmonCapsCli, TheGuardianRestoresAfterSigkillOfTheProcessHoldingTheCap) {
    std::vector<std::unique_ptr<ScopedEnv>> env;
    for (const auto& [name, value] : variables()) env.push_back(std::make_unique<ScopedEnv>(name, value));
    const fs::path started = m_dir.path() / "started";
    const fs::path failed = m_dir.path() / "failed";
    const pid_t holder = ::fork();
    if (holder == 0) {
        // A process that caps the GPU through a CapSession with a guardian, then waits to be killed.
        try {
            std::vector<std::pair<std::unique_ptr<PowerCapper>, Watts>> targets;
            targets.emplace_back(capping::open_hwmon_gpu_capper(m_tree.root() / "hwmon3"), Watts(150.0));
            capping::GuardianOptions guardian;
            guardian.executable = joulebench_binary();
            const auto journal = capping::CapJournal::open_default();
            capping::CapSession session(std::move(targets), journal, guardian);
            write_file(started, "");
            for (;;) ::pause();
        } catch (const std::exception& e) {
            write_file(failed, e.what());
        }
        ::_exit(1);
    }
    ASSERT_TRUE(eventually([&] { return fs::exists(started) || fs::exists(failed); }));
    ASSERT_TRUE(fs::exists(started)) << read_file(failed);
    EXPECT_EQ(cap_uw(), 150'000'000U);
    EXPECT_EQ(journal_files(), 1U);
    const pid_t guardian = guardian_of(holder);
    EXPECT_GT(guardian, 0) << "no guardian process";

    ASSERT_EQ(::kill(holder, SIGKILL), 0);
    int status = 0;
    ASSERT_EQ(::waitpid(holder, &status, 0), holder);
    EXPECT_TRUE(WIFSIGNALED(status));
    EXPECT_TRUE(eventually([&] { return cap_uw() == 300'000'000U; })) << "cap not restored: " << cap_uw();
    EXPECT_TRUE(eventually([&] { return journal_files() == 0U; }));
    if (guardian > 0) {
        EXPECT_TRUE(eventually([&] { return process_ended(guardian); })) << "the guardian did not exit";
    }
}

// The GPU seen only through hwmon is GPU 0 of the machine's one index space: `measure
// --power-cap` caps it through power1_cap for the run (the command reads the cap file) and
// restores it after; a cap outside its range is refused naming the range, nothing written.
TEST_F(HwmonCapsCli, MeasurePowerCapCapsAHwmonOnlyGpuForTheRunAndRestoresIt) {
    const fs::path cap_file = m_tree.root() / "hwmon3" / "power1_cap";
    const fs::path seen = m_dir.path() / "seen";
    const auto r = jb({"measure", "--power-cap", "150", "--", "sh", "-c",
                       "cat '" + cap_file.string() + "' > '" + seen.string() + "'"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(std::stoull(read_file(seen)), 150'000'000u) << "the cap during the run";
    EXPECT_EQ(cap_uw(), 300'000'000u) << "restored after the run";
    EXPECT_EQ(journal_files(), 0u);

    const auto bad = jb({"measure", "--power-cap", "50", "--", "true"});
    EXPECT_EQ(bad.exit_code, 2) << bad.err;
    EXPECT_THAT(bad.err, HasSubstr("100"));
    EXPECT_THAT(bad.err, HasSubstr("300"));
    EXPECT_EQ(cap_uw(), 300'000'000u) << "nothing written";
}

}  // namespace
}  // namespace joulebench::test
