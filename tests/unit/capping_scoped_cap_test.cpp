// ScopedCap, CapSession and the journal replay against the fake NVML (loaded through the
// production dlopen path) and a PowerCapper whose faults a test sets: set, verify, restore;
// per-GPU caps; out of range; write refused; verification failures; leftovers.

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>

#include <fmt/format.h>

#include "capping/cap_session.hpp"
#include "capping/nvml_capper.hpp"
#include "capping/scoped_cap.hpp"
#include "fakes/fake_nvml_builder.hpp"
#include "fakes/test_support.hpp"
#include "joulebench/error.hpp"

namespace joulebench::capping {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using test::FakeNvmlEnvironment;
using test::FakeNvmlState;
using test::TempDir;

constexpr const char* kSetter = "nvmlDeviceSetPowerManagementLimit";

// A capper in memory whose faults a test chooses.
class MemoryCapper final : public PowerCapper {
public:
    struct Device {
        Watts limit{300.0};
        bool refuse_writes = false;       // set_limit throws kNoPermission
        std::optional<Watts> sticky;      // the device keeps this whatever is written
        int writes = 0;
    };
    explicit MemoryCapper(Device& device) : m_device(device) {
        m_info.target = CapTarget::kGpu;
        m_info.index = 0;
        m_info.id = "gpu0";
        m_info.key = "MEM-0";
        m_info.backend = "nvml";
        m_info.source = "MEM-0";
        m_info.name = "memory";
        m_info.label = "GPU 0 (memory)";
    }
    [[nodiscard]] const CapDeviceInfo& info() const override { return m_info; }
    [[nodiscard]] Watts current_limit() const override { return m_device.limit; }
    [[nodiscard]] Watts enforced_limit() const override { return m_device.limit; }
    [[nodiscard]] CapRange constraints() const override { return {Watts(100.0), Watts(300.0)}; }
    [[nodiscard]] std::optional<Watts> default_limit() const noexcept override { return Watts(300.0); }
    void set_limit(Watts limit) override {
        if (m_device.refuse_writes) throw Error(ErrorCategory::kNoPermission, "memory: refused", "be root");
        ++m_device.writes;
        m_device.limit = m_device.sticky.value_or(limit);
    }
    [[nodiscard]] Watts tolerance() const override { return Watts(0.001); }

private:
    Device& m_device;
    CapDeviceInfo m_info;
};

class ScopedCapTest : public ::testing::Test {
protected:
    TempDir m_dir{"joulebench-caps"};
    fs::path m_state_path = m_dir.path() / "nvml.json";
    FakeNvmlState m_state{m_state_path, 2};
    FakeNvmlEnvironment m_env{m_state_path};
    CapJournal m_journal{m_dir.path() / "state" / "caps"};

