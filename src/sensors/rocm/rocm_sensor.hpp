#pragma once
/// The energy sensor of one AMD GPU, read through ROCm SMI.
///
/// Method `counter`: rsmi_dev_energy_count_get's accumulator (counts of `counter_resolution`
/// microjoules). Method `integrated` when the accumulator is missing or NOT_SUPPORTED: trapezoidal
/// integration of rsmi_dev_power_ave_get (microwatts) between sample() calls. With both, power is
/// integrated too (at most every kCrossCheckPeriod) and returned by cross_check_energy().
///
/// Wraparound (docs/rocm.md, "The energy accumulator"): ROCm SMI returns a 64-bit value, but on
/// GPUs whose firmware keeps a 32-bit accumulator it starts again from zero after 2^32 counts.
/// A reading below the previous one is taken as one 32-bit wrap when the previous reading was
/// below 2^32 and the energy the wrap implies, over the time between the two readings, is at
/// most kMaxPlausiblePower; otherwise it is a reset (driver reload, GPU reset), counted in
/// health().resets and handled as NvmlSensor does (the new reading is energy since the reset; the
/// total becomes a lower bound).
///
/// The read path, health() and the cross-check are CounterOrIntegratedSensor's (shared with
/// NvmlSensor); this class keeps ROCm SMI's calls and the wrap/reset rule above.
///
/// Threading: as NvmlSensor (sample/telemetry/cross_check from one thread; health/info any).

#include <chrono>
#include <cstdint>
#include <optional>

#include "sensors/counter_or_integrated_sensor.hpp"
#include "sensors/rocm/rocm_device.hpp"

namespace joulebench::rocm {

class RocmSensor final : public CounterOrIntegratedSensor {
public:
    /// Nominal update period. AMD does not document how often the SMU refreshes the accumulator;
    /// 1 ms-scale firmware sampling is common but unverified, so the NVML value (100 ms) is used
    /// for the "run shorter than 10 update periods" warning until a GPU is measured.
    static constexpr std::chrono::milliseconds kUpdatePeriod{100};
    /// Counts after which a 32-bit accumulator wraps.
    static constexpr std::uint64_t kCounter32Range = std::uint64_t{1} << 32U;
    /// About twice the board power of the largest GPUs today (around 1.4 kW); a wrap that would
    /// imply more is a reset instead.
    static constexpr double kMaxPlausiblePowerW = 3000.0;

    /// Probes the accumulator and power readings and takes the baseline. Throws Error
    /// kNotSupported when neither works, naming both reasons.
    explicit RocmSensor(RocmDevice device, NowFn now = &Clock::now);

    std::optional<GpuTelemetry> telemetry() noexcept override;

    [[nodiscard]] const RocmDevice& device() const { return m_device; }

private:
    std::optional<Joules> read_counter(Clock::time_point now) noexcept override;
    bool read_power(double& power_w) noexcept override;
    [[nodiscard]] std::chrono::nanoseconds counter_max_poll_interval() const override;
    void record_event(bool wrap, std::uint64_t before, std::uint64_t after,
                      Clock::time_point time) noexcept;

    RocmDevice m_device;
    const RocmApi* m_api;

    std::uint64_t m_last_count = 0;
    Clock::time_point m_last_time{};
    double m_resolution_uj = 0.0;
    double m_energy_j = 0.0;  // accumulated since construction
    bool m_tel_power = false;
};

}  // namespace joulebench::rocm
