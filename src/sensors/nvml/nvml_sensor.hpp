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
/// The read path, health() and the cross-check are CounterOrIntegratedSensor's (shared with
/// RocmSensor); this class keeps NVML's calls and counter semantics.
///
/// Threading: sample(), telemetry() and cross_check_energy() are called from one thread (the
/// sampler's); health() and info() may be called from any thread.

#include <chrono>
#include <optional>

#include "sensors/counter_or_integrated_sensor.hpp"
#include "sensors/nvml/nvml_device.hpp"

namespace joulebench::nvml {

class NvmlSensor final : public CounterOrIntegratedSensor {
public:
    /// Nominal update period of NVML's energy counter and power reading. NVIDIA does not
    /// document it; published measurements (Yang et al., "Part-time Power Measurements:
    /// nvidia-smi's Lack of Attention") find power refreshed about every 100 ms on recent data
    /// centre GPUs (Yang, Adamek and Armour, arXiv:2312.02741, 2023). 100 ms is the value used for
    /// the "run shorter than 10 update periods" warning;
    /// docs/validation/gpu.md is where a measured value belongs.
    static constexpr std::chrono::milliseconds kUpdatePeriod{100};

    /// Probes which methods the device supports and takes the baseline reading (energy since
    /// construction starts at zero). Throws Error kNotSupported when neither the energy counter
    /// nor power readings work.
    explicit NvmlSensor(NvmlDevice device, NowFn now = &Clock::now);

    std::optional<GpuTelemetry> telemetry() noexcept override;

    [[nodiscard]] const NvmlDevice& device() const { return m_device; }

private:
    std::optional<Joules> read_counter(Clock::time_point now) noexcept override;
    bool read_power(double& power_w) noexcept override;
    void record_reset(unsigned long long before_mj, unsigned long long after_mj,
                      Clock::time_point time) noexcept;

    NvmlDevice m_device;
    const NvmlApi* m_api;  // owned by m_device's library

    // Counter method state.
    unsigned long long m_last_counter_mj = 0;
    unsigned long long m_energy_mj = 0;  // accumulated since construction

    // Telemetry capabilities, dropped on NOT_SUPPORTED so later calls skip them.
    bool m_tel_power = false;
    bool m_tel_temperature = false;
    bool m_tel_clock = false;
    bool m_tel_utilisation = false;
    bool m_tel_enforced = false;
    nvmlReturn_t (*m_reasons_fn)(nvmlDevice_t, unsigned long long*) = nullptr;
};

}  // namespace joulebench::nvml
