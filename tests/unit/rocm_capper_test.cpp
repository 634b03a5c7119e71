// The ROCm SMI power capper through the fake librocm_smi64.so.1, the journal and ScopedCap.

#include "capping/rocm_capper.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <csignal>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "capping/cap_journal.hpp"
#include "capping/cap_session.hpp"
#include "capping/scoped_cap.hpp"
#include "fakes/test_support.hpp"
#include "sensors/rocm/rocm_device.hpp"

namespace joulebench::capping {
namespace {

using nlohmann::json;
using test::ScopedEnv;
using test::TempDir;
using ::testing::HasSubstr;

class RocmCapperTest : public ::testing::Test {
protected:
    TempDir m_dir{"joulebench-rocm-cap"};
    std::filesystem::path m_state = m_dir.path() / "state.json";
    std::filesystem::path m_journal_dir = m_dir.path() / "caps";
    ScopedEnv m_library{"JOULEBENCH_ROCM_SMI_LIBRARY", std::string(JOULEBENCH_FAKE_ROCM_SMI_PATH)};
    ScopedEnv m_state_env{"JOULEBENCH_FAKE_ROCM_SMI_STATE", m_state.string()};
    CapJournal m_journal{m_journal_dir};

    void SetUp() override {
        const json doc{{"gpus",
                        {{{"name", "AMD Instinct MI210"},
                          {"unique_id", 0x42},
                          {"bdfid", 0x300},
                          {"power_uw", 100'000'000},
                          {"cap_uw", 300'000'000},
                          {"cap_min_uw", 100'000'000},
                          {"cap_max_uw", 300'000'000},
                          {"cap_default_uw", 300'000'000}}}}};
        std::ofstream(m_state) << doc.dump();
    }
    rocm::RocmLibraryOptions library_options() const {
        rocm::RocmLibraryOptions o;
        o.driver_markers = {m_dir.path().string()};
        return o;
    }
    std::unique_ptr<RocmCapper> capper() {
        const auto library = rocm::RocmLibrary::load(library_options());
        std::vector<std::string> notes;
        auto devices = rocm::RocmDevice::enumerate(library, notes);
        return std::make_unique<RocmCapper>(devices.at(0));
    }
    json state() const { return json::parse(std::ifstream(m_state)); }
    std::uint64_t cap_uw() const { return state()["gpus"][0]["cap_uw"].get<std::uint64_t>(); }
    std::size_t journal_files() const {
        if (!std::filesystem::exists(m_journal_dir)) return 0;
        std::size_t n = 0;
        for (const auto& e : std::filesystem::directory_iterator(m_journal_dir)) {
            if (e.path().extension() == ".json") ++n;
        }
        return n;
    }
};

TEST_F(RocmCapperTest, DescribesTheGpuAndReadsItsRange) {
    const auto c = capper();
    EXPECT_EQ(c->info().backend, "rocm");
    EXPECT_EQ(c->info().id, "amdgpu0");
    EXPECT_EQ(c->info().key, "0x0000000000000042");
    EXPECT_EQ(c->info().label, "AMD GPU 0 (AMD Instinct MI210, 0000:03:00.0)");
    EXPECT_DOUBLE_EQ(c->current_limit().value(), 300.0);
    EXPECT_DOUBLE_EQ(c->constraints().min.value(), 100.0);
    EXPECT_DOUBLE_EQ(c->constraints().max.value(), 300.0);
    EXPECT_DOUBLE_EQ(c->default_limit()->value(), 300.0);
}

TEST_F(RocmCapperTest, ScopedCapSetsJournalsAndRestores) {
    {
        ScopedCap cap(capper(), Watts(200.0), m_journal);
        EXPECT_EQ(cap_uw(), 200'000'000U);
        EXPECT_EQ(journal_files(), 1U);
        EXPECT_DOUBLE_EQ(cap.outcome().original.value(), 300.0);
        EXPECT_TRUE(cap.restore());
    }
    EXPECT_EQ(cap_uw(), 300'000'000U);
    EXPECT_EQ(journal_files(), 0U);
}

TEST_F(RocmCapperTest, ACapOutsideTheRangeIsRefusedNamingItAndNothingIsWritten) {
    try {
        ScopedCap cap(capper(), Watts(350.0), m_journal);
        FAIL() << "350 W is above the 300 W maximum";
    } catch (const Error& e) {
        EXPECT_EQ(e.category(), ErrorCategory::kInvalidArgument);
        EXPECT_THAT(e.what(), HasSubstr("AMD GPU 0 (AMD Instinct MI210, 0000:03:00.0)"));
        EXPECT_THAT(e.what(), HasSubstr("outside the allowed range 100 W to 300 W"));
    }
    EXPECT_EQ(cap_uw(), 300'000'000U);
    EXPECT_EQ(journal_files(), 0U);
}

TEST_F(RocmCapperTest, ARefusedWriteSaysWhyWithAHint) {
    auto doc = state();
    doc["gpus"][0]["errors"] = {{"rsmi_dev_power_cap_set", 4}};  // RSMI_STATUS_PERMISSION
    std::ofstream(m_state) << doc.dump();
    try {
        ScopedCap cap(capper(), Watts(200.0), m_journal);
        FAIL() << "the write is refused";
    } catch (const Error& e) {
        EXPECT_EQ(e.category(), ErrorCategory::kNoPermission);
        EXPECT_THAT(e.what(), HasSubstr("rocm: set power cap of AMD GPU 0"));
        EXPECT_THAT(e.what(), HasSubstr("RSMI_STATUS_PERMISSION"));
        EXPECT_FALSE(e.hint().empty());
    }
    EXPECT_EQ(journal_files(), 0U);
}

TEST_F(RocmCapperTest, ALeftoverOfADeadRunIsRestoredThroughTheFactory) {
    const pid_t child = ::fork();
    if (child == 0) {
        ::pause();
        ::_exit(0);
    }
    const auto c = capper();
    JournalEntry dead = new_journal_entry(c->info(), Watts(300.0), Watts(300.0), Watts(150.0));
    dead.owner = ProcessIdentity::of(child);
    ::kill(child, SIGKILL);
    int status = 0;
    ::waitpid(child, &status, 0);
    m_journal.create(dead);
    c->set_limit(Watts(150.0));  // what the dead run left
    ASSERT_EQ(cap_uw(), 150'000'000U);

    CapperFactory factory({}, library_options());
    const auto report = restore_journal(m_journal, factory, {});
    EXPECT_TRUE(report.ok()) << ::testing::PrintToString(report.failed);
    ASSERT_EQ(report.restored.size(), 1U);
    EXPECT_THAT(report.restored[0], HasSubstr("AMD GPU 0"));
    EXPECT_EQ(cap_uw(), 300'000'000U);
    EXPECT_EQ(journal_files(), 0U);
}

}  // namespace
}  // namespace joulebench::capping
