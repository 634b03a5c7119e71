// Probing the NVML backend through the real dlopen path of the fake libnvidia-ml.so.1.

#include <dlfcn.h>

#include <fstream>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "fakes/fake_nvml_builder.hpp"
#include "fakes/test_support.hpp"
#include "sensors/nvml/nvml_backend.hpp"

namespace joulebench::nvml {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using test::FakeNvmlEnvironment;
using test::FakeNvmlState;
using test::ScopedNvmlEnvVar;
using test::TempDir;

std::vector<std::string> ids_of(const BackendProbe& probe) {
    std::vector<std::string> ids;
    for (const auto& sensor : probe.sensors) ids.push_back(sensor->info().id);
    return ids;
}

bool system_has_real_nvml() {
    for (const char* name : {"libnvidia-ml.so.1", "libnvidia-ml.so"}) {
        if (void* handle = dlopen(name, RTLD_NOW | RTLD_LOCAL); handle != nullptr) {
            dlclose(handle);
            return true;
        }
    }
    return false;
}

class NvmlProbeTest : public ::testing::Test {
protected:
    TempDir m_dir{"joulebench-nvml-probe"};
    std::filesystem::path m_state_path = m_dir.path() / "state.json";
};

TEST_F(NvmlProbeTest, MissingLibraryGivesEveryAttemptAndItsReason) {
    if (system_has_real_nvml()) GTEST_SKIP() << "a real libnvidia-ml is installed: the search would not fall through";
    const ScopedNvmlEnvVar library("JOULEBENCH_NVML_LIBRARY", std::string("/nonexistent/libnvidia-ml.so.1"));
    NvmlProbeOptions options;
    options.library.driver_markers = {m_dir.path().string()};  // exists: as if the driver were loaded
    const BackendProbe probe = probe_nvml(options);
    EXPECT_EQ(probe.backend, "nvml");
    EXPECT_TRUE(probe.sensors.empty());
    ASSERT_EQ(probe.skipped.size(), 1U);
    const std::string& reason = probe.skipped[0];
    EXPECT_THAT(reason, HasSubstr("nvml: library not found: tried "));
    EXPECT_THAT(reason, HasSubstr("$JOULEBENCH_NVML_LIBRARY=/nonexistent/libnvidia-ml.so.1 (/nonexistent/libnvidia-ml.so.1: cannot open shared object file"));
    EXPECT_THAT(reason, HasSubstr(", libnvidia-ml.so.1 (libnvidia-ml.so.1: cannot open shared object file"));
    EXPECT_THAT(reason, HasSubstr(", libnvidia-ml.so (libnvidia-ml.so: cannot open shared object file"));
}

TEST_F(NvmlProbeTest, MissingLibraryWithoutOverrideTriesTheStandardNames) {
    if (system_has_real_nvml()) GTEST_SKIP() << "a real libnvidia-ml is installed";
    const ScopedNvmlEnvVar library("JOULEBENCH_NVML_LIBRARY", std::nullopt);
    NvmlLibraryOptions options;
    options.driver_markers = {"/nonexistent/driver", m_dir.path().string()};  // one exists
    try {
        (void)NvmlLibrary::load(options);
        FAIL() << "load() found a library";
    } catch (const Error& e) {
        EXPECT_EQ(e.category(), ErrorCategory::kNotFound);
        EXPECT_THAT(e.what(), HasSubstr("tried libnvidia-ml.so.1 ("));
        EXPECT_THAT(std::string(e.what()), ::testing::Not(HasSubstr("JOULEBENCH_NVML_LIBRARY")));
        EXPECT_THAT(std::string(e.what()), ::testing::Not(HasSubstr("not searched")));
        EXPECT_THAT(e.hint(), HasSubstr("JOULEBENCH_NVML_LIBRARY"));
    }
}

// Without the NVIDIA kernel driver the standard names are not searched (no dlopen), and the
// message says so; an explicit library is still tried.
TEST_F(NvmlProbeTest, WithoutTheDriverTheStandardNamesAreNotSearched) {
    const ScopedNvmlEnvVar library("JOULEBENCH_NVML_LIBRARY", std::nullopt);
    NvmlLibraryOptions options;
    options.driver_markers = {(m_dir.path() / "no-proc-driver-nvidia").string(), (m_dir.path() / "no-nvidiactl").string()};
    try {
        (void)NvmlLibrary::load(options);
        FAIL() << "load() found a library";
    } catch (const Error& e) {
        EXPECT_EQ(e.category(), ErrorCategory::kNotFound);
        const std::string what = e.what();
        EXPECT_THAT(what, HasSubstr("nvml: library not found: libnvidia-ml.so.1, libnvidia-ml.so not searched (no NVIDIA driver "
                                    "loaded: none of "));
        EXPECT_THAT(what, HasSubstr("no-proc-driver-nvidia"));
        EXPECT_THAT(what, ::testing::Not(HasSubstr("cannot open shared object file")));  // no dlopen
        EXPECT_THAT(e.hint(), HasSubstr("install the NVIDIA driver"));
    }
    // The fake library named explicitly loads whatever the markers say.
    const FakeNvmlState state(m_state_path, 1);
    const ScopedNvmlEnvVar fake_state("JOULEBENCH_FAKE_NVML_STATE", m_state_path.string());
    options.explicit_path = FakeNvmlEnvironment::library_path();
    EXPECT_NO_THROW((void)NvmlLibrary::load(options));
    // And $JOULEBENCH_NVML_LIBRARY, when set, is tried before the skip is reported.
    options.explicit_path.reset();
    const ScopedNvmlEnvVar missing("JOULEBENCH_NVML_LIBRARY", std::string("/nonexistent/libnvidia-ml.so.1"));
    try {
        (void)NvmlLibrary::load(options);
        FAIL() << "load() found a library";
    } catch (const Error& e) {
        EXPECT_THAT(e.what(), HasSubstr("tried $JOULEBENCH_NVML_LIBRARY=/nonexistent/libnvidia-ml.so.1 ("));
        EXPECT_THAT(e.what(), HasSubstr("; libnvidia-ml.so.1, libnvidia-ml.so not searched"));
    }
}

TEST_F(NvmlProbeTest, ExplicitPathWinsOverTheEnvironment) {
    const FakeNvmlState state(m_state_path, 1);
    const FakeNvmlEnvironment env(m_state_path);
    const ScopedNvmlEnvVar library("JOULEBENCH_NVML_LIBRARY", std::string("/nonexistent/lib.so"));
    NvmlProbeOptions options;
    options.library.explicit_path = FakeNvmlEnvironment::library_path();
    options.library.candidates.clear();
    const BackendProbe probe = probe_nvml(options);
    EXPECT_THAT(ids_of(probe), ElementsAre("gpu0"));
    EXPECT_THAT(probe.notes, ::testing::Contains("library: " + FakeNvmlEnvironment::library_path()));
}

TEST_F(NvmlProbeTest, BadOverrideFallsThroughToTheNextCandidateAndSaysSo) {
    const FakeNvmlState state(m_state_path, 1);
    const FakeNvmlEnvironment env(m_state_path);
    const ScopedNvmlEnvVar library("JOULEBENCH_NVML_LIBRARY", std::string("/nonexistent/lib.so"));
    NvmlProbeOptions options;
    options.library.candidates = {FakeNvmlEnvironment::library_path()};
    options.library.driver_markers = {m_state_path.string()};  // exists: as if the driver were loaded
    const BackendProbe probe = probe_nvml(options);
    EXPECT_THAT(ids_of(probe), ElementsAre("gpu0"));
    EXPECT_THAT(probe.notes, ::testing::Contains(HasSubstr(
                                 "not loaded: $JOULEBENCH_NVML_LIBRARY=/nonexistent/lib.so (")));
}

TEST_F(NvmlProbeTest, DriverNotLoadedIsASkipReason) {
    // The fake answers DRIVER_NOT_LOADED without a state file, as libnvidia-ml does without a driver.
    const ScopedNvmlEnvVar library("JOULEBENCH_NVML_LIBRARY", FakeNvmlEnvironment::library_path());
    const ScopedNvmlEnvVar state("JOULEBENCH_FAKE_NVML_STATE", std::nullopt);
    const BackendProbe probe = probe_nvml(NvmlProbeOptions{});
    EXPECT_TRUE(probe.sensors.empty());
    EXPECT_THAT(probe.skipped, ElementsAre("nvml: nvmlInit_v2 failed: Driver Not Loaded"));
}

TEST_F(NvmlProbeTest, InjectedInitErrorIsReportedWithNvmlText) {
    const FakeNvmlState state(m_state_path, 2);
    state.inject_error("nvmlInit_v2", 4);
    const FakeNvmlEnvironment env(m_state_path);
    try {
        (void)NvmlLibrary::load();
        FAIL() << "init should have failed";
    } catch (const Error& e) {
        EXPECT_EQ(e.category(), ErrorCategory::kNoPermission);
        EXPECT_STREQ(e.what(), "nvml: nvmlInit_v2 failed: Insufficient Permissions");
    }
}

TEST_F(NvmlProbeTest, MalformedStateFileFailsInit) {
    {
        std::ofstream out(m_state_path);
        out << "{\"gpus\": [ {\"name\": \"x\"} ";  // truncated JSON
    }
    const FakeNvmlEnvironment env(m_state_path);
    const BackendProbe probe = probe_nvml(NvmlProbeOptions{});
    EXPECT_THAT(probe.skipped, ElementsAre("nvml: nvmlInit_v2 failed: Unknown Error"));
}

TEST_F(NvmlProbeTest, ZeroGpus) {
    const FakeNvmlState state(m_state_path, 0);
    state.set_driver_version("535.104.05");
    const FakeNvmlEnvironment env(m_state_path);
    const BackendProbe probe = probe_nvml(NvmlProbeOptions{});
    EXPECT_TRUE(probe.sensors.empty());
    EXPECT_THAT(probe.skipped, ElementsAre("nvml: no GPUs"));
    EXPECT_THAT(probe.notes, ::testing::Contains("driver version: 535.104.05"));
}

TEST_F(NvmlProbeTest, ZeroGpusAndAnExplicitIndexIsASelectionError) {
    const FakeNvmlState state(m_state_path, 0);
    const FakeNvmlEnvironment env(m_state_path);
    std::optional<Error> error;
    NvmlProbeOptions options;
    options.gpus = GpuSelection::list({0});
    const BackendProbe probe = probe_nvml(options, &error);
    EXPECT_TRUE(probe.sensors.empty());
    ASSERT_TRUE(error.has_value());
    EXPECT_EQ(error->category(), ErrorCategory::kInvalidArgument);
    EXPECT_THAT(error->what(), HasSubstr("valid indices: none (no GPUs)"));
}

TEST_F(NvmlProbeTest, OneGpu) {
    const FakeNvmlState state(m_state_path, 1);
    state.set_name(0, "NVIDIA H100 80GB HBM3").set_uuid(0, "GPU-12345678-1234-1234-1234-123456789abc");
    const FakeNvmlEnvironment env(m_state_path);
    const BackendProbe probe = probe_nvml(NvmlProbeOptions{});
    ASSERT_EQ(probe.sensors.size(), 1U);
    EXPECT_TRUE(probe.skipped.empty());
    const SensorInfo& info = probe.sensors[0]->info();
    EXPECT_EQ(info.id, "gpu0");
    EXPECT_EQ(info.kind, DomainKind::kGpu);
    EXPECT_EQ(info.index, 0);
    EXPECT_EQ(info.backend, "nvml");
    EXPECT_EQ(info.method, Method::kCounter);
    EXPECT_EQ(info.name, "NVIDIA H100 80GB HBM3");
    EXPECT_EQ(info.source, "GPU-12345678-1234-1234-1234-123456789abc");
    EXPECT_EQ(info.pci_bus_id, "00000000:17:00.0");
    EXPECT_EQ(info.update_period, std::chrono::milliseconds(100));
    EXPECT_FALSE(info.wrap_range.has_value());
    EXPECT_EQ(probe.sensors[0]->max_poll_interval(), std::chrono::nanoseconds(0));
}

TEST_F(NvmlProbeTest, FourGpusAreOrderedByPciBusIdNotByNvmlIndex) {
    const FakeNvmlState state(m_state_path, 4);
    // NVML enumeration order differs from PCI order (as on some multi-root systems).
    const std::vector<std::string> bus_ids{"00000000:B1:00.0", "00000000:3B:00.0",
                                           "00000001:05:00.0", "00000000:3B:01.0"};
    for (unsigned i = 0; i < 4; ++i) {
        state.set_pci_bus_id(i, bus_ids[i]).set_uuid(i, "GPU-nvml-index-" + std::to_string(i));
    }
    const FakeNvmlEnvironment env(m_state_path);
    const BackendProbe probe = probe_nvml(NvmlProbeOptions{});
    ASSERT_EQ(probe.sensors.size(), 4U);
    std::vector<std::string> order;
    for (const auto& sensor : probe.sensors) {
        order.push_back(sensor->info().id + "=" + sensor->info().pci_bus_id + "=" +
                        sensor->info().source);
    }
    EXPECT_THAT(order, ElementsAre("gpu0=00000000:3B:00.0=GPU-nvml-index-1",
                                   "gpu1=00000000:3B:01.0=GPU-nvml-index-3",
                                   "gpu2=00000000:B1:00.0=GPU-nvml-index-0",
                                   "gpu3=00000001:05:00.0=GPU-nvml-index-2"));

    const NvmlInventory inventory = nvml_inventory();
    EXPECT_EQ(inventory.driver_version, "550.54.15");
    EXPECT_EQ(inventory.library, "$JOULEBENCH_NVML_LIBRARY=" + FakeNvmlEnvironment::library_path());
    ASSERT_EQ(inventory.devices.size(), 4U);
    EXPECT_EQ(inventory.devices[2].index, 2);
    EXPECT_EQ(inventory.devices[2].nvml_index, 0U);
    EXPECT_EQ(inventory.devices[2].pci_bus_id, "00000000:B1:00.0");
    EXPECT_EQ(inventory.devices[2].name, "NVIDIA A100-SXM4-40GB");
}

TEST_F(NvmlProbeTest, SelectionPicksGpusByPciOrderIndex) {
    const FakeNvmlState state(m_state_path, 4);
    state.set_pci_bus_id(0, "00000000:90:00.0");  // NVML index 0 becomes the last in PCI order
    const FakeNvmlEnvironment env(m_state_path);
    NvmlProbeOptions options;
    options.gpus = GpuSelection::parse("3,1,3");
    const BackendProbe probe = probe_nvml(options);
    EXPECT_THAT(ids_of(probe), ElementsAre("gpu3", "gpu1"));
    EXPECT_EQ(probe.sensors[0]->info().pci_bus_id, "00000000:90:00.0");

    options.gpus = GpuSelection::none();
    const BackendProbe none = probe_nvml(options);
    EXPECT_TRUE(none.sensors.empty());
    EXPECT_THAT(none.skipped, ElementsAre("nvml: no GPUs selected (--gpus none)"));
}

TEST_F(NvmlProbeTest, OutOfRangeIndexIsAnInvalidArgumentNamingTheValidIndices) {
    const FakeNvmlState state(m_state_path, 4);
    const FakeNvmlEnvironment env(m_state_path);
    NvmlProbeOptions options;
    options.gpus = GpuSelection::list({1, 4});
    std::optional<Error> error;
    const BackendProbe probe = probe_nvml(options, &error);
    EXPECT_TRUE(probe.sensors.empty());
    ASSERT_TRUE(error.has_value());
    EXPECT_EQ(error->category(), ErrorCategory::kInvalidArgument);
    EXPECT_EQ(error->exit_code(), 2);
    EXPECT_STREQ(error->what(), "nvml: select GPU 4: no such GPU (valid indices: 0 to 3)");
    EXPECT_THAT(probe.skipped, ElementsAre(error->what()));

    const NvmlSystem system = NvmlSystem::open();
    EXPECT_THROW((void)system.select(GpuSelection::list({-1})), Error);
    EXPECT_EQ(system.select(GpuSelection::list({2})).at(0).index(), 2);
}

TEST(NvmlGpuSelectionTest, ParsesAllNoneAndLists) {
    EXPECT_EQ(GpuSelection::parse("all").mode, GpuSelection::Mode::kAll);
    EXPECT_EQ(GpuSelection::parse("none").mode, GpuSelection::Mode::kNone);
    const GpuSelection list = GpuSelection::parse("0,2,10");
    EXPECT_EQ(list.mode, GpuSelection::Mode::kList);
    EXPECT_THAT(list.indices, ElementsAre(0, 2, 10));
    for (const char* bad : {"", "0,", "a", "1,-2", "1;2", " 1"}) {
        try {
            (void)GpuSelection::parse(bad);
            ADD_FAILURE() << "accepted '" << bad << "'";
        } catch (const Error& e) {
            EXPECT_EQ(e.category(), ErrorCategory::kInvalidArgument) << bad;
            EXPECT_THAT(e.what(), HasSubstr("is not a GPU index")) << bad;
        }
    }
}

TEST(NvmlPciTest, ParsesBusIdsOfBothDomainWidths) {
    const auto a = parse_pci_bus_id("00000000:3B:00.0");
    ASSERT_TRUE(a.has_value());
    EXPECT_EQ(a->bus, 0x3BU);
    const auto b = parse_pci_bus_id("0001:05:1f.7");
    ASSERT_TRUE(b.has_value());
    EXPECT_EQ(b->domain, 1U);
    EXPECT_EQ(b->device, 0x1FU);
    EXPECT_EQ(b->function, 7U);
    EXPECT_LT(*a, *b);
    EXPECT_FALSE(parse_pci_bus_id("3B:00.0").has_value());
    EXPECT_FALSE(parse_pci_bus_id("0000:3B:00").has_value());
    EXPECT_FALSE(parse_pci_bus_id("0000:zz:00.0").has_value());
}

TEST_F(NvmlProbeTest, GpuWithoutEnergyOrPowerIsSkippedOthersKept) {
    const FakeNvmlState state(m_state_path, 2);
    state.set_supported(1, "nvmlDeviceGetTotalEnergyConsumption", false)
        .set_supported(1, "nvmlDeviceGetPowerUsage", false);
    const FakeNvmlEnvironment env(m_state_path);
    const BackendProbe probe = probe_nvml(NvmlProbeOptions{});
    EXPECT_THAT(ids_of(probe), ElementsAre("gpu0"));
    ASSERT_EQ(probe.skipped.size(), 1U);
    EXPECT_THAT(probe.skipped[0], HasSubstr("nvml: open energy sensor of GPU 1 (NVIDIA A100-SXM4-40GB, 00000000:27:00.0): energy counter: not supported; power readings: not supported"));
}

TEST_F(NvmlProbeTest, InaccessibleGpuIsLeftOutWithANote) {
    const FakeNvmlState state(m_state_path, 3);
    state.inject_error(1, "nvmlDeviceGetHandleByIndex_v2", 4);
    const FakeNvmlEnvironment env(m_state_path);
    const BackendProbe probe = probe_nvml(NvmlProbeOptions{});
    ASSERT_EQ(probe.sensors.size(), 2U);
    EXPECT_EQ(probe.sensors[1]->info().pci_bus_id, "00000000:37:00.0");
    EXPECT_THAT(probe.notes, ::testing::Contains("GPU at NVML index 1 skipped: Insufficient Permissions"));
}

}  // namespace
}  // namespace joulebench::nvml
