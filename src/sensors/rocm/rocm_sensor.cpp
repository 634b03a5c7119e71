#include "sensors/rocm/rocm_sensor.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <string>
#include <utility>

#include "sensors/device_identity.hpp"

namespace joulebench::rocm {

namespace {
bool rocm_unsupported(rsmi_status_t rc) {
    return rc == kRsmiNotSupported || rc == kRsmiNotYetImplemented;
}
}  // namespace

RocmSensor::RocmSensor(RocmDevice device, NowFn now)
    : CounterOrIntegratedSensor(now), m_device(std::move(device)), m_api(&m_device.api()) {
    const std::uint32_t dv = m_device.dv_ind();
    m_info.id = fmt::format("amdgpu{}", m_device.index());
    m_info.kind = DomainKind::kGpu;
    m_info.index = m_device.index();
    m_info.backend = "rocm";
    m_info.name = m_device.name();
    m_info.source = m_device.unique_id();
    m_info.pci_bus_id = m_device.pci_bus_id();
    // An AMD GPU hwmon sees too (amdgpu) is counted here once, by its counter (registry.hpp).
    m_info.device_identity = pci_identity(m_info.pci_bus_id);
    m_info.update_period = kUpdatePeriod;

    const Clock::time_point open_time = m_now();
    std::string counter_note;
    if (m_api->rsmi_dev_energy_count_get == nullptr) {
        counter_note = "energy counter: rsmi_dev_energy_count_get not in the library";
    } else {
        std::uint64_t count = 0;
        float resolution_uj = 0.0F;
        std::uint64_t timestamp_ns = 0;
        const rsmi_status_t rc =
            m_api->rsmi_dev_energy_count_get(dv, &count, &resolution_uj, &timestamp_ns);
        if (rc == kRsmiSuccess && std::isfinite(resolution_uj) && resolution_uj > 0.0F) {
            m_use_counter = true;
            m_last_count = count;
            m_last_time = open_time;
            m_resolution_uj = static_cast<double>(resolution_uj);
        } else if (rc == kRsmiSuccess) {
            counter_note = fmt::format("energy counter: unusable resolution {} uJ",
                                       static_cast<double>(resolution_uj));
        } else if (rocm_unsupported(rc)) {
            counter_note = "energy counter: not supported";
        } else {
            counter_note = fmt::format("energy counter: read failed at open ({})",
                                       m_device.library()->error_string(rc));
        }
    }

    std::string power_note;
    if (m_api->rsmi_dev_power_ave_get == nullptr) {
        power_note = "power readings: rsmi_dev_power_ave_get not in the library";
    } else {
        std::uint64_t power_uw = 0;
        const rsmi_status_t rc = m_api->rsmi_dev_power_ave_get(dv, 0, &power_uw);
        if (rc == kRsmiSuccess) {
            m_has_power = true;
            m_integrator.add(open_time, from_microwatts(power_uw).value());
        } else if (rocm_unsupported(rc)) {
            power_note = "power readings: not supported";
        } else {
            power_note = fmt::format("power readings: read failed at open ({})",
                                     m_device.library()->error_string(rc));
        }
    }

    if (m_use_counter) {
        // Where the first reading is below 2^32 the counter may be a 32-bit one (docs/rocm.md).
        if (m_last_count < kCounter32Range) {
            m_info.wrap_range =
                Joules(static_cast<double>(kCounter32Range) * m_resolution_uj * 1e-6);
        }
        // Before the method's note (m_info.notes is empty so far).
        m_info.notes.push_back(
            fmt::format("energy counter: resolution {:.3f} uJ per count", m_resolution_uj));
    }
    choose_method(fmt::format("rocm: open energy sensor of {}", m_device.label()), counter_note,
                  power_note, "this GPU reports neither energy nor power through ROCm SMI");
    m_info.limits.push_back(m_device.limit_info());
    if (m_info.source.empty()) m_info.notes.emplace_back("unique id: not available");
    if (m_info.pci_bus_id.empty()) {
        m_info.notes.emplace_back("PCI bus id: not available; GPU ordered by ROCm SMI index");
    }
    m_tel_power = m_has_power;
    m_open_time = open_time;
}

bool RocmSensor::read_power(double& power_w) noexcept {
    std::uint64_t power_uw = 0;
    if (m_api->rsmi_dev_power_ave_get(m_device.dv_ind(), 0, &power_uw) != kRsmiSuccess) {
        return false;
    }
    power_w = from_microwatts(power_uw).value();
    return true;
}

void RocmSensor::record_event(bool wrap, std::uint64_t before, std::uint64_t after,
                              Clock::time_point time) noexcept {
    update_health([&](SensorHealth& health) {
        if (wrap) {
            ++health.wraps;
            return;
        }
        ++health.resets;
        try {
            health.events.push_back(fmt::format(
                "{}: energy counter reset at +{:.3f} s (from {} to {} counts; driver reload or GPU "
                "reset): the new reading counts as energy since the reset, energy between the "
                "previous reading and the reset is lost, so the total is a lower bound",
                m_info.id, seconds_between(m_open_time, time), before, after));
        } catch (...) {
            // out of memory: the reset is still counted
        }
    });
}

// ROCm SMI's accumulator: counts of the (re-read) resolution; a decrease is a 32-bit wrap where
// plausible, else a reset (the header's rule).
std::optional<Joules> RocmSensor::read_counter(Clock::time_point now) noexcept {
    std::uint64_t count = 0;
    float resolution_uj = 0.0F;
    std::uint64_t timestamp_ns = 0;
    if (m_api->rsmi_dev_energy_count_get(m_device.dv_ind(), &count, &resolution_uj,
                                         &timestamp_ns) != kRsmiSuccess) {
        return std::nullopt;
    }
    if (std::isfinite(resolution_uj) && resolution_uj > 0.0F) {
        m_resolution_uj = static_cast<double>(resolution_uj);
    }
    std::uint64_t delta = 0;
    if (count >= m_last_count) {
        delta = count - m_last_count;
    } else {
        const std::uint64_t wrapped =
            m_last_count < kCounter32Range ? count + (kCounter32Range - m_last_count) : 0;
        const double elapsed_s = seconds_between(m_last_time, now);
        const double wrapped_j = static_cast<double>(wrapped) * m_resolution_uj * 1e-6;
        const bool wrap = wrapped != 0 && count < kCounter32Range &&
                          wrapped_j <= kMaxPlausiblePowerW * std::max(elapsed_s, 0.0);
        record_event(wrap, m_last_count, count, now);
        delta = wrap ? wrapped : count;
    }
    m_energy_j += static_cast<double>(delta) * m_resolution_uj * 1e-6;
    m_last_count = count;
    m_last_time = now;
    return Joules(m_energy_j);
}

std::chrono::nanoseconds RocmSensor::counter_max_poll_interval() const {
    if (!m_info.wrap_range) return std::chrono::nanoseconds{0};
    // One wrap at most between two readings, at the highest plausible power.
    return std::chrono::duration_cast<std::chrono::nanoseconds>(
        std::chrono::duration<double>(m_info.wrap_range->value() / kMaxPlausiblePowerW));
}

std::optional<GpuTelemetry> RocmSensor::telemetry() noexcept {
    GpuTelemetry out;
    if (m_tel_power) {
        std::uint64_t power_uw = 0;
        const rsmi_status_t rc = m_api->rsmi_dev_power_ave_get(m_device.dv_ind(), 0, &power_uw);
        if (rc == kRsmiSuccess)
            out.power = from_microwatts(power_uw);
        else if (rocm_unsupported(rc))
            m_tel_power = false;
    }
    return out;
}

}  // namespace joulebench::rocm
