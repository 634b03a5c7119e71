// The host-side CPU energy of a guest run (runner/host_cpu): this machine's package and DRAM
// counters (a fake powercap tree) replace the guest's CPU-time estimate in the guest's
// measurement, the total follows, and when runs overlap they are attributed by the CPU time of
// the guest's QEMU process (here: a busy child process of the test).

#include "runner/host_cpu.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <thread>

#include "fakes/fake_powercap_builder.hpp"
#include "fakes/test_support.hpp"
#include "sensors/registry.hpp"

namespace joulebench::runner {
namespace {

using ::testing::HasSubstr;

// What a guest's `measure --json` has without a GPU: the CPU-time estimate.
MeasureResult guest_measurement() {
    MeasureResult m;
    m.wall_s = 0.3;
    DomainResult estimate;
    estimate.info.id = "cpu-estimated";
    estimate.info.kind = DomainKind::kEstimatedCpu;
    estimate.info.method = Method::kEstimated;
    estimate.energy_j = 99.0;
    estimate.counts_in_total = true;
    DomainResult gpu;
    gpu.info.id = "gpu0";
    gpu.info.kind = DomainKind::kGpu;
    gpu.energy_j = 10.0;
    gpu.counts_in_total = true;
    m.domains = {gpu, estimate};
    m.total_energy_j = 109.0;
    m.total_includes_estimate = true;
    m.warnings.push_back(make_warning(warning_code::kCpuEstimated, "estimated"));
    return m;
}

class HostCpu : public ::testing::Test {
protected:
    void SetUp() override {
        m_tree.add_typical_socket(0, 20.0, 12.0, 3.0);
        m_tree.start();
        ProbeOptions probe;
        probe.nvml.gpus = nvml::GpuSelection::parse("none");
        probe.powercap_root = m_tree.root();
        probe.hwmon_root = m_dir.path() / "no-hwmon";
        m_set = probe_all(probe);
    }
    test::TempDir m_dir{"jb-host-cpu"};
    test::FakePowercapTree m_tree{m_dir.path() / "powercap"};
    SensorSet m_set;
};

TEST_F(HostCpu, HostCountersReplaceTheGuestEstimate) {
    const auto sensors = host_cpu_sensors(m_set);
    ASSERT_FALSE(sensors.empty());
    for (const Sensor* s : sensors) EXPECT_NE(s->info().kind, DomainKind::kEstimatedCpu);
    HostCpuMeasurement host(sensors, std::chrono::milliseconds(20));
    host.start(std::nullopt);
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    host.stop();
    MeasureResult m = guest_measurement();
    host.apply(m, false);
    double total = 0.0;
    bool package = false;
    for (const auto& d : m.domains) {
        EXPECT_NE(d.info.kind, DomainKind::kEstimatedCpu);
        if (d.info.kind == DomainKind::kPackage) {
            package = true;
            EXPECT_EQ(d.info.method, Method::kCounter);
            EXPECT_GT(d.energy_j, 0.0);
            EXPECT_EQ(d.sharing, Sharing::kAlone);
            EXPECT_EQ(d.measured_on, Location::kHost);
        }
        if (d.counts_in_total) total += d.energy_j;
    }
    EXPECT_TRUE(package);
    EXPECT_DOUBLE_EQ(m.total_energy_j, total);
    EXPECT_FALSE(m.total_includes_estimate);
    EXPECT_EQ(m.domains.front().info.id, "gpu0");  // the guest's GPU stays
    for (const auto& w : m.warnings) EXPECT_NE(w.code, warning_code::kCpuEstimated);
}

TEST_F(HostCpu, OverlappingRunsShareByTheQemuProcessCpuTime) {
    const pid_t busy = ::fork();
    ASSERT_GE(busy, 0);
    if (busy == 0) {
        volatile unsigned long spins = 0;
        for (;;) spins = spins + 1;  // a "QEMU" that burns CPU until killed
    }
    HostCpuMeasurement host(host_cpu_sensors(m_set), std::chrono::milliseconds(20));
    host.start(busy);
    std::this_thread::sleep_for(std::chrono::milliseconds(400));
    host.stop();
    ASSERT_TRUE(process_cpu_s(busy).has_value());
    ::kill(busy, SIGKILL);
    ::waitpid(busy, nullptr, 0);
    MeasureResult m = guest_measurement();
    host.apply(m, true);
    bool attributed = false;
    for (const auto& d : m.domains) {
        if (d.info.kind != DomainKind::kPackage) continue;
        attributed = true;
        EXPECT_EQ(d.sharing, Sharing::kAttributed);
        ASSERT_TRUE(d.cpu_time_share.has_value());
        EXPECT_GT(*d.cpu_time_share, 0.0);
        EXPECT_LE(*d.cpu_time_share, 1.0);
        ASSERT_TRUE(d.measured_energy_j.has_value());
        EXPECT_LE(d.energy_j, *d.measured_energy_j);
    }
    EXPECT_TRUE(attributed);
    bool said = false;
    for (const auto& w : m.warnings) {
        if (w.code == warning_code::kCpuAttributed) {
            said = true;
            EXPECT_THAT(w.text, HasSubstr("its guest's QEMU process"));
        }
    }
    EXPECT_TRUE(said);
}

TEST(ProcessCpu, GoneProcessHasNone) {
    EXPECT_TRUE(process_cpu_s(::getpid()).has_value());
    EXPECT_FALSE(process_cpu_s(-5).has_value());
}

}  // namespace
}  // namespace joulebench::runner
