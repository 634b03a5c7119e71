#pragma once
// A sensor that reads nothing (0 J, now): for tests and benchmarks of what is done with a sensor's
// description (its id, kind, method), not with its readings.

#include <optional>
#include <string>
#include <utility>

#include "joulebench/sensor.hpp"

namespace joulebench::test {

class StillSensor final : public Sensor {
public:
    explicit StillSensor(SensorInfo info) : m_info(std::move(info)) {}
    [[nodiscard]] const SensorInfo& info() const override { return m_info; }
    std::optional<EnergySample> sample() noexcept override { return EnergySample{Clock::now(), Joules(0.0)}; }
    [[nodiscard]] SensorHealth health() const override { return {}; }

private:
    SensorInfo m_info;
};

}  // namespace joulebench::test
