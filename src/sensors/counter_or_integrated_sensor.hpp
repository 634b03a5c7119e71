#pragma once
/// What the NVML and ROCm SMI GPU sensors share: method `counter` (a vendor energy counter,
/// differenced by the backend) with power readings integrated beside it as a cross-check, or
/// method `integrated` (trapezoidal integration of power readings between sample() calls) where
/// the counter is missing.
///
/// The base owns the read path (which method, when the cross-check reads power, failed reads),
/// health(), cross_check_energy() and the method notes. Each backend keeps its vendor's counter
/// semantics in read_counter(): units, and what a decrease means (NVML: always a reset; ROCm SMI:
/// a 32-bit wrap where plausible, else a reset), recorded through update_health().
///
/// Threading: sample(), telemetry() and cross_check_energy() are called from one thread (the
/// sampler's); health() and info() may be called from any thread.

#include <chrono>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

#include "joulebench/sensor.hpp"
#include "sensors/power_integrator.hpp"

namespace joulebench {

class CounterOrIntegratedSensor : public Sensor {
public:
    /// Time source; injectable for tests.
    using NowFn = Clock::time_point (*)() noexcept;

    /// Longest interval between two power readings for a faithful trapezoid (integrated method).
    static constexpr std::chrono::milliseconds kIntegratedMaxPoll{100};
    /// Power readings for the cross-check are taken at most this often (they cost a library call
    /// and the value changes no faster than the vendor's update period).
    static constexpr std::chrono::milliseconds kCrossCheckPeriod{10};

    [[nodiscard]] const SensorInfo& info() const final { return m_info; }
    std::optional<EnergySample> sample() noexcept final;
    [[nodiscard]] SensorHealth health() const final;
    [[nodiscard]] std::chrono::nanoseconds max_poll_interval() const final;
    [[nodiscard]] std::optional<Joules> cross_check_energy() const final;

protected:
    explicit CounterOrIntegratedSensor(NowFn now) : m_now(now) {}

    /// Reads the counter and returns the cumulative energy since construction; nullopt on a
    /// failed read (counted by the caller). Called only when the counter method is in use.
    virtual std::optional<Joules> read_counter(Clock::time_point now) noexcept = 0;
    /// One power reading in watts; false on a failed read.
    virtual bool read_power(double& power_w) noexcept = 0;
    /// max_poll_interval() of the counter method. Zero (the default): no requirement.
    [[nodiscard]] virtual std::chrono::nanoseconds counter_max_poll_interval() const {
        return std::chrono::nanoseconds{0};
    }

    /// At the end of the constructor, once m_use_counter and m_has_power are probed: throws Error
    /// kNotSupported ("`what`: `counter_note`; `power_note`", with `hint`) when neither works,
    /// else sets m_info.method and appends the method's note.
    void choose_method(std::string_view what, const std::string& counter_note,
                       const std::string& power_note, std::string hint);

    /// Runs `change(SensorHealth&)` under the health lock; `change` must not throw.
    template <typename F>
    void update_health(F&& change) noexcept {
        const std::lock_guard lock(m_health_mutex);
        change(m_health);
    }

    NowFn m_now;
    SensorInfo m_info;
    Clock::time_point m_open_time{};
    bool m_use_counter = false;
    bool m_has_power = false;
    // Integrated method (or the cross-check).
    PowerIntegrator m_integrator;

private:
    void count_failed_read() noexcept;

    mutable std::mutex m_health_mutex;  // guards m_health (read from other threads)
    SensorHealth m_health;
};

}  // namespace joulebench
