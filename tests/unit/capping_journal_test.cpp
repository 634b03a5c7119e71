// The crash-safe journal: state folder resolution, the on-disk format, never overwriting an entry,
// malformed files named with their problem, and process identity that survives pid reuse.

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <nlohmann/json.hpp>

#include "capping/cap_journal.hpp"
#include "fakes/test_support.hpp"
#include "joulebench/error.hpp"

namespace joulebench::capping {
namespace {

namespace fs = std::filesystem;
using test::read_file;
using test::ScopedEnv;
using test::TempDir;
using test::write_file;

CapDeviceInfo gpu_info() {
    CapDeviceInfo d;
    d.target = CapTarget::kGpu;
    d.index = 1;
    d.id = "gpu1";
    d.key = "GPU-fa4e0000-0000-4000-8000-000000000001";
    d.backend = "nvml";
    d.source = d.key;
    d.name = "NVIDIA A100-SXM4-40GB";
    d.label = "GPU 1 (NVIDIA A100-SXM4-40GB, 00000000:27:00.0)";
    return d;
}

// The identity of a process that has ended and been reaped.
ProcessIdentity dead_process() {
    const pid_t pid = ::fork();
    if (pid == 0) {
        ::pause();
        ::_exit(0);
    }
    ProcessIdentity id = ProcessIdentity::of(pid);
    ::kill(pid, SIGKILL);
    int status = 0;
    ::waitpid(pid, &status, 0);
    return id;
}

TEST(CappingStateDir, EnvironmentThenRootDefault) {
    {
        const ScopedEnv env("JOULEBENCH_STATE_DIR", std::string("/some/where"));
        EXPECT_EQ(state_dir(), fs::path("/some/where"));
    }
    const ScopedEnv env("JOULEBENCH_STATE_DIR", std::nullopt);
    const ScopedEnv xdg("XDG_STATE_HOME", std::string("/xdg"));
    if (::geteuid() == 0) {
        EXPECT_EQ(state_dir(), fs::path("/var/lib/joulebench"));
    } else {
        EXPECT_EQ(state_dir(), fs::path("/xdg/joulebench"));
    }
}

TEST(CappingJournal, EntryRoundTripsThroughJsonExactly) {
    JournalEntry e = new_journal_entry(gpu_info(), Watts(400.0), Watts(350.0), Watts(123.456));
    const JournalEntry back = entry_from_json(entry_to_json(e), "mem");
    EXPECT_EQ(back.backend, "nvml");
    EXPECT_EQ(back.key, e.key);
    EXPECT_EQ(back.label, e.label);
    EXPECT_EQ(back.original_limit_uw, 400000000U);
    ASSERT_TRUE(back.default_limit_uw);
    EXPECT_EQ(*back.default_limit_uw, 350000000U);
    EXPECT_EQ(back.requested_limit_uw, 123456000U);
    EXPECT_EQ(back.owner.pid, ::getpid());
    EXPECT_EQ(back.owner.start_ticks, ProcessIdentity::self().start_ticks);
    EXPECT_FALSE(back.owner.boot_id.empty());
    EXPECT_EQ(back.created_at, e.created_at);
    EXPECT_EQ(back.created_at.size(), 24U) << back.created_at;  // 2026-11-21T14:30:00.123Z
    const auto j = nlohmann::json::parse(entry_to_json(e));
    EXPECT_EQ(j.at("format"), "joulebench-power-cap-journal");
    EXPECT_EQ(j.at("version"), 1);
}

TEST(CappingJournal, CreateWritesOneFileAndNeverOverwrites) {
    TempDir dir;
    const CapJournal journal(dir.path() / "caps");
    const JournalEntry first = new_journal_entry(gpu_info(), Watts(400.0), std::nullopt, Watts(250.0));
    journal.create(first);
    const fs::path file = journal.path_for("nvml", first.key);
    EXPECT_EQ(file.filename().string(), "nvml-GPU-fa4e0000-0000-4000-8000-000000000001.json");
    const std::string before = read_file(file);

    // A second run (the first one crashed) must not replace the true original.
    const JournalEntry second = new_journal_entry(gpu_info(), Watts(250.0), std::nullopt, Watts(200.0));
    try {
        journal.create(second);
        FAIL() << "an existing entry was overwritten";
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("already exists"), std::string::npos) << e.what();
        EXPECT_NE(std::string(e.what()).find("original limit 400 W"), std::string::npos) << e.what();
        EXPECT_NE(e.hint().find("joulebench caps restore"), std::string::npos);
    }
    EXPECT_EQ(read_file(file), before);
    // No temporary file is left beside it.
    std::vector<std::string> names;
    for (const auto& f : fs::directory_iterator(journal.dir())) names.push_back(f.path().filename().string());
    std::sort(names.begin(), names.end());
    EXPECT_EQ(names, (std::vector<std::string>{file.filename().string()}));

