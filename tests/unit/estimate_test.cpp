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

// CPU time that shows at once (here a whole CPU-second, as when rusage lands after /proc lagged)
// is not drawn as a spike above the model: the energy rises at most at max_power_w() (every
// online CPU busy) and catches up with the CPU time in the following readings (issue 22 item 6).
TEST(CpuEstimateSensor, NeverRisesFasterThanTheModelAllowsAndCatchesUp) {
    auto clock = std::make_shared<ProcessTreeCpuClock>();
    CpuPowerModel model;
    model.tdp_w = 80.0;
    model.threads_per_package = 4;
    model.cpus = 4;  // 20 W per busy CPU, 80 W at most
    ASSERT_DOUBLE_EQ(model.max_power_w(), 80.0);
    CpuEstimateSensor sensor(clock, model);
    const auto first = sensor.sample();
    ASSERT_TRUE(first);
    EXPECT_DOUBLE_EQ(first->energy.value(), 0.0);
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    clock->add_reaped(-1, 1.0);  // 20 J of CPU time at once
    const auto second = sensor.sample();
    ASSERT_TRUE(second);
    const double dt = seconds_between(first->time, second->time);
    EXPECT_GT(second->energy.value(), 0.0);
    EXPECT_LE(second->energy.value(), 80.0 * dt + 1e-9) << "after " << dt << " s";
    std::this_thread::sleep_for(std::chrono::milliseconds(300));  // 80 W x 0.3 s > 20 J
    const auto third = sensor.sample();
    ASSERT_TRUE(third);
    EXPECT_NEAR(third->energy.value(), 20.0, 1e-9);
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
    // The subshell exits at once, orphaning a loop of fixed work (not of fixed wall time: on a
    // loaded machine that got a few ms of CPU); sh waits until the loop has done its work, then a
    // moment for it to exit. As a subreaper, this process inherits the orphan, reaps it and counts
    // its CPU time.
    test::TempDir dir;
    const std::string done = (dir.path() / "done").string();
    const std::string cmd = "(sh -c 'i=0; while [ $i -lt 300000 ]; do i=$((i+1)); done; : > " + done +
                            "' &); while [ ! -e " + done + " ]; do sleep 0.02; done; sleep 0.3";
    const pid_t pid = process::spawn({{"/bin/sh", "-c", cmd}, {}});
    clock->attach(pid);
    const auto status = process::wait_for(pid, clock.get());
    EXPECT_EQ(status.exit_code, 0);
    // sh and sleep use a few milliseconds; the loop's 300000 rounds take about 0.3 s of CPU here.
    // Without the subreaper they would be lost entirely.
    EXPECT_GT(status.cpu_user_s + status.cpu_system_s, 0.05);
}

}  // namespace
}  // namespace joulebench::estimate