    std::unique_ptr<PowerCapper> gpu(int index) {
        const auto system = nvml::NvmlSystem::open();
        return std::make_unique<NvmlCapper>(system.devices().at(static_cast<std::size_t>(index)));
    }
    std::size_t journal_files() const { return m_journal.list().size(); }
};

TEST_F(ScopedCapTest, SetsVerifiesAndRestoresTheOriginalThenClearsTheJournal) {
    m_state.set_limits(1, {350000, 350000, 100000, 400000, 400000});
    {
        ScopedCap cap(gpu(1), Watts(250.0), m_journal);
        EXPECT_EQ(m_state.limits(1).current_mw, 250000U);
        EXPECT_EQ(m_state.limits(1).enforced_mw, 250000U);
        EXPECT_EQ(m_state.limits(0).current_mw, 400000U);  // the other GPU untouched
        ASSERT_TRUE(cap.outcome().enforced);
        EXPECT_EQ(*cap.outcome().enforced, Watts(250.0));
        EXPECT_EQ(cap.outcome().original, Watts(350.0));  // the original, not the default or the max
        const auto entry = m_journal.find("nvml", cap.capper().info().key);
        ASSERT_TRUE(entry);
        EXPECT_EQ(entry->original_limit_uw, 350000000U);
        EXPECT_EQ(entry->requested_limit_uw, 250000000U);
        EXPECT_EQ(entry->default_limit_uw.value_or(0), 400000000U);
        EXPECT_EQ(entry->owner.pid, ::getpid());
        EXPECT_TRUE(cap.restore());
        EXPECT_TRUE(cap.outcome().restored);
        EXPECT_EQ(m_state.limits(1).current_mw, 350000U);
        EXPECT_EQ(journal_files(), 0U);
    }
    const auto calls = m_state.calls();
    ASSERT_EQ(calls.size(), 2U);  // restore ran once: the destructor did not write again
    EXPECT_EQ(calls[0].value, 250000U);
    EXPECT_EQ(calls[1].value, 350000U);
    EXPECT_EQ(calls[1].gpu, 1U);
}

TEST_F(ScopedCapTest, TheDestructorRestores) {
    { ScopedCap cap(gpu(0), Watts(200.0), m_journal); }
    EXPECT_EQ(m_state.limits(0).current_mw, 400000U);
    EXPECT_EQ(journal_files(), 0U);
    EXPECT_EQ(m_state.calls().size(), 2U);
}

TEST_F(ScopedCapTest, OutOfRangeNamesTheRangeInWattsAndWritesNothing) {
    for (const double w : {99.0, 400.5, 0.0, -5.0}) {
        try {
            ScopedCap cap(gpu(0), Watts(w), m_journal);
            FAIL() << w << " W was accepted";
        } catch (const Error& e) {
            EXPECT_EQ(e.category(), ErrorCategory::kInvalidArgument);
            EXPECT_EQ(e.exit_code(), 2);
            if (w > 0) {
                EXPECT_THAT(e.what(), HasSubstr("outside the allowed range 100 W to 400 W")) << e.what();
                EXPECT_THAT(e.what(), HasSubstr("GPU 0 (NVIDIA A100-SXM4-40GB, 00000000:17:00.0)"));
            }
        }
    }
    EXPECT_TRUE(m_state.calls().empty());
    EXPECT_EQ(journal_files(), 0U);
    EXPECT_FALSE(fs::exists(m_journal.dir()));  // nothing was even created
}

TEST_F(ScopedCapTest, NoPermissionGivesAHintAndLeavesNothingBehind) {
    m_state.inject_error(kSetter, 4);  // NVML_ERROR_NO_PERMISSION
    try {
        ScopedCap cap(gpu(0), Watts(250.0), m_journal);
        FAIL();
    } catch (const Error& e) {
        EXPECT_EQ(e.category(), ErrorCategory::kNoPermission);
        EXPECT_THAT(e.what(), HasSubstr("Insufficient Permissions"));
        EXPECT_THAT(e.hint(), HasSubstr("root"));
    }
    EXPECT_EQ(m_state.limits(0).current_mw, 400000U);
    EXPECT_EQ(journal_files(), 0U);
    const auto calls = m_state.calls();
    ASSERT_EQ(calls.size(), 1U);  // the refused write, and no restore of an unchanged limit
    EXPECT_EQ(calls[0].result, 4);
}

TEST_F(ScopedCapTest, AnExistingEntryIsNeverOverwrittenAndNothingIsWritten) {
    // A run that crashed left GPU 0 at 200 W with its true original, 400 W.
    JournalEntry leftover = new_journal_entry(gpu(0)->info(), Watts(400.0), Watts(400.0), Watts(200.0));
    leftover.owner.pid = 1;
    leftover.owner.start_ticks = 1;  // not init's: a dead process
    m_journal.create(leftover);
    m_state.set_limits(0, {200000, 200000, 100000, 400000, 400000});
    const std::string before = test::read_file(m_journal.path_for("nvml", leftover.key));
    EXPECT_THROW(ScopedCap(gpu(0), Watts(250.0), m_journal), Error);
    EXPECT_EQ(test::read_file(m_journal.path_for("nvml", leftover.key)), before);
    EXPECT_TRUE(m_state.calls().empty());
}

TEST_F(ScopedCapTest, AnotherRunningJoulebenchsCapIsRefused) {
    JournalEntry live = new_journal_entry(gpu(0)->info(), Watts(400.0), Watts(400.0), Watts(200.0));
    m_journal.create(live);  // owned by this very (running) process
    try {
        ScopedCap cap(gpu(0), Watts(250.0), m_journal);
        FAIL();
    } catch (const Error& e) {
        EXPECT_THAT(e.what(), HasSubstr(fmt::format("another joulebench (pid {})", ::getpid())));
    }
    EXPECT_TRUE(m_state.calls().empty());
}

TEST(ScopedCapFaults, AValueTheDeviceDoesNotKeepIsRolledBackAndReported) {
    TempDir dir;
    const CapJournal journal(dir.path());
    MemoryCapper::Device device;
    device.sticky = Watts(300.0);  // the write "succeeds" but the limit stays
    try {
        ScopedCap cap(std::make_unique<MemoryCapper>(device), Watts(150.0), journal);
        FAIL();
    } catch (const Error& e) {
        EXPECT_THAT(e.what(), HasSubstr("reads back 300 W after writing 150 W"));
    }
    EXPECT_TRUE(journal.list().empty());  // unchanged: rolled back, entry cleared
}

TEST(ScopedCapFaults, AFailedRestoreKeepsTheJournalEntry) {
    TempDir dir;
    const CapJournal journal(dir.path());
    MemoryCapper::Device device;
    {
        ScopedCap cap(std::make_unique<MemoryCapper>(device), Watts(150.0), journal);
        EXPECT_EQ(device.limit, Watts(150.0));
        device.refuse_writes = true;
        EXPECT_FALSE(cap.restore());
        EXPECT_THAT(cap.outcome().restore_error, HasSubstr("memory: refused"));
        EXPECT_THAT(cap.outcome().restore_error, HasSubstr("kept"));
        EXPECT_FALSE(cap.restore());  // once only
    }
    const auto entries = journal.list();
    ASSERT_EQ(entries.size(), 1U);
    EXPECT_EQ(entries[0].original_limit_uw, 300000000U);
}

TEST_F(ScopedCapTest, SessionCapsEachGpuAndRestoresInReverseOrder) {
    CapRequest request;
    CapRequest::parse_gpu_caps("0=250,1=300", request);
    CapEnvironment env;
    auto session = std::make_unique<CapSession>(resolve_request(request, env), m_journal, std::nullopt);
    EXPECT_EQ(m_state.limits(0).current_mw, 250000U);
    EXPECT_EQ(m_state.limits(1).current_mw, 300000U);
    EXPECT_EQ(journal_files(), 2U);
    EXPECT_TRUE(session->restore_all());
    EXPECT_EQ(m_state.limits(0).current_mw, 400000U);
    EXPECT_EQ(m_state.limits(1).current_mw, 400000U);
    EXPECT_EQ(journal_files(), 0U);
    const auto calls = m_state.calls();
    ASSERT_EQ(calls.size(), 4U);
    EXPECT_EQ(std::vector<unsigned>({calls[0].gpu, calls[1].gpu, calls[2].gpu, calls[3].gpu}),
              std::vector<unsigned>({0, 1, 1, 0}));
}

TEST_F(ScopedCapTest, SessionChecksEveryRangeBeforeTheFirstWrite) {
    CapRequest request;
    CapRequest::parse_gpu_caps("0=250,1=450", request);
    CapEnvironment env;
    try {
        CapSession session(resolve_request(request, env), m_journal, std::nullopt);
        FAIL();
    } catch (const Error& e) {
        EXPECT_EQ(e.exit_code(), 2);
        EXPECT_THAT(e.what(), HasSubstr("GPU 1"));
        EXPECT_THAT(e.what(), HasSubstr("100 W to 400 W"));
    }
    EXPECT_TRUE(m_state.calls().empty());  // GPU 0 was valid but was not capped either
}

TEST_F(ScopedCapTest, SessionUndoesEarlierCapsWhenALaterGpuRefuses) {
    m_state.inject_error(1, kSetter, 4);
    CapRequest request;
    request.all_gpus = Watts(250.0);
    CapEnvironment env;
    EXPECT_THROW(CapSession(resolve_request(request, env), m_journal, std::nullopt), Error);
    EXPECT_EQ(m_state.limits(0).current_mw, 400000U);
    EXPECT_EQ(m_state.limits(1).current_mw, 400000U);
    EXPECT_EQ(journal_files(), 0U);
    const auto calls = m_state.calls();
    ASSERT_EQ(calls.size(), 3U);  // GPU 0 capped, GPU 1 refused, GPU 0 restored
    EXPECT_EQ(calls[0].gpu, 0U);
    EXPECT_EQ(calls[1].gpu, 1U);
    EXPECT_EQ(calls[1].result, 4);
    EXPECT_EQ(calls[2].gpu, 0U);
    EXPECT_EQ(calls[2].value, 400000U);
}

TEST_F(ScopedCapTest, PerGpuCapsMustNameAMeasuredExistingGpu) {
    CapRequest request;
    CapRequest::parse_gpu_caps("1=250", request);
    CapEnvironment env;
    env.gpus = nvml::GpuSelection::list({0});
    try {
        (void)resolve_request(request, env);
        FAIL();
    } catch (const Error& e) {
        EXPECT_EQ(e.exit_code(), 2);
        EXPECT_THAT(e.what(), HasSubstr("GPU 1 is not measured"));
    }
    CapRequest missing;
    CapRequest::parse_gpu_caps("5=250", missing);
    try {
        (void)resolve_request(missing, CapEnvironment{});
        FAIL();
    } catch (const Error& e) {
        EXPECT_EQ(e.exit_code(), 2);
        EXPECT_THAT(e.what(), HasSubstr("valid indices: 0 to 1"));
    }
}

TEST(CapRequestParse, AcceptsWattsOrIndexPairsAndNamesBadItems) {
    CapRequest all;
    CapRequest::parse_gpu_caps("250.5", all);
    ASSERT_TRUE(all.all_gpus);
    EXPECT_EQ(*all.all_gpus, Watts(250.5));
    CapRequest pairs;
    CapRequest::parse_gpu_caps("0=250,2=300", pairs);
    ASSERT_EQ(pairs.per_gpu.size(), 2U);
    EXPECT_EQ(pairs.per_gpu[1].first, 2);
    EXPECT_EQ(pairs.per_gpu[1].second, Watts(300.0));
    for (const std::string bad : {"", "abc", "-5", "0", "0=", "=250", "x=250", "0=250,0=300", "0=250,300", "0=nan"}) {
        CapRequest r;
        try {
            CapRequest::parse_gpu_caps(bad, r);
            ADD_FAILURE() << "accepted '" << bad << "'";
        } catch (const Error& e) {
            EXPECT_EQ(e.exit_code(), 2) << bad;
            EXPECT_THAT(e.what(), HasSubstr("--power-cap '" + bad + "'"));
        }
    }
}

TEST_F(ScopedCapTest, ReplayRestoresLeftoversOfDeadRunsOnlyUnlessForced) {
    // A dead run left GPU 0 at 200 W; this (live) process holds GPU 1 at 300 W.
    const pid_t child = ::fork();
    if (child == 0) {
        ::pause();
        ::_exit(0);
    }
    JournalEntry dead = new_journal_entry(gpu(0)->info(), Watts(400.0), Watts(400.0), Watts(200.0));
    dead.owner = ProcessIdentity::of(child);
    ::kill(child, SIGKILL);
    int status = 0;
    ::waitpid(child, &status, 0);
    m_journal.create(dead);
    m_journal.create(new_journal_entry(gpu(1)->info(), Watts(400.0), Watts(400.0), Watts(300.0)));
    m_state.set_limits(0, {200000, 200000, 100000, 400000, 400000});
    m_state.set_limits(1, {300000, 300000, 100000, 400000, 400000});

    CapperFactory factory;
    const auto report = restore_journal(m_journal, factory, {});
    EXPECT_TRUE(report.ok());
    ASSERT_EQ(report.restored.size(), 1U);
    EXPECT_THAT(report.restored[0], HasSubstr("GPU 0"));
    ASSERT_EQ(report.skipped.size(), 1U);
    EXPECT_THAT(report.skipped[0], HasSubstr("running joulebench"));
    EXPECT_EQ(m_state.limits(0).current_mw, 400000U);
    EXPECT_EQ(m_state.limits(1).current_mw, 300000U);
    EXPECT_EQ(journal_files(), 1U);

    RestoreFilter force;
    force.mode = RestoreFilter::Mode::kAll;
    const auto forced = restore_journal(m_journal, factory, force);
    EXPECT_EQ(forced.restored.size(), 1U);
    EXPECT_EQ(m_state.limits(1).current_mw, 400000U);
    EXPECT_EQ(journal_files(), 0U);
}

TEST_F(ScopedCapTest, AReplayThatFailsKeepsTheEntryAndSaysWhy) {
    JournalEntry gone = new_journal_entry(gpu(0)->info(), Watts(400.0), Watts(400.0), Watts(200.0));
    gone.owner.pid = 1;
    gone.owner.start_ticks = 1;
    gone.source = gone.key = "GPU-not-here";
    m_journal.create(gone);
    CapperFactory factory;
    const auto report = restore_journal(m_journal, factory, {});
    ASSERT_EQ(report.failed.size(), 1U);
    EXPECT_THAT(report.failed[0], HasSubstr("no GPU with UUID GPU-not-here"));
    EXPECT_THAT(report.failed[0], HasSubstr("kept"));
    EXPECT_EQ(journal_files(), 1U);
    EXPECT_TRUE(m_state.calls().empty());
}

// An entry filed under GPU 0's key whose source names GPU 1, or an entry in a file not named
// after its key, is refused and kept: nothing is written to either GPU (issue 13, defect 3).
TEST_F(ScopedCapTest, AnEntryThatDisagreesWithItsKeyOrFileIsRefusedAndKept) {
    m_state.set_limits(0, {200000, 200000, 100000, 400000, 400000});
    m_state.set_limits(1, {300000, 300000, 100000, 400000, 400000});
    JournalEntry forged = new_journal_entry(gpu(0)->info(), Watts(400.0), Watts(400.0), Watts(200.0));
    forged.owner.pid = 1;
    forged.owner.start_ticks = 1;
    forged.source = gpu(1)->info().source;  // GPU 1's UUID, filed under GPU 0's key
    m_journal.create(forged);
    CapperFactory factory;
    const auto report = restore_journal(m_journal, factory, {});
    ASSERT_EQ(report.failed.size(), 1U);
    EXPECT_THAT(report.failed[0], HasSubstr("does not agree with itself"));
    EXPECT_THAT(report.failed[0], HasSubstr(gpu(1)->info().key));
    EXPECT_THAT(report.failed[0], HasSubstr("kept"));
    EXPECT_TRUE(report.restored.empty());
    EXPECT_EQ(journal_files(), 1U);
    EXPECT_EQ(m_state.limits(0).current_mw, 200000U);
    EXPECT_EQ(m_state.limits(1).current_mw, 300000U);

    // A whole, consistent entry for GPU 1 moved into GPU 0's file name.
    std::filesystem::remove(m_journal.path_for(forged.backend, forged.key));
    JournalEntry moved = new_journal_entry(gpu(1)->info(), Watts(400.0), Watts(400.0), Watts(300.0));
    moved.owner = forged.owner;
    m_journal.create(moved);
    std::filesystem::rename(m_journal.path_for(moved.backend, moved.key),
                            m_journal.path_for(forged.backend, forged.key));
    const auto second = restore_journal(m_journal, factory, {});
    ASSERT_EQ(second.failed.size(), 1U);
    EXPECT_THAT(second.failed[0], HasSubstr("the file's name is not"));
    EXPECT_TRUE(second.restored.empty());
    EXPECT_EQ(journal_files(), 1U);
    EXPECT_EQ(m_state.limits(1).current_mw, 300000U);
    EXPECT_TRUE(m_state.calls().empty());
}

TEST(PowerCapResults, AGpuIsThrottledWhenSwPowerCapWasSeen) {
    CapOutcome gpu0;
    gpu0.device.target = CapTarget::kGpu;
    gpu0.device.index = 0;
    gpu0.device.id = "gpu0";
    gpu0.requested = Watts(250.0);
    gpu0.original = Watts(400.0);
    gpu0.restored = true;
    CapOutcome gpu1 = gpu0;
    gpu1.device.index = 1;
    CapOutcome cpu = gpu0;
    cpu.device.target = CapTarget::kCpuPackage;
    std::vector<GpuResult> gpus(2);
    gpus[0].index = 0;
    gpus[0].throttle_mask = 0x4 | 0x1;
    gpus[1].index = 1;
    gpus[1].throttle_mask = 0x40;
    const auto r = power_cap_results({gpu0, gpu1, cpu}, gpus);
    ASSERT_EQ(r.size(), 3U);
    EXPECT_EQ(r[0].throttled, std::optional<bool>(true));
    EXPECT_EQ(r[1].throttled, std::optional<bool>(false));
    EXPECT_EQ(r[2].throttled, std::nullopt);
    EXPECT_EQ(r[2].kind, "package");
    EXPECT_EQ(r[0].requested_w, 250.0);
    EXPECT_EQ(r[0].original_w, 400.0);
}

}  // namespace
}  // namespace joulebench::capping
