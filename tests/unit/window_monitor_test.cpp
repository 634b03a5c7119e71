// Windows of a running sampler (Sampler::mark, window_between) and the WindowMonitor built on
// them (the Python package's windows): two readings per window, nesting and overlap, measure's
// own result; and read_store_table, the generic read the Python package uses for `phases`.

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sqlite3.h>

#include <thread>

#include "fakes/fake_powercap_builder.hpp"
#include "fakes/test_support.hpp"
#include "joulebench/error.hpp"
#include "joulebench/store.hpp"
#include "measure/sampler.hpp"
#include "measure/window_monitor.hpp"
#include "store/store_table.hpp"

namespace joulebench {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

// Energy = power x time since creation, counting reads.
class LinearSensor final : public Sensor {
public:
    explicit LinearSensor(double power_w) : m_power(power_w) {
        m_info.id = "package0";
        m_info.kind = DomainKind::kPackage;
        m_info.method = Method::kCounter;
    }
    [[nodiscard]] const SensorInfo& info() const override { return m_info; }
    std::optional<EnergySample> sample() noexcept override {
        ++reads;
        const auto now = Clock::now();
        return EnergySample{now, Joules(m_power * seconds_between(m_start, now))};
    }
    [[nodiscard]] SensorHealth health() const override { return {}; }
    std::atomic<int> reads{0};

private:
    SensorInfo m_info;
    double m_power;
    Clock::time_point m_start = Clock::now();
};

TEST(SamplerWindow, TwoMarksCostTwoReadingsAndSpanTheirEnergy) {
    LinearSensor s(20.0);
    Sampler sampler({&s}, std::chrono::hours(1));  // the thread never ticks during the test
    sampler.start();
    const int before = s.reads.load();
    const SamplerMark a = sampler.mark();
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    const SamplerMark b = sampler.mark();
    EXPECT_EQ(s.reads.load(), before + 2);
    const SamplerWindow w = window_between(a, b);
    sampler.stop();
    ASSERT_EQ(w.domains.size(), 1U);
    const auto& d = w.domains[0];
    ASSERT_TRUE(d.first && d.last);
    EXPECT_EQ(d.first->time, a.domains[0].last->time);
    EXPECT_EQ(d.last->time, b.domains[0].last->time);
    const double dt = seconds_between(d.first->time, d.last->time);
    EXPECT_NEAR((d.last->energy - d.first->energy).value(), 20.0 * dt, 1e-9);
    EXPECT_EQ(w.stats.ticks, 1U);  // the end mark's read
    EXPECT_EQ(w.start, a.time);
    EXPECT_EQ(w.stop, b.time);
    EXPECT_FALSE(d.peak_power.has_value());
}

class MonitorTest : public ::testing::Test {
protected:
    MonitorTest() : m_tree(m_dir.path() / "powercap") {
        m_tree.add_zone("intel-rapl:0", "package-0", 40.0);
        m_tree.start();
        fs::create_directories(m_dir.path() / "hwmon");
        m_probe.powercap_root = m_tree.root();
        m_probe.hwmon_root = m_dir.path() / "hwmon";
        m_probe.nvml.gpus = nvml::GpuSelection::parse("none");
    }
    test::TempDir m_dir;
    test::FakePowercapTree m_tree;
    ProbeOptions m_probe;
};

TEST_F(MonitorTest, NestedAndOverlappingWindowsAreMeasuresOwnResults) {
    WindowMonitor monitor(m_probe, std::chrono::milliseconds(10));
    monitor.begin("outer");
    monitor.begin("a");
    std::this_thread::sleep_for(std::chrono::milliseconds(30));
    monitor.begin("b");
    const MeasureResult a = monitor.end("a");  // b overlaps a's end
    std::this_thread::sleep_for(std::chrono::milliseconds(30));
    const MeasureResult b = monitor.end("b");
    const MeasureResult outer = monitor.end("outer");
    EXPECT_TRUE(monitor.open_windows().empty());
    for (const MeasureResult* r : {&a, &b, &outer}) {
        ASSERT_EQ(r->domains.size(), 1U);
        EXPECT_EQ(r->domains[0].info.id, "package0");
        EXPECT_EQ(r->domains[0].info.method, Method::kCounter);
        EXPECT_GT(r->domains[0].energy_j, 0.0);
        EXPECT_DOUBLE_EQ(r->total_energy_j, r->domains[0].energy_j);
        EXPECT_GT(r->edp_js, 0.0);
    }
    EXPECT_EQ(a.command, std::vector<std::string>{"a"});
    EXPECT_GT(outer.wall_s, a.wall_s);
    EXPECT_GT(outer.total_energy_j, a.total_energy_j);
    EXPECT_GT(outer.total_energy_j, b.total_energy_j);
    // The sampling thread ticked during the 60 ms windows (every 10 ms), besides their marks.
    EXPECT_DOUBLE_EQ(outer.poll_interval_ms, 10.0);
    EXPECT_GT(outer.polls, 2U);
}

TEST_F(MonitorTest, UnknownOrDuplicateNamesAreRefusedNamingTheOpenWindows) {
    WindowMonitor monitor(m_probe, std::chrono::milliseconds(50));
    monitor.begin("step");
    try {
        monitor.begin("step");
        FAIL() << "a second 'step' was accepted";
    } catch (const Error& e) {
        EXPECT_THAT(e.what(), HasSubstr("already open"));
    }
    try {
        (void)monitor.end("epoch");
        FAIL() << "end of a window never begun was accepted";
    } catch (const Error& e) {
        EXPECT_THAT(e.what(), HasSubstr("open: 'step'"));
    }
    EXPECT_THROW(WindowMonitor(m_probe, std::chrono::milliseconds(0)), Error);
    monitor.close();
    EXPECT_THROW(monitor.begin("late"), Error);
}

TEST(StoreTable, ReadsAnyTableAsStoredAndNothingForAMissingOne) {
    test::TempDir dir;
    const Store store(dir.path() / "s.db");
    EXPECT_FALSE(read_store_table(store, "phases").has_value());
    ASSERT_EQ(sqlite3_exec(store.handle(),
                           "CREATE TABLE phases (run_id TEXT, name TEXT, energy_j REAL, n INTEGER);"
                           "INSERT INTO phases VALUES ('r1', 'load', 1.5, 2), ('r2', NULL, NULL, NULL)",
                           nullptr, nullptr, nullptr),
              SQLITE_OK);
    const auto t = read_store_table(store, "phases");
    ASSERT_TRUE(t.has_value());
    EXPECT_EQ(t->columns, (std::vector<std::string>{"run_id", "name", "energy_j", "n"}));
    ASSERT_EQ(t->rows.size(), 2U);
    EXPECT_EQ(std::get<std::string>(t->rows[0][1]), "load");
    EXPECT_DOUBLE_EQ(std::get<double>(t->rows[0][2]), 1.5);
    EXPECT_EQ(std::get<std::int64_t>(t->rows[0][3]), 2);
    EXPECT_TRUE(std::holds_alternative<std::monostate>(t->rows[1][1]));
}

}  // namespace
}  // namespace joulebench
