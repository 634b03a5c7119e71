// process::ends_within (the pidfd wait that decides whether measure starts its sampling thread)
// and the measurement it leads to, with real child processes.

#include <gtest/gtest.h>

#include <signal.h>
#include <sys/wait.h>

#include <chrono>
#include <thread>

#include "joulebench/measure_result.hpp"
#include "measure/measure.hpp"
#include "measure/process.hpp"
#include "sensors/registry.hpp"

namespace joulebench {
namespace {

pid_t start(const std::vector<std::string>& argv) {
    process::SpawnOptions o;
    o.argv = argv;
    return process::spawn(o);
}

void reap(pid_t pid) {
    int status = 0;
    ASSERT_EQ(::waitpid(pid, &status, 0), pid);
}

TEST(ProcessWait, EndsWithinSeesAnEndedChildWithoutReapingIt) {
    const pid_t pid = start({"true"});
    EXPECT_TRUE(process::ends_within(pid, std::chrono::seconds(30)));
    // Not reaped: wait_for (here waitpid) still gets its status.
    reap(pid);
}

TEST(ProcessWait, EndsWithinSeesAChildThatEndedBeforeTheCall) {
    const pid_t pid = start({"true"});
    std::this_thread::sleep_for(std::chrono::milliseconds(200));  // a zombie by now
    EXPECT_TRUE(process::ends_within(pid, std::chrono::milliseconds(0)));
    reap(pid);
}

TEST(ProcessWait, EndsWithinTimesOutOnARunningChildAndSurvivesSignals) {
    const pid_t pid = start({"sleep", "30"});
    // A signal handled during the wait (EINTR) must not end it early.
    struct sigaction sa {};
    struct sigaction old {};
    sa.sa_handler = [](int) {};
    sigemptyset(&sa.sa_mask);
    ASSERT_EQ(::sigaction(SIGUSR1, &sa, &old), 0);
    std::thread poke([] {
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
        ::kill(::getpid(), SIGUSR1);
    });
    const auto before = std::chrono::steady_clock::now();
    EXPECT_FALSE(process::ends_within(pid, std::chrono::milliseconds(300)));
    EXPECT_GE(std::chrono::steady_clock::now() - before, std::chrono::milliseconds(300));
    poke.join();
    ::sigaction(SIGUSR1, &old, nullptr);
    ::kill(pid, SIGKILL);
    reap(pid);
}

SensorSet estimate_only() {
    ProbeOptions probe;
    probe.nvml.gpus = nvml::GpuSelection::parse("none");
    probe.powercap_root = "/nonexistent/powercap";
    probe.hwmon_root = "/nonexistent/hwmon";
    return probe_all(probe);
}

// A command that ends within the first poll period is measured by the first and last readings;
// no sampling thread ran (monitor_cpu_s 0). A longer one gets its thread and its trace rows.
TEST(ProcessWait, MeasureStartsTheSamplingThreadOnlyForCommandsThatOutliveAPollPeriod) {
    SensorSet set = estimate_only();
    ASSERT_FALSE(set.sensors.empty());
    MeasureOptions quick;
    quick.command = {"true"};
    quick.interval = std::chrono::milliseconds(500);
    const MeasureResult q = run_measurement(quick, set);
    EXPECT_EQ(q.exit_code, 0);
    EXPECT_EQ(q.samples, 2U);
    EXPECT_EQ(q.monitor_cpu_s, 0.0);
    EXPECT_EQ(q.late_ticks, 0U);

    SensorSet set2 = estimate_only();
    MeasureOptions slow;
    slow.command = {"sleep", "0.5"};
    slow.interval = std::chrono::milliseconds(50);
    const MeasureResult s = run_measurement(slow, set2);
    EXPECT_EQ(s.exit_code, 0);
    // About 10 rows plus the first and last; a loaded machine drops late rows, never adds any.
    EXPECT_GE(s.samples, 3U);
    EXPECT_LE(s.samples, 14U);
}

}  // namespace
}  // namespace joulebench
