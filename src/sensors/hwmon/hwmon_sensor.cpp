#include "sensors/hwmon/hwmon_sensor.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <unistd.h>

#include <cerrno>
#include <utility>

#include "common/sysfs.hpp"
#include "joulebench/error.hpp"

namespace joulebench::hwmon {

namespace fs = std::filesystem;

std::uint64_t CounterTracker::add(std::uint64_t raw_uj, bool& was_reset) {
    was_reset = false;
    if (!last_uj) {
        last_uj = raw_uj;
        return 0;
    }
    std::uint64_t delta = 0;
    if (raw_uj >= *last_uj) {
        delta = raw_uj - *last_uj;
    } else {
        // Restarted from zero (no 64-bit microjoule counter wraps in practice): what it counts
        // now is the energy since the restart; what it counted between our last read and the
        // restart is lost, and the reset is reported.
        ++resets;
        was_reset = true;
        delta = raw_uj;
    }
    last_uj = raw_uj;
    return delta;
}

namespace {

std::string permission_hint(const fs::path& file) {
    return fmt::format(
        "{} is readable by root only (amd_energy made its counters so after CVE-2020-12912); run "
        "as root, or grant read access with `sudo chmod a+r {}` (until the next boot) or a udev "
        "rule",
        file.filename().string(), file.string());
}

std::string_view reading_text(Reading r) {
    switch (r) {
        case Reading::kEnergy: return "energy counter";
        case Reading::kPowerAverage: return "average power";
        case Reading::kPowerInput: return "power";
    }
    return "reading";
}

}  // namespace

HwmonSensor::HwmonSensor(ChannelDescription channel, NowFn now)
    : m_channel(std::move(channel)), m_now(now) {
    const fs::path& file = m_channel.file;
    m_fd = ::open(file.c_str(), O_RDONLY | O_CLOEXEC);
    if (m_fd < 0) {
        const int err = errno;
        throw system_error(fmt::format("hwmon: open {}", file.string()), err,
                           (err == EACCES || err == EPERM) ? permission_hint(file) : std::string{});
    }
    if (!sysfs::pread_u64(m_fd)) {
        const int err = errno;
        ::close(m_fd);
        m_fd = -1;
        throw system_error(fmt::format("hwmon: read {}", file.string()), err ? err : EIO,
                           (err == EACCES || err == EPERM) ? permission_hint(file) : std::string{});
    }
    const bool counter = m_channel.reading == Reading::kEnergy;
    m_info.id = m_channel.id;
    m_info.kind = m_channel.kind;
    m_info.index = m_channel.index;
    m_info.method = counter ? Method::kCounter : Method::kIntegrated;
    m_info.backend = "hwmon";
    m_info.name = m_channel.label.empty() ? m_channel.driver
                                          : fmt::format("{} {}", m_channel.driver, m_channel.label);
    m_info.source = file.string();
    m_info.pci_bus_id = m_channel.pci_bus_id;
    m_info.device_identity = m_channel.device_identity;
    m_info.update_period = m_channel.update_period;
    // 64-bit microjoules: no wrap range (a decrease is a reset, counted in health()).
    if (!counter) {
        m_info.notes.push_back(fmt::format(
            "{} of {} integrated (trapezoid between reads, at least every {} ms)",
            reading_text(m_channel.reading), m_channel.hwmon,
            std::chrono::duration_cast<std::chrono::milliseconds>(m_channel.max_poll_interval).count()));
    }
    m_max_poll = m_channel.max_poll_interval;
    m_open_time = m_now();
}

HwmonSensor::~HwmonSensor() {
    if (m_fd >= 0) ::close(m_fd);
}

void HwmonSensor::record_reset(std::uint64_t before_uj, std::uint64_t after_uj,
                               Clock::time_point time) noexcept {
    const std::lock_guard lock(m_health_mutex);
    ++m_health.resets;
    try {
        m_health.events.push_back(fmt::format(
            "{}: {} went back at {:.3f} s from {} to {} uJ: counted as a restart from zero "
            "(driver reload, suspend or device reset); energy between the last read and the "
            "restart is lost",
            m_info.id, m_channel.file.filename().string(), seconds_between(m_open_time, time),
            before_uj, after_uj));
    } catch (...) {
        // out of memory: the reset is still counted
    }
}

std::optional<EnergySample> HwmonSensor::sample() noexcept {
    const auto raw = sysfs::pread_u64(m_fd);
    const Clock::time_point now = m_now();
    if (!raw) {
        const std::lock_guard lock(m_health_mutex);
        ++m_health.failed_reads;
        return std::nullopt;
    }
    if (m_channel.reading != Reading::kEnergy) {
        m_integrator.add(now, from_microwatts(*raw).value());
        return EnergySample{now, Joules(m_integrator.energy_j)};
    }
    const std::uint64_t before = m_counter.last_uj.value_or(0);
    bool was_reset = false;
    m_total_uj += m_counter.add(*raw, was_reset);
    if (was_reset) record_reset(before, *raw, now);
    return EnergySample{now, from_microjoules(m_total_uj)};
}

SensorHealth HwmonSensor::health() const {
    const std::lock_guard lock(m_health_mutex);
    return m_health;
}

BackendProbe probe_hwmon(const fs::path& root) noexcept {
    BackendProbe probe;
    probe.backend = "hwmon";
    try {
        auto channels = discover_channels(root, probe.skipped);
        bool hint_given = false;
        for (auto& c : channels) {
            try {
                probe.sensors.push_back(std::make_unique<HwmonSensor>(c));
            } catch (const Error& e) {
                probe.skipped.push_back(fmt::format("{} ({})", e.what(), c.id));
                if (e.category() == ErrorCategory::kNoPermission && !hint_given && !e.hint().empty()) {
                    probe.skipped.push_back("hwmon: hint: " + e.hint());
                    hint_given = true;
                }
            }
        }
        if (!probe.sensors.empty()) probe.notes.push_back("hwmon root: " + root.string());
    } catch (const std::exception& e) {
        probe.skipped.push_back(std::string("hwmon: probe failed: ") + e.what());
    }
    return probe;
}

}  // namespace joulebench::hwmon
