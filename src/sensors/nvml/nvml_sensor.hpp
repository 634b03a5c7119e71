#pragma once
/// The energy sensor of one NVIDIA GPU.
///
/// Method `counter`: deltas of nvmlDeviceGetTotalEnergyConsumption (mJ since driver load) where the
/// GPU supports it (Volta and later). Method `integrated`: trapezoidal integration of
/// nvmlDeviceGetPowerUsage (mW) between sample() calls otherwise. With a counter and power
/// readings both available, power is integrated too (at most every kCrossCheckPeriod) and exposed
/// by cross_check_energy(), so the caller can report the disagreement.
///
/// Counter reset (the counter goes backwards: driver reload, GPU reset): counted in
/// health().resets with an event, never clamped. The reading after the reset is taken as the
/// energy used since the reset, so the cumulative value keeps growing by that reading; energy used
/// between the last reading before the reset and the reset itself is lost, which makes the
/// cumulative value a lower bound from then on.
///
/// Threading: sample(), telemetry() and cross_check_energy() are called from one thread (the
/// sampler's); health() and info() may be called from any thread.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>

#include "joulebench/sensor.hpp"
#include "sensors/nvml/nvml_device.hpp"

namespace joulebench::nvml {

class NvmlSensor final : public Sensor {
public:
    /// Time source; injectable for tests.
    using NowFn = Clock::time_point (*)() noexcept;

    /// Nominal update period of NVML's energy counter and power reading. NVIDIA does not
    /// document it; published measurements (Yang et al., "Part-time Power Measurements:
    /// nvidia-smi's Lack of Attention") find power refreshed about every 100 ms on recent data
    /// centre GPUs (Yang, Adamek and Armour, arXiv:2312.02741, 2023). 100 ms is the value used for
    /// the "run shorter than 10 update periods" warning;
    /// docs/validation/gpu.md is where a measured value belongs.
    static constexpr std::chrono::milliseconds kUpdatePeriod{100};
    /// Longest interval between two power readings for a faithful trapezoid (integrated method).
    static constexpr std::chrono::milliseconds kIntegratedMaxPoll{100};
    /// Power readings for the cross-check are taken at most this often (they cost an NVML call
    /// and the value changes no faster than kUpdatePeriod).
    static constexpr std::chrono::milliseconds kCrossCheckPeriod{10};

    /// Probes which methods the device supports and takes the baseline reading (energy since
    /// construction starts at zero). Throws Error kNotSupported when neither the energy counter
    /// nor power readings work.
    explicit NvmlSensor(NvmlDevice device, NowFn now = &Clock::now);

    [[nodiscard]] const SensorInfo& info() const override { return m_info; }
    std::optional<EnergySample> sample() noexcept override;
    [[nodiscard]] SensorHealth health() const override;
    [[nodiscard]] std::chrono::nanoseconds max_poll_interval() const override;
    std::optional<GpuTelemetry> telemetry() noexcept override;
    [[nodiscard]] std::optional<Joules> cross_check_energy() const override;

    [[nodiscard]] const NvmlDevice& device() const { return m_device; }

private:
    // Integrates one power reading into `energy_j` (trapezoid with the previous reading).
    struct Integrator {
        bool has_last = false;
        Clock::time_point last_time{};
        double last_power_w = 0.0;
        double energy_j = 0.0;
        void add(Clock::time_point time, double power_w) noexcept;
    };

    bool read_power(double& power_w) noexcept;
    void count_failed_read() noexcept;
    void record_reset(unsigned long long before_mj, unsigned long long after_mj,
                      Clock::time_point time) noexcept;

    NvmlDevice m_device;
    const NvmlApi* m_api;  // owned by m_device's library
    NowFn m_now;
    SensorInfo m_info;
    Clock::time_point m_open_time{};

    bool m_use_counter = false;
    bool m_has_power = false;
    // Counter method state.
    unsigned long long m_last_counter_mj = 0;
    unsigned long long m_energy_mj = 0;  // accumulated since construction
    // Integrated method (or the cross-check).
    Integrator m_integrator;

    // Telemetry capabilities, dropped on NOT_SUPPORTED so later calls skip them.
    bool m_tel_power = false;
    bool m_tel_temperature = false;
    bool m_tel_clock = false;
    bool m_tel_utilisation = false;
    bool m_tel_enforced = false;
    nvmlReturn_t (*m_reasons_fn)(nvmlDevice_t, unsigned long long*) = nullptr;

    mutable std::mutex m_health_mutex;  // guards m_health (read from other threads)
    SensorHealth m_health;
};

}  // namespace joulebench::nvml
