#include "sensors/counter_or_integrated_sensor.hpp"

#include <fmt/format.h>

#include <utility>

#include "joulebench/error.hpp"

namespace joulebench {

void CounterOrIntegratedSensor::choose_method(std::string_view what,
                                              const std::string& counter_note,
                                              const std::string& power_note, std::string hint) {
    if (!m_use_counter && !m_has_power) {
        throw Error(ErrorCategory::kNotSupported,
                    fmt::format("{}: {}; {}", what, counter_note, power_note), std::move(hint));
    }
    if (m_use_counter) {
        m_info.method = Method::kCounter;
        if (m_has_power) {
            m_info.notes.push_back(fmt::format(
                "cross-check: power readings integrated (trapezoid, at most every {} ms)",
                kCrossCheckPeriod.count()));
        } else {
            m_info.notes.push_back(power_note + "; no cross-check");
        }
    } else {
        m_info.method = Method::kIntegrated;
        m_info.notes.push_back(counter_note + "; using integrated power");
    }
}

void CounterOrIntegratedSensor::count_failed_read() noexcept {
    update_health([](SensorHealth& health) { ++health.failed_reads; });
}

std::optional<EnergySample> CounterOrIntegratedSensor::sample() noexcept {
    const Clock::time_point now = m_now();
    if (m_use_counter) {
        const std::optional<Joules> energy = read_counter(now);
        if (!energy) {
            count_failed_read();
            return std::nullopt;
        }
        if (m_has_power &&
            (!m_integrator.has_last || now - m_integrator.last_time >= kCrossCheckPeriod)) {
            // A failed cross-check reading is not a gap in the energy trace: the next good one
            // spans the interval with a wider trapezoid.
            double power_w = 0.0;
            if (read_power(power_w)) m_integrator.add(now, power_w);
        }
        return EnergySample{now, *energy};
    }
    double power_w = 0.0;
    if (!read_power(power_w)) {
        count_failed_read();
        return std::nullopt;
    }
    m_integrator.add(now, power_w);
    return EnergySample{now, Joules(m_integrator.energy_j)};
}

SensorHealth CounterOrIntegratedSensor::health() const {
    const std::lock_guard lock(m_health_mutex);
    return m_health;
}

std::chrono::nanoseconds CounterOrIntegratedSensor::max_poll_interval() const {
    if (!m_use_counter) return kIntegratedMaxPoll;
    return counter_max_poll_interval();
}

std::optional<Joules> CounterOrIntegratedSensor::cross_check_energy() const {
    if (!m_use_counter || !m_has_power) return std::nullopt;
    return Joules(m_integrator.energy_j);
}

}  // namespace joulebench
