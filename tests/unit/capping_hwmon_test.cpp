// The amdgpu hwmon power capper (power1_cap) on a fake hwmon tree whose cap files are plain
// writable files, through ScopedCap, the journal and CapperFactory as the real runs use them.

#include "capping/hwmon_capper.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <csignal>
#include <fstream>

#include "capping/cap_journal.hpp"
#include "capping/cap_session.hpp"
#include "capping/scoped_cap.hpp"
#include "common/sysfs.hpp"
#include "fakes/fake_hwmon_builder.hpp"
#include "fakes/test_support.hpp"

namespace joulebench::capping {
namespace {

namespace fs = std::filesystem;
using test::FakeHwmonTree;
using test::TempDir;
using ::testing::HasSubstr;

class HwmonCapperTest : public ::testing::Test {
protected:
    TempDir m_dir{"joulebench-hwmon-cap"};
    FakeHwmonTree m_tree{m_dir.path() / "sys"};
    fs::path m_journal_dir = m_dir.path() / "caps";
    CapJournal m_journal{m_journal_dir};

    void SetUp() override {
        // An amdgpu board at 300 W, range 100..300 W, default 280 W; hwmon2 is the CPU's sensor.
        m_tree.add_device("hwmon2", "k10temp");
        m_tree.add_temperature("hwmon2", 1, 45000);
        m_tree.add_device("hwmon3", "amdgpu", "0000:03:00.0");
        m_tree.add_power("hwmon3", 1, "average", 120'000'000);
        m_tree.add_power_cap("hwmon3", 300'000'000, 100'000'000, 300'000'000, 280'000'000);
    }
    [[nodiscard]] fs::path gpu_dir() const { return m_tree.root() / "hwmon3"; }
    [[nodiscard]] std::uint64_t cap_uw() const { return m_tree.power_cap_uw("hwmon3"); }
    [[nodiscard]] std::size_t journal_files() const {
        std::size_t n = 0;
        std::error_code ec;
        for (const auto& e : fs::directory_iterator(m_journal_dir, ec)) {
            if (e.path().extension() == ".json") ++n;
        }
        return n;
    }
};

// A driver that does not keep a value below 200 W (as firmware that clamps): it stores 200 W.
int clamping_write(const fs::path& file, std::string_view text, const char** step) noexcept {
    const auto uw = sysfs::parse_u64(text.data(), text.data() + text.size());
    if (uw && *uw < 200'000'000) return sysfs::write_text(file, "200000000\n", step);
    return sysfs::write_text(file, text, step);
}

TEST_F(HwmonCapperTest, DescribesTheGpuByItsPciBusIdAndReadsItsRange) {
    const HwmonCapper c(gpu_dir());
    EXPECT_EQ(c.info().backend, "hwmon");
    EXPECT_EQ(c.info().key, "0000:03:00.0");
    EXPECT_EQ(c.info().source, "0000:03:00.0");
    EXPECT_EQ(c.info().id, "hwmon-gpu0");  // the sensor id of the same GPU
    EXPECT_EQ(c.info().index, 0);
    EXPECT_THAT(c.info().label, HasSubstr("0000:03:00.0"));
    EXPECT_DOUBLE_EQ(c.current_limit().value(), 300.0);
    EXPECT_DOUBLE_EQ(c.constraints().min.value(), 100.0);
    EXPECT_DOUBLE_EQ(c.constraints().max.value(), 300.0);
    ASSERT_TRUE(c.default_limit().has_value());
    EXPECT_DOUBLE_EQ(c.default_limit()->value(), 280.0);
}

TEST_F(HwmonCapperTest, ScopedCapSetsInsideTheRangeJournalsAndRestores) {
    {
        ScopedCap cap(open_hwmon_gpu_capper(gpu_dir()), Watts(150.0), m_journal);
        EXPECT_EQ(cap_uw(), 150'000'000U);
        EXPECT_EQ(journal_files(), 1U);
        EXPECT_TRUE(fs::exists(m_journal.path_for("hwmon", "0000:03:00.0")));
        EXPECT_DOUBLE_EQ(cap.outcome().original.value(), 300.0);
        EXPECT_TRUE(cap.restore());
    }
    EXPECT_EQ(cap_uw(), 300'000'000U);
    EXPECT_EQ(journal_files(), 0U);
}

TEST_F(HwmonCapperTest, ACapOutsideTheRangeIsRefusedNamingItAndNothingIsWritten) {
    try {
        ScopedCap cap(open_hwmon_gpu_capper(gpu_dir()), Watts(350.0), m_journal);
        FAIL() << "350 W is above power1_cap_max";
    } catch (const Error& e) {
        EXPECT_EQ(e.category(), ErrorCategory::kInvalidArgument);
        EXPECT_THAT(e.what(), HasSubstr("0000:03:00.0"));
        EXPECT_THAT(e.what(), HasSubstr("outside the allowed range 100 W to 300 W"));
    }
    EXPECT_EQ(cap_uw(), 300'000'000U);
    EXPECT_EQ(journal_files(), 0U);
}

TEST_F(HwmonCapperTest, AReadBackMismatchIsAnErrorAndTheOriginalIsPutBack) {
    try {
        ScopedCap cap(std::make_unique<HwmonCapper>(gpu_dir(), &clamping_write), Watts(150.0), m_journal);
        FAIL() << "the driver kept 200 W, not 150 W";
    } catch (const Error& e) {
        EXPECT_EQ(e.category(), ErrorCategory::kIo);
        EXPECT_THAT(e.what(), HasSubstr("power1_cap reads back 200 W after the write"));
        EXPECT_THAT(e.what(), HasSubstr("to 150 W"));
    }
    EXPECT_EQ(cap_uw(), 300'000'000U);
    EXPECT_EQ(journal_files(), 0U);
}

TEST_F(HwmonCapperTest, FoldersThatCannotBeCappedSayWhyNamingThePath) {
    m_tree.add_device("hwmon4", "amdgpu", "0000:04:00.0");  // an APU: no power1_cap
    m_tree.add_device("hwmon5", "amdgpu");                  // no PCI device link
    m_tree.add_power_cap("hwmon5", 1, 1, 2);
    const auto expect_error = [](const fs::path& dir, ErrorCategory category, const std::string& text) {
        try {
            (void)open_hwmon_gpu_capper(dir);
            ADD_FAILURE() << dir << " opened";
        } catch (const Error& e) {
            EXPECT_EQ(e.category(), category) << e.what();
            EXPECT_THAT(e.what(), HasSubstr(text));
            EXPECT_FALSE(e.hint().empty()) << e.what();
        }
    };
    expect_error(m_tree.root() / "hwmon4", ErrorCategory::kNotSupported, "hwmon4/power1_cap does not exist");
    expect_error(m_tree.root() / "hwmon5", ErrorCategory::kNotSupported, "hwmon5/device is not a link to a PCI device");
    expect_error(m_tree.root() / "hwmon2", ErrorCategory::kNotSupported, "the driver is 'k10temp', not amdgpu");
    expect_error(m_tree.root() / "hwmon9", ErrorCategory::kNotFound, "no such hwmon folder");
    std::vector<std::string> skipped;
    const auto cappers = hwmon_gpu_cappers(m_tree.root(), skipped);
    ASSERT_EQ(cappers.size(), 1U);
    EXPECT_EQ(cappers[0]->info().key, "0000:03:00.0");
    EXPECT_EQ(skipped.size(), 2U) << ::testing::PrintToString(skipped);
}

TEST_F(HwmonCapperTest, ALeftoverIsRestoredThroughTheFactoryEvenWhenHwmonNumbersChanged) {
    const pid_t child = ::fork();
    if (child == 0) {
        ::pause();
        ::_exit(0);
    }
    JournalEntry dead;
    {
        const HwmonCapper c(gpu_dir());
        dead = new_journal_entry(c.info(), Watts(300.0), c.default_limit(), Watts(150.0));
    }
    dead.owner = ProcessIdentity::of(child);
    ::kill(child, SIGKILL);
    int status = 0;
    ::waitpid(child, &status, 0);
    m_journal.create(dead);
    m_tree.write_file("hwmon3", "power1_cap", "150000000\n");  // what the dead run left
    // After a reboot the kernel may number the folders differently: hwmon3 is now hwmon7.
    fs::rename(gpu_dir(), m_tree.root() / "hwmon7");

    CapperFactory factory({}, {}, m_tree.root());
    const auto report = restore_journal(m_journal, factory, {});
    EXPECT_TRUE(report.ok()) << ::testing::PrintToString(report.failed);
    ASSERT_EQ(report.restored.size(), 1U);
    EXPECT_THAT(report.restored[0], HasSubstr("restored to 300 W"));
    EXPECT_EQ(m_tree.power_cap_uw("hwmon7"), 300'000'000U);
    EXPECT_EQ(journal_files(), 0U);
}

TEST_F(HwmonCapperTest, AnEntryWhoseGpuIsGoneIsKept) {
    JournalEntry dead;
    {
        const HwmonCapper c(gpu_dir());
        dead = new_journal_entry(c.info(), Watts(300.0), std::nullopt, Watts(150.0));
    }
    dead.owner.pid = 999999;
    dead.owner.start_ticks = 1;
    m_journal.create(dead);
    fs::remove(gpu_dir() / "device");  // the GPU is gone (driver unloaded)

    CapperFactory factory({}, {}, m_tree.root());
    const auto report = restore_journal(m_journal, factory, {});
    ASSERT_EQ(report.failed.size(), 1U);
    EXPECT_THAT(report.failed[0], HasSubstr("find the GPU with PCI bus id 0000:03:00.0"));
    EXPECT_THAT(report.failed[0], HasSubstr("kept"));
    EXPECT_EQ(journal_files(), 1U);
}

}  // namespace
}  // namespace joulebench::capping
