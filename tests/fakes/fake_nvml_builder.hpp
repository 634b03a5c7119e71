#pragma once
// Builds and edits the state file of the fake libnvidia-ml.so.1 (tests/fakes/fake_nvml.cpp; the
// schema is in docs/nvml.md). Every setter is a read-modify-write of the file under its lock
// (PATH.lock, tests/fakes/fake_nvml_power.hpp), written atomically (temporary file + rename) with a
// strictly increasing mtime, so a fake already loaded in this or another process sees each change
// on its next call, and changes the fake or a simulated workload made (setter calls, the call log,
// a load's demand) are never overwritten.

#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "fakes/test_support.hpp"

namespace joulebench::test {

/// The fake records every call of this NVML function (FakeNvmlState::calls()): a cap written.
inline constexpr const char* kNvmlSetter = "nvmlDeviceSetPowerManagementLimit";

/// Power limits of a fake GPU, milliwatts.
struct FakeNvmlLimits {
    unsigned current_mw = 400000;
    unsigned enforced_mw = 400000;
    unsigned min_mw = 100000;
    unsigned max_mw = 400000;
    unsigned default_mw = 400000;
};

/// One logged setter call of the fake.
struct FakeNvmlCall {
    std::string function;
    unsigned gpu = 0;
    std::uint64_t value = 0;
    int result = 0;
    std::int64_t monotonic_ns = 0;  ///< CLOCK_MONOTONIC (= std::chrono::steady_clock) nanoseconds
};

class FakeNvmlState {
public:
    /// Creates (or replaces) the state file at `path` with `gpu_count` default GPUs. GPU i is an
    /// "NVIDIA A100-SXM4-40GB" at PCI bus 0x(i+1)7 ("00000000:17:00.0", "00000000:27:00.0", ...),
    /// drawing 100 W, with limits as FakeNvmlLimits{} and a counter starting at 1,000,000 mJ.
    explicit FakeNvmlState(std::filesystem::path path, unsigned gpu_count = 1);

    [[nodiscard]] const std::filesystem::path& path() const { return m_path; }

    /// The whole document as it is on disk now.
    [[nodiscard]] nlohmann::json read() const;
    /// Read-modify-write of the document, under the state file's lock.
    void update(const std::function<void(nlohmann::json&)>& change) const;

    const FakeNvmlState& add_gpu() const;
    const FakeNvmlState& set_driver_version(const std::string& version) const;
    const FakeNvmlState& set_name(unsigned gpu, const std::string& name) const;
    const FakeNvmlState& set_uuid(unsigned gpu, const std::string& uuid) const;
    const FakeNvmlState& set_pci_bus_id(unsigned gpu, const std::string& bus_id) const;
    /// The minor number of the GPU's device file (/dev/nvidiaN); by default its position.
    const FakeNvmlState& set_minor_number(unsigned gpu, unsigned minor) const;
    /// Changes the power draw from now on; the energy counter keeps what it accrued so far.
    /// Under a load (set_demand_mw) this is the power once the load ends.
    const FakeNvmlState& set_power_mw(unsigned gpu, unsigned power_mw) const;
    /// A load that would draw `demand_mw` uncapped: from now on the GPU draws
    /// min(demand_mw, enforced limit); nullopt ends the load (back to power_mw). The energy
    /// counter keeps what it accrued so far.
    const FakeNvmlState& set_demand_mw(unsigned gpu, std::optional<unsigned> demand_mw) const;
    /// Sets the energy counter to `energy_mj` now; a value below the current one is a counter
    /// reset (driver reload).
    const FakeNvmlState& set_energy_mj(unsigned gpu, double energy_mj) const;
    const FakeNvmlState& reset_energy_counter(unsigned gpu) const { return set_energy_mj(gpu, 0.0); }
    const FakeNvmlState& set_temperature_c(unsigned gpu, unsigned celsius) const;
    const FakeNvmlState& set_sm_clock_mhz(unsigned gpu, unsigned mhz) const;
    const FakeNvmlState& set_utilisation(unsigned gpu, unsigned gpu_pct, unsigned memory_pct) const;
    const FakeNvmlState& set_clocks_event_reasons(unsigned gpu, std::uint64_t mask) const;
    const FakeNvmlState& set_limits(unsigned gpu, const FakeNvmlLimits& limits) const;
    const FakeNvmlState& set_persistence_mode(unsigned gpu, bool enabled) const;
    /// false: `function` answers NVML_ERROR_NOT_SUPPORTED for this GPU.
    const FakeNvmlState& set_supported(unsigned gpu, const std::string& function, bool supported) const;
    /// `function` answers `code` for every GPU (code 0 removes the injection).
    const FakeNvmlState& inject_error(const std::string& function, int code) const;
    /// `function` answers `code` for this GPU only (code 0 removes the injection).
    const FakeNvmlState& inject_error(unsigned gpu, const std::string& function, int code) const;

    /// The counter value the fake would report now, mJ (fractional).
    [[nodiscard]] double energy_mj(unsigned gpu) const;
    /// The power the fake would report now, mW (the power model: docs/nvml.md).
    [[nodiscard]] double power_mw(unsigned gpu) const;
    [[nodiscard]] FakeNvmlLimits limits(unsigned gpu) const;
    [[nodiscard]] std::vector<FakeNvmlCall> calls() const;

    /// CLOCK_MONOTONIC now, nanoseconds (the fake's time base).
    static std::int64_t monotonic_ns();

private:
    void update_gpu(unsigned gpu, const std::function<void(nlohmann::json&)>& change) const;

    std::filesystem::path m_path;
};

/// The fake's environment variables are set with the shared scoped setter of test_support.
using ScopedNvmlEnvVar = ScopedEnv;

/// Points NVML at the fake for the life of the object: sets JOULEBENCH_NVML_LIBRARY to the fake's
/// path and JOULEBENCH_FAKE_NVML_STATE to `state_file`, restoring both previous values after.
class FakeNvmlEnvironment {
public:
    explicit FakeNvmlEnvironment(const std::filesystem::path& state_file);

    /// The fake library's path (JOULEBENCH_FAKE_NVML_PATH).
    static std::string library_path();

private:
    ScopedNvmlEnvVar m_library;
    ScopedNvmlEnvVar m_state;
};

}  // namespace joulebench::test
