// The CPU-time estimate: /proc parsing, the power model and process-tree accounting.

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <string>
#include <thread>

#include "fakes/test_support.hpp"
#include "measure/process.hpp"
#include "sensors/estimate/cpu_estimate.hpp"
#include "sensors/estimate/process_tree.hpp"

namespace joulebench::estimate {
namespace {

TEST(ProcStat, ParsesCpuTicksAndParentEvenWithSpacesAndParensInTheName) {
    // Fields 14-17 (utime stime cutime cstime) = 7 3 20 5.
    const std::string text =
        "4242 (python3 (worker) x) R 4200 4242 4200 0 -1 4194304 99 0 0 0 7 3 20 5 20 0 1 0 31912 3133440 417";
    ProcStat st;
    ASSERT_TRUE(parse_proc_stat(text.data(), text.size(), st));
    EXPECT_EQ(st.ppid, 4200);
    EXPECT_EQ(st.cpu_ticks, 35U);
}

TEST(ProcStat, RejectsTruncatedText) {
    const std::string text = "4242 (sh) S 1 2 3";
    ProcStat st;
    EXPECT_FALSE(parse_proc_stat(text.data(), text.size(), st));
    EXPECT_FALSE(parse_proc_stat("", 0, st));
}

TEST(CpuPowerModel, TableDefaultAndOverride) {
    const std::string epyc = "processor\t: 0\nmodel name\t: AMD EPYC 7763 64-Core Processor\nsiblings\t: 128\n";
    const auto table = make_cpu_power_model(epyc, std::nullopt);
    EXPECT_EQ(table.source, "table");
    EXPECT_DOUBLE_EQ(table.tdp_w, 280.0);
    EXPECT_EQ(table.threads_per_package, 128U);
    EXPECT_DOUBLE_EQ(table.watts_per_cpu(), 280.0 / 128.0);

    const std::string unknown = "model name\t: Some Future CPU\nsiblings\t: 16\n";
    const auto fallback = make_cpu_power_model(unknown, std::nullopt);
    EXPECT_EQ(fallback.source, "default");
    EXPECT_DOUBLE_EQ(fallback.tdp_w, kDefaultTdpW);
    EXPECT_EQ(fallback.threads_per_package, 16U);

    const auto given = make_cpu_power_model(unknown, 65.0);
    EXPECT_EQ(given.source, "--cpu-tdp");
    EXPECT_DOUBLE_EQ(given.watts_per_cpu(), 65.0 / 16.0);
}

TEST(CpuPowerModel, TableEntriesAreSane) {
    std::size_t n = 0;
    const TdpEntry* table = tdp_table(n);
    ASSERT_GT(n, 5U);
    for (std::size_t i = 0; i < n; ++i) {
        EXPECT_GT(table[i].tdp_w, 5.0) << table[i].model_substring;
        EXPECT_LT(table[i].tdp_w, 1000.0) << table[i].model_substring;
        EXPECT_GT(table[i].threads, 0U) << table[i].model_substring;
    }
}

// A child that burns CPU for a while: the tree clock must see its CPU time grow while it runs,
// and wait_for must account all of it when it is reaped.
TEST(ProcessTreeCpuClock, FollowsAChildAndCountsItOnceReaped) {
    auto clock = std::make_shared<ProcessTreeCpuClock>();
    process::become_subreaper();
    const pid_t pid = process::spawn({{test::joulebench_binary(), "burn", "--seconds", "0.6", "--threads", "1"}, {}});
    clock->attach(pid);
    double during = 0.0;
    for (int i = 0; i < 100 && during <= 0.0; ++i) {
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
        during = clock->cpu_seconds();
    }
    const auto status = process::wait_for(pid, clock.get());
    EXPECT_EQ(status.exit_code, 0);
    const double after = clock->cpu_seconds();
    EXPECT_GT(during, 0.0) << "CPU time seen while running";
    EXPECT_GE(after, during);
    EXPECT_NEAR(after, status.cpu_user_s + status.cpu_system_s, 0.02)
        << "once reaped, the clock is exactly wait4's rusage";
}

TEST(ProcessTreeCpuClock, AnOrphanedGrandchildIsStillCounted) {
    auto clock = std::make_shared<ProcessTreeCpuClock>();
    process::become_subreaper();
    // The subshell exits at once, orphaning the burn; sh then sleeps past the burn's end. As a
    // subreaper, this process inherits the orphan, reaps it and counts its CPU time.
    const std::string cmd = "(" + test::joulebench_binary() + " burn --seconds 0.4 >/dev/null &); sleep 0.8";
    const pid_t pid = process::spawn({{"/bin/sh", "-c", cmd}, {}});
    clock->attach(pid);
    const auto status = process::wait_for(pid, clock.get());
    EXPECT_EQ(status.exit_code, 0);
    // sh and sleep use a few milliseconds; the burn used most of 0.4 s (less only if the machine
    // was very busy). Without the subreaper it would be lost entirely.
    EXPECT_GT(status.cpu_user_s + status.cpu_system_s, 0.05);
}

}  // namespace
}  // namespace joulebench::estimate
