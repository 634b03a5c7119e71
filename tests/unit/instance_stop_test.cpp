// When the bare and container environments end a running instance (environments/instance_stop.hpp):
// SIGTERM's equivalent once at the timeout or the stop flag, SIGKILL's once kill_grace later.

#include "environments/instance_stop.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <vector>

namespace joulebench::environments {
namespace {

using namespace std::chrono_literals;

struct Calls {
    std::vector<InstanceResult::End> terminated;
    int killed = 0;
};

void check(InstanceStop& stop, Clock::time_point now, Calls& calls) {
    stop.check(
        now, [&](InstanceResult::End why) { calls.terminated.push_back(why); },
        [&] { ++calls.killed; });
}

TEST(EnvironmentInstanceStop, TheTimeoutTerminatesOnceAndTheGraceDelaysTheKill) {
    WorkloadInstance instance;
    instance.timeout = 100ms;
    instance.kill_grace = 1h;
    const Clock::time_point start = Clock::now();
    InstanceStop stop(instance, start);
    Calls calls;
    check(stop, start + 99ms, calls);
    EXPECT_TRUE(calls.terminated.empty());
    check(stop, start + 100ms, calls);
    check(stop, start + 200ms, calls);
    ASSERT_EQ(calls.terminated.size(), 1U);
    EXPECT_EQ(calls.terminated[0], InstanceResult::End::kTimedOut);
    EXPECT_EQ(calls.killed, 0);  // within the grace
    EXPECT_FALSE(stop.killed());
}

TEST(EnvironmentInstanceStop, AfterTheGraceTheKillComesOnce) {
    WorkloadInstance instance;
    instance.timeout = 0ms;
    instance.kill_grace = 0ms;
    InstanceStop stop(instance, Clock::now());
    Calls calls;
    check(stop, Clock::now(), calls);
    EXPECT_EQ(calls.terminated.size(), 1U);
    EXPECT_EQ(calls.killed, 0);  // never in the same check as the termination
    check(stop, Clock::now(), calls);
    check(stop, Clock::now(), calls);
    EXPECT_EQ(calls.terminated.size(), 1U);
    EXPECT_EQ(calls.killed, 1);
    EXPECT_TRUE(stop.killed());
}

TEST(EnvironmentInstanceStop, TheStopFlagInterruptsAndWinsOverTheTimeout) {
    std::atomic<bool> flag{false};
    WorkloadInstance instance;
    instance.stop = &flag;
    const Clock::time_point start = Clock::now();
    {
        InstanceStop stop(instance, start);  // no timeout: only the flag ends it
        Calls calls;
        check(stop, start + 24h, calls);
        EXPECT_TRUE(calls.terminated.empty());
        flag = true;
        check(stop, start + 24h, calls);
        ASSERT_EQ(calls.terminated.size(), 1U);
        EXPECT_EQ(calls.terminated[0], InstanceResult::End::kInterrupted);
    }
    instance.timeout = 1ms;
    InstanceStop stop(instance, start);
    Calls calls;
    check(stop, start + 1s, calls);
    ASSERT_EQ(calls.terminated.size(), 1U);
    EXPECT_EQ(calls.terminated[0], InstanceResult::End::kInterrupted);
}

}  // namespace
}  // namespace joulebench::environments
