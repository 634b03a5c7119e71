// NvmlDevice: the limit calls the power capper (issue 3) builds on, against the fake NVML.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "fakes/fake_nvml_builder.hpp"
#include "fakes/test_support.hpp"
#include "sensors/nvml/nvml_backend.hpp"

namespace joulebench::nvml {
namespace {

using ::testing::HasSubstr;
using test::FakeNvmlEnvironment;
using test::FakeNvmlState;
using test::TempDir;

class NvmlDeviceTest : public ::testing::Test {
protected:
    TempDir m_dir{"joulebench-nvml-device"};
    std::filesystem::path m_state_path = m_dir.path() / "state.json";
    FakeNvmlState m_state{m_state_path, 2};
    FakeNvmlEnvironment m_env{m_state_path};
};

TEST_F(NvmlDeviceTest, ReadsLimitsConstraintsDefaultAndPersistence) {
    m_state.set_limits(1, {250000, 240000, 125000, 350000, 300000}).set_persistence_mode(1, false);
    const NvmlSystem system = NvmlSystem::open();
    const NvmlDevice& device = system.devices().at(1);
    EXPECT_EQ(device.power_limit(), Watts(250.0));
    EXPECT_EQ(device.enforced_power_limit(), Watts(240.0));
    EXPECT_EQ(device.default_power_limit(), Watts(300.0));
    const PowerLimitRange range = device.power_limit_constraints();
    EXPECT_EQ(range.min, Watts(125.0));
    EXPECT_EQ(range.max, Watts(350.0));
    EXPECT_FALSE(device.persistence_mode());
    EXPECT_TRUE(system.devices().at(0).persistence_mode());
}

TEST_F(NvmlDeviceTest, SetLimitChangesGettersAndIsLogged) {
    const NvmlSystem system = NvmlSystem::open();
    const auto start_ns = FakeNvmlState::monotonic_ns();
    system.devices().at(1).set_power_limit(Watts(250.0));
    system.devices().at(0).set_power_limit(Watts(123.4564));  // rounded to 123456 mW
    EXPECT_EQ(system.devices().at(1).power_limit(), Watts(250.0));
    EXPECT_EQ(system.devices().at(1).enforced_power_limit(), Watts(250.0));
    EXPECT_EQ(m_state.limits(0).current_mw, 123456U);
    EXPECT_EQ(m_state.limits(0).enforced_mw, 123456U);
    EXPECT_EQ(m_state.limits(0).default_mw, 400000U);  // default untouched

    const auto calls = m_state.calls();
    ASSERT_EQ(calls.size(), 2U);
    EXPECT_EQ(calls[0].function, "nvmlDeviceSetPowerManagementLimit");
    EXPECT_EQ(calls[0].gpu, 1U);
    EXPECT_EQ(calls[0].value, 250000U);
    EXPECT_EQ(calls[0].result, 0);
    EXPECT_EQ(calls[1].gpu, 0U);
    EXPECT_GE(calls[0].monotonic_ns, start_ns);
    EXPECT_LE(calls[0].monotonic_ns, calls[1].monotonic_ns);
}

TEST_F(NvmlDeviceTest, OutOfRangeLimitNamesTheRangeAndWritesNothing) {
    const NvmlSystem system = NvmlSystem::open();
    try {
        system.devices().at(0).set_power_limit(Watts(50.0));
        FAIL() << "50 W was accepted";
    } catch (const Error& e) {
        EXPECT_EQ(e.category(), ErrorCategory::kInvalidArgument);
        EXPECT_STREQ(e.what(),
                     "nvml: set power limit of GPU 0 to 50 W: outside the allowed range 100 W to 400 W");
        EXPECT_EQ(e.exit_code(), 2);
    }
    EXPECT_TRUE(m_state.calls().empty());
    EXPECT_EQ(m_state.limits(0).current_mw, 400000U);
}

TEST_F(NvmlDeviceTest, FakeRejectsOutOfRangeWhenConstraintsAreUnknown) {
    // Without readable constraints the check is NVML's: INVALID_ARGUMENT from the setter.
    m_state.set_supported(0, "nvmlDeviceGetPowerManagementLimitConstraints", false);
    const NvmlSystem system = NvmlSystem::open();
    try {
        system.devices().at(0).set_power_limit(Watts(500.0));
        FAIL() << "500 W was accepted";
    } catch (const Error& e) {
        EXPECT_EQ(e.category(), ErrorCategory::kInvalidArgument);
        EXPECT_STREQ(e.what(), "nvml: set power limit of GPU 0 to 500 W: Invalid Argument");
    }
    const auto calls = m_state.calls();
    ASSERT_EQ(calls.size(), 1U);
    EXPECT_EQ(calls[0].result, 2);
    EXPECT_EQ(m_state.limits(0).current_mw, 400000U);
}

TEST_F(NvmlDeviceTest, NoPermissionIsAClearErrorWithAHint) {
    m_state.inject_error("nvmlDeviceSetPowerManagementLimit", 4);
    const NvmlSystem system = NvmlSystem::open();
    try {
        system.devices().at(1).set_power_limit(Watts(250.0));
        FAIL() << "the write was not refused";
    } catch (const Error& e) {
        EXPECT_EQ(e.category(), ErrorCategory::kNoPermission);
        EXPECT_STREQ(e.what(), "nvml: set power limit of GPU 1 to 250 W: Insufficient Permissions");
        EXPECT_THAT(e.hint(), HasSubstr("run as root"));
    }
    const auto calls = m_state.calls();
    ASSERT_EQ(calls.size(), 1U);
    EXPECT_EQ(calls[0].result, 4);
    EXPECT_EQ(m_state.limits(1).current_mw, 400000U);
}

TEST_F(NvmlDeviceTest, MissingOrUnsupportedCallsAreNotSupportedErrors) {
    NvmlApi api = NvmlLibrary::resolve_table(FakeNvmlEnvironment::library_path());
    api.nvmlDeviceSetPowerManagementLimit = nullptr;
    const NvmlSystem system(NvmlLibrary::from_table(api, "hand-built table"));
    try {
        system.devices().at(0).set_power_limit(Watts(200.0));
        FAIL() << "set without the symbol succeeded";
    } catch (const Error& e) {
        EXPECT_EQ(e.category(), ErrorCategory::kNotSupported);
        EXPECT_THAT(e.what(), HasSubstr("nvmlDeviceSetPowerManagementLimit not found in hand-built table"));
    }
    m_state.set_supported(0, "nvmlDeviceGetEnforcedPowerLimit", false);
    try {
        (void)system.devices().at(0).enforced_power_limit();
        FAIL() << "NOT_SUPPORTED was not reported";
    } catch (const Error& e) {
        EXPECT_EQ(e.category(), ErrorCategory::kNotSupported);
        EXPECT_STREQ(e.what(), "nvml: read enforced power limit of GPU 0: Not Supported");
    }
}

TEST_F(NvmlDeviceTest, LostGpuIsDeviceLost) {
    m_state.inject_error(0, "nvmlDeviceGetPowerManagementLimit", 15);
    const NvmlSystem system = NvmlSystem::open();
    try {
        (void)system.devices().at(0).power_limit();
        FAIL();
    } catch (const Error& e) {
        EXPECT_EQ(e.category(), ErrorCategory::kDeviceLost);
        EXPECT_THAT(e.hint(), HasSubstr("reset"));
    }
    EXPECT_EQ(system.devices().at(1).power_limit(), Watts(400.0));
}

TEST_F(NvmlDeviceTest, LibraryStaysInitialisedWhileADeviceLives) {
    std::optional<NvmlDevice> device;
    {
        const NvmlSystem system = NvmlSystem::open();
        device = system.devices().at(1);
    }
    // The NvmlSystem is gone; the device's shared library handle keeps NVML initialised.
    EXPECT_EQ(device->power_limit(), Watts(400.0));
    EXPECT_EQ(device->label(), "GPU 1 (NVIDIA A100-SXM4-40GB, 00000000:27:00.0)");
}

TEST(NvmlReturnCodeTest, NamesAndCategories) {
    EXPECT_EQ(return_code_name(4), "NVML_ERROR_NO_PERMISSION");
    EXPECT_EQ(return_code_name(12345), "NVML_ERROR_12345");
    EXPECT_EQ(category_of(kErrorNoPermission), ErrorCategory::kNoPermission);
    EXPECT_EQ(category_of(kErrorNotSupported), ErrorCategory::kNotSupported);
    EXPECT_EQ(category_of(kErrorGpuIsLost), ErrorCategory::kDeviceLost);
    EXPECT_EQ(category_of(kErrorDriverNotLoaded), ErrorCategory::kNotFound);
    EXPECT_EQ(category_of(kErrorUnknown), ErrorCategory::kInternal);
}

}  // namespace
}  // namespace joulebench::nvml
