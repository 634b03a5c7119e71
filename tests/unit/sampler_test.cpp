// The sampler with scripted sensors: poll period, peak power, gaps, trace rows.

#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "measure/sampler.hpp"

namespace joulebench {
namespace {

// Energy = power x time since creation; fails every `fail_every`-th read when set.
class ScriptedSensor final : public Sensor {
public:
    ScriptedSensor(std::string id, double power_w, std::chrono::nanoseconds max_poll = {}, int fail_every = 0)
        : m_power(power_w), m_max_poll(max_poll), m_fail_every(fail_every) {
        m_info.id = std::move(id);
        m_info.kind = DomainKind::kPackage;
        m_info.method = Method::kCounter;
        m_start = Clock::now();
    }
    [[nodiscard]] const SensorInfo& info() const override { return m_info; }
    std::optional<EnergySample> sample() noexcept override {
        ++m_reads;
        if (m_fail_every > 0 && m_reads % m_fail_every == 0) return std::nullopt;
        const auto now = Clock::now();
        return EnergySample{now, Joules(m_power.load() * seconds_between(m_start, now))};
    }
    [[nodiscard]] SensorHealth health() const override { return {}; }
    [[nodiscard]] std::chrono::nanoseconds max_poll_interval() const override { return m_max_poll; }
    std::atomic<int> m_reads{0};
    std::atomic<double> m_power;

private:
    SensorInfo m_info;
    Clock::time_point m_start;
    std::chrono::nanoseconds m_max_poll;
    int m_fail_every;
};

class CountingSink final : public TraceSink {
public:
    void begin(const std::vector<const Sensor*>& sensors) override { columns = sensors.size(); }
    void row(double t_s, const std::vector<TraceDomainValue>& d,
             const std::vector<std::optional<GpuTelemetry>>& /*telemetry*/) noexcept override {
        times.push_back(t_s);
        energies.push_back(d[0].energy_j);
    }
    void end() noexcept override { ended = true; }
    std::size_t columns = 0;
    std::vector<double> times;
    std::vector<double> energies;
    bool ended = false;
};

TEST(Sampler, PollPeriodIsTheSmallestOfTraceIntervalAndSensorNeeds) {
    ScriptedSensor slow("a", 10.0);
    ScriptedSensor needy("b", 10.0, std::chrono::milliseconds(7));
    Sampler sampler({&slow, &needy}, std::chrono::milliseconds(50));
    EXPECT_EQ(sampler.poll_period(), std::chrono::milliseconds(7));
    Sampler relaxed({&slow}, std::chrono::milliseconds(50));
    EXPECT_EQ(relaxed.poll_period(), std::chrono::milliseconds(50));
}

TEST(Sampler, EnergyIsLastMinusFirstAndTraceRowsAreMonotone) {
    ScriptedSensor s("a", 100.0);
    CountingSink sink;
    Sampler sampler({&s}, std::chrono::milliseconds(20), &sink);
    sampler.start();
    std::this_thread::sleep_for(std::chrono::milliseconds(150));
    sampler.stop();
    const auto& d = sampler.domains()[0];
    ASSERT_TRUE(d.first && d.last);
    const double dt = seconds_between(d.first->time, d.last->time);
    EXPECT_NEAR((d.last->energy - d.first->energy).value(), 100.0 * dt, 1e-9);
    EXPECT_TRUE(sink.ended);
    EXPECT_EQ(sink.columns, 1U);
    ASSERT_GE(sink.times.size(), 2U);  // the first and the last rows at least
    EXPECT_DOUBLE_EQ(sink.times.front(), 0.0);
    EXPECT_DOUBLE_EQ(sink.energies.front(), 0.0);
    for (std::size_t i = 1; i < sink.times.size(); ++i) {
        EXPECT_GT(sink.times[i], sink.times[i - 1]);
        EXPECT_GE(sink.energies[i], sink.energies[i - 1]);
    }
    EXPECT_EQ(sampler.stats().trace_rows, sink.times.size());
    ASSERT_TRUE(d.peak_power.has_value());
    EXPECT_NEAR(d.peak_power->value(), 100.0, 1e-6);
}

TEST(Sampler, FailedReadsAreCountedAndDoNotBreakTheEnergy) {
    ScriptedSensor s("a", 50.0, {}, /*fail_every=*/2);
    Sampler sampler({&s}, std::chrono::milliseconds(5));
    sampler.start();
    std::this_thread::sleep_for(std::chrono::milliseconds(60));
    sampler.stop();
    const auto& d = sampler.domains()[0];
    EXPECT_GT(d.failed_reads, 0U);
    EXPECT_EQ(d.failed_reads, static_cast<std::uint64_t>(s.m_reads.load() / 2));
    ASSERT_TRUE(d.first && d.last);
    const double dt = seconds_between(d.first->time, d.last->time);
    EXPECT_NEAR((d.last->energy - d.first->energy).value(), 50.0 * dt, 1e-9);
}

TEST(Sampler, StopIsIdempotentAndWakesTheThreadAtOnce) {
    ScriptedSensor s("a", 1.0);
    Sampler sampler({&s}, std::chrono::hours(1));
    sampler.start();
    const auto before = Clock::now();
    sampler.stop();
    sampler.stop();
    // A one-hour interval must not delay stop(): the thread waits on a condition variable.
    EXPECT_LT(seconds_between(before, Clock::now()), 60.0);
    EXPECT_EQ(sampler.stats().trace_rows, 2U);
}

// measure defers the thread until the command outlives the first poll period: stopped before
// it starts, the first and last readings are the measurement and no thread ever ran.
TEST(Sampler, DeferredThreadThatNeverStartsLeavesTheFirstAndLastReadings) {
    ScriptedSensor s("a", 10.0);
    CountingSink sink;
    Sampler sampler({&s}, std::chrono::milliseconds(100), &sink);
    sampler.start(/*defer_thread=*/true);
    std::this_thread::sleep_for(std::chrono::milliseconds(30));
    sampler.stop();
    EXPECT_EQ(s.m_reads.load(), 2);
    EXPECT_EQ(sampler.stats().ticks, 2U);
    EXPECT_EQ(sampler.stats().trace_rows, 2U);
    EXPECT_EQ(sampler.stats().thread_cpu_s, 0.0);
    ASSERT_EQ(sink.energies.size(), 2U);
    // 10 W over the 30 ms (or a little more) between the two readings.
    EXPECT_GE(sink.energies[1], 0.30 - 1e-9);
    EXPECT_NEAR(sink.energies[1], 10.0 * sink.times[1], 10.0 * 0.005);
    EXPECT_TRUE(sink.ended);
    sampler.start_thread();  // after stop: no-op
    EXPECT_EQ(s.m_reads.load(), 2);
}

// Started five poll periods late, the thread ticks at once and goes on at the poll period; its
// first tick is not counted late for the 400 ms between its deadline and the thread's start
// (only a machine stall of that order during the test could make it look so).
TEST(Sampler, DeferredThreadTicksOnTheStartClockAndIsNotLateForTheDeferral) {
    ScriptedSensor s("a", 1.0);
    CountingSink sink;
    const auto poll = std::chrono::milliseconds(100);
    Sampler sampler({&s}, poll, &sink);
    sampler.start(/*defer_thread=*/true);
    std::this_thread::sleep_for(5 * poll);
    sampler.start_thread();
    sampler.start_thread();  // idempotent
    std::this_thread::sleep_for(std::chrono::milliseconds(250));
    sampler.stop();
    const auto stats = sampler.stats();
    EXPECT_LT(stats.max_lateness, std::chrono::milliseconds(250));
    // first + the immediate tick + about two more + last; a loaded machine skips late ticks
    EXPECT_GE(stats.ticks, 3U);
    EXPECT_LE(stats.ticks, 6U);
    for (std::size_t i = 1; i < sink.times.size(); ++i) EXPECT_GT(sink.times[i], sink.times[i - 1]);
}

TEST(Sampler, PeakPowerFollowsAPowerStep) {
    ScriptedSensor s("a", 10.0);
    Sampler sampler({&s}, std::chrono::milliseconds(10));
    sampler.start();
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    // The scripted energy is power x total time, so a step to 40 W makes the next interval's
    // apparent power jump far above 10 W.
    s.m_power = 40.0;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    sampler.stop();
    ASSERT_TRUE(sampler.domains()[0].peak_power);
    EXPECT_GT(sampler.domains()[0].peak_power->value(), 40.0);
}

}  // namespace
}  // namespace joulebench
