#include "sensors/nvml/nvml_sensor.hpp"

#include <string>
#include <utility>

#include <fmt/format.h>

#include "sensors/device_identity.hpp"

namespace joulebench::nvml {

namespace {
bool nvml_unsupported(nvmlReturn_t rc) {
    return rc == kErrorNotSupported || rc == kErrorFunctionNotFound;
}
}  // namespace

NvmlSensor::NvmlSensor(NvmlDevice device, NowFn now)
    : CounterOrIntegratedSensor(now), m_device(std::move(device)), m_api(&m_device.api()) {
    const nvmlDevice_t handle = m_device.handle();
    m_info.id = fmt::format("gpu{}", m_device.index());
    m_info.kind = DomainKind::kGpu;
    m_info.index = m_device.index();
    m_info.backend = "nvml";
    m_info.name = m_device.name();
    m_info.source = m_device.uuid();
    m_info.pci_bus_id = m_device.pci_bus_id();
    m_info.device_identity = pci_identity(m_info.pci_bus_id);
    m_info.update_period = kUpdatePeriod;
    // The counter is 64-bit millijoules (2^64 mJ ~ 1.8e16 J): it never wraps in practice, so no
    // wrap_range; going backwards is a reset, handled separately.

    const Clock::time_point open_time = m_now();
    std::string counter_note;
    if (m_api->nvmlDeviceGetTotalEnergyConsumption == nullptr) {
        counter_note = "energy counter: nvmlDeviceGetTotalEnergyConsumption not in the library";
    } else {
        unsigned long long energy_mj = 0;
        const nvmlReturn_t rc = m_api->nvmlDeviceGetTotalEnergyConsumption(handle, &energy_mj);
        if (rc == kSuccess) {
            m_use_counter = true;
            m_last_counter_mj = energy_mj;
        } else if (nvml_unsupported(rc)) {
            counter_note = "energy counter: not supported";
        } else {
            counter_note = fmt::format("energy counter: read failed at open ({})",
                                       m_device.library()->error_string(rc));
        }
    }

    std::string power_note;
    if (m_api->nvmlDeviceGetPowerUsage == nullptr) {
        power_note = "power readings: nvmlDeviceGetPowerUsage not in the library";
    } else {
        unsigned power_mw = 0;
        const nvmlReturn_t rc = m_api->nvmlDeviceGetPowerUsage(handle, &power_mw);
        if (rc == kSuccess) {
            m_has_power = true;
            m_integrator.add(open_time, from_milliwatts(power_mw).value());
        } else if (nvml_unsupported(rc)) {
            power_note = "power readings: not supported";
        } else {
            power_note = fmt::format("power readings: read failed at open ({})",
                                     m_device.library()->error_string(rc));
        }
    }

    choose_method(fmt::format("nvml: open energy sensor of {}", m_device.label()), counter_note,
                  power_note,
                  "this GPU reports neither energy nor power (pre-Kepler boards or vGPU guests)");

    m_info.limits.push_back(m_device.limit_info());
    try {
        if (!m_device.persistence_mode()) {
            m_info.notes.emplace_back(
                "persistence mode: off (the driver forgets power limits when no client holds the "
                "GPU)");
        }
    } catch (const Error&) {
        // persistence mode unknown: nothing to say
    }
    if (m_info.pci_bus_id.empty()) {
        m_info.notes.emplace_back("PCI bus id: not available; GPU ordered by NVML index");
    }

    m_tel_power = m_has_power;
    m_tel_temperature = m_api->nvmlDeviceGetTemperature != nullptr;
    m_tel_clock = m_api->nvmlDeviceGetClockInfo != nullptr;
    m_tel_utilisation = m_api->nvmlDeviceGetUtilizationRates != nullptr;
    m_tel_enforced = m_api->nvmlDeviceGetEnforcedPowerLimit != nullptr;
    m_reasons_fn = m_api->nvmlDeviceGetCurrentClocksEventReasons != nullptr
                       ? m_api->nvmlDeviceGetCurrentClocksEventReasons
                       : m_api->nvmlDeviceGetCurrentClocksThrottleReasons;
    m_open_time = open_time;
}

bool NvmlSensor::read_power(double& power_w) noexcept {
    unsigned power_mw = 0;
    if (m_api->nvmlDeviceGetPowerUsage(m_device.handle(), &power_mw) != kSuccess) return false;
    power_w = from_milliwatts(power_mw).value();
    return true;
}

void NvmlSensor::record_reset(unsigned long long before_mj, unsigned long long after_mj,
                              Clock::time_point time) noexcept {
    update_health([&](SensorHealth& health) {
        ++health.resets;
        try {
            health.events.push_back(fmt::format(
                "{}: energy counter reset at +{:.3f} s (from {} mJ to {} mJ; driver reload or GPU "
                "reset): the new reading counts as energy since the reset, energy between the "
                "previous reading and the reset is lost, so the total is a lower bound",
                m_info.id, seconds_between(m_open_time, time), before_mj, after_mj));
        } catch (...) {
            // out of memory: the reset is still counted
        }
    });
}

// NVML's counter: 64-bit millijoules since driver load. A decrease is always a reset (the counter
// never wraps in practice, 2^64 mJ ~ 1.8e16 J).
std::optional<Joules> NvmlSensor::read_counter(Clock::time_point now) noexcept {
    unsigned long long energy_mj = 0;
    if (m_api->nvmlDeviceGetTotalEnergyConsumption(m_device.handle(), &energy_mj) != kSuccess) {
        return std::nullopt;
    }
    if (energy_mj < m_last_counter_mj) {
        record_reset(m_last_counter_mj, energy_mj, now);
        m_energy_mj += energy_mj;  // energy since the reset
    } else {
        m_energy_mj += energy_mj - m_last_counter_mj;
    }
    m_last_counter_mj = energy_mj;
    return from_millijoules(m_energy_mj);
}

std::optional<GpuTelemetry> NvmlSensor::telemetry() noexcept {
    const nvmlDevice_t handle = m_device.handle();
    GpuTelemetry out;
    // A NOT_SUPPORTED answer removes the field for good (the hardware will not change its mind);
    // other errors leave it empty for this call only.
    if (m_tel_power) {
        unsigned power_mw = 0;
        const nvmlReturn_t rc = m_api->nvmlDeviceGetPowerUsage(handle, &power_mw);
        if (rc == kSuccess) out.power = from_milliwatts(power_mw);
        else if (nvml_unsupported(rc)) m_tel_power = false;
    }
    if (m_tel_temperature) {
        unsigned temperature_c = 0;
        const nvmlReturn_t rc = m_api->nvmlDeviceGetTemperature(handle, kTemperatureGpu, &temperature_c);
        if (rc == kSuccess) out.temperature_c = static_cast<double>(temperature_c);
        else if (nvml_unsupported(rc)) m_tel_temperature = false;
    }
    if (m_tel_clock) {
        unsigned clock_mhz = 0;
        const nvmlReturn_t rc = m_api->nvmlDeviceGetClockInfo(handle, kClockSm, &clock_mhz);
        if (rc == kSuccess) out.sm_clock_mhz = clock_mhz;
        else if (nvml_unsupported(rc)) m_tel_clock = false;
    }
    if (m_tel_utilisation) {
        nvmlUtilization_t utilisation{};
        const nvmlReturn_t rc = m_api->nvmlDeviceGetUtilizationRates(handle, &utilisation);
        if (rc == kSuccess) out.utilisation_pct = utilisation.gpu;
        else if (nvml_unsupported(rc)) m_tel_utilisation = false;
    }
    if (m_reasons_fn != nullptr) {
        unsigned long long reasons = 0;
        nvmlReturn_t rc = m_reasons_fn(handle, &reasons);
        if (nvml_unsupported(rc) && m_reasons_fn == m_api->nvmlDeviceGetCurrentClocksEventReasons &&
            m_api->nvmlDeviceGetCurrentClocksThrottleReasons != nullptr) {
            // The new name exists but does not answer: fall back to the older one for good.
            m_reasons_fn = m_api->nvmlDeviceGetCurrentClocksThrottleReasons;
            rc = m_reasons_fn(handle, &reasons);
        }
        if (rc == kSuccess) out.throttle_reasons = static_cast<std::uint64_t>(reasons);
        else if (nvml_unsupported(rc)) m_reasons_fn = nullptr;
    }
    if (m_tel_enforced) {
        unsigned limit_mw = 0;
        const nvmlReturn_t rc = m_api->nvmlDeviceGetEnforcedPowerLimit(handle, &limit_mw);
        if (rc == kSuccess) out.enforced_limit = from_milliwatts(limit_mw);
        else if (nvml_unsupported(rc)) m_tel_enforced = false;
    }
    return out;
}

}  // namespace joulebench::nvml