    const auto found = journal.find("nvml", first.key);
    ASSERT_TRUE(found);
    EXPECT_EQ(found->original_limit_uw, 400000000U);
    EXPECT_EQ(found->path, file);
    journal.remove(*found);
    EXPECT_FALSE(fs::exists(file));
    EXPECT_NO_THROW(journal.remove(*found));  // already gone is fine
    EXPECT_FALSE(journal.find("nvml", first.key));
}

TEST(CappingJournal, ListReportsMalformedFilesByNameAndCause) {
    TempDir dir;
    const CapJournal journal(dir.path());
    journal.create(new_journal_entry(gpu_info(), Watts(400.0), std::nullopt, Watts(250.0)));
    write_file(dir.path() / "nvml-broken.json", "{\"format\": \"joulebench-power-cap-journal\", \"version\": 1}");
    write_file(dir.path() / "nvml-notjson.json", "{ truncated");
    write_file(dir.path() / ".nvml-x.json.tmp.123", "{}");  // a crash between write and rename
    write_file(dir.path() / "README", "not an entry");
    std::vector<std::string> problems;
    const auto entries = journal.list(&problems);
    ASSERT_EQ(entries.size(), 1U);
    ASSERT_EQ(problems.size(), 2U);
    std::sort(problems.begin(), problems.end());
    EXPECT_NE(problems[0].find("nvml-broken.json: field 'backend' is missing"), std::string::npos) << problems[0];
    EXPECT_NE(problems[1].find("nvml-notjson.json: not JSON"), std::string::npos) << problems[1];
}

TEST(CappingJournal, FieldsOfTheWrongTypeAreNamed) {
    JournalEntry e = new_journal_entry(gpu_info(), Watts(400.0), std::nullopt, Watts(250.0));
    auto j = nlohmann::json::parse(entry_to_json(e));
    j["original_limit_uw"] = "400 W";
    try {
        (void)entry_from_json(j.dump(), "/state/caps/x.json");
        FAIL();
    } catch (const Error& err) {
        EXPECT_NE(std::string(err.what()).find("/state/caps/x.json: field 'original_limit_uw': not an unsigned integer"),
                  std::string::npos)
            << err.what();
    }
    j = nlohmann::json::parse(entry_to_json(e));
    j["version"] = 2;
    EXPECT_THROW((void)entry_from_json(j.dump(), "x"), Error);
    j = nlohmann::json::parse(entry_to_json(e));
    j["backend"] = "amdsmi";
    EXPECT_THROW((void)entry_from_json(j.dump(), "x"), Error);
}

TEST(CappingJournal, ProcessIdentitySurvivesPidReuseAndReboots) {
    EXPECT_TRUE(ProcessIdentity::self().alive());
    EXPECT_FALSE(dead_process().alive());
    ProcessIdentity reused = ProcessIdentity::self();
    reused.start_ticks += 1;  // same pid, another process
    EXPECT_FALSE(reused.alive());
    ProcessIdentity other_boot = ProcessIdentity::self();
    other_boot.boot_id = "00000000-0000-0000-0000-000000000000";
    EXPECT_FALSE(other_boot.alive());
}

TEST(CappingJournal, AnUnwritableFolderGivesAHint) {
    if (::geteuid() == 0) GTEST_SKIP() << "root writes everywhere";
    const CapJournal journal("/proc/joulebench-caps");
    try {
        journal.create(new_journal_entry(gpu_info(), Watts(400.0), std::nullopt, Watts(250.0)));
        FAIL();
    } catch (const Error& e) {
        EXPECT_NE(e.hint().find("JOULEBENCH_STATE_DIR"), std::string::npos);
    }
}

}  // namespace
}  // namespace joulebench::capping
