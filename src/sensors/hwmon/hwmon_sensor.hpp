#pragma once
// Energy and power of the Linux hwmon class (/sys/class/hwmon/hwmonN): the amd_energy driver's
// socket counters (AMD CPUs), the energy counter of Intel discrete GPUs (i915, xe), the power
// readings of amdgpu (no ROCm SMI needed) and any board sensor with energy or power files.
//
// Semantics (docs/sensors.md): `energyN_input` is a cumulative counter in microjoules, differenced
// (method counter); where a device has no energy counter, `powerN_average` (else `powerN_input`),
// in microwatts, is integrated with the trapezoid rule between reads (method integrated). One
// domain per GPU (its board channel), one per amd_energy socket (per-core counters are parts of
// the socket and are skipped), one per channel of any other device (kind platform, never added).
// A device without energy or power files (temperature-only) is passed over without a word.

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "joulebench/sensor.hpp"
#include "sensors/power_integrator.hpp"

namespace joulebench::hwmon {

/// Which file of a channel is read.
enum class Reading {
    kEnergy,        ///< energyN_input, microjoules, cumulative
    kPowerAverage,  ///< powerN_average, microwatts
    kPowerInput,    ///< powerN_input, microwatts
};

/// One hwmon channel chosen as a domain.
struct ChannelDescription {
    std::filesystem::path file;  ///< the file read: .../hwmon3/energy1_input
    std::string hwmon;           ///< "hwmon3"
    std::string driver;          ///< contents of `name`: "amdgpu", "amd_energy", "i915", ...
    std::string label;           ///< contents of the channel's `_label`, or empty
    int channel = 0;             ///< N of energyN_input / powerN_average
    Reading reading = Reading::kEnergy;
    DomainKind kind = DomainKind::kPlatform;
    int index = -1;              ///< GPU: k-th hwmon GPU in PCI order; package: socket number
    std::string id;
    std::string pci_bus_id;      ///< the PCI device hwmon's `device` link points at, if any
    std::string device_identity;
    std::chrono::microseconds update_period{0};
    /// How often the file must be read: integration needs regular reads, and i915/xe correct one
    /// wrap of their 32-bit register between two reads only.
    std::chrono::nanoseconds max_poll_interval{0};
};

/// Default update period of hwmon power readings whose driver states none (`update_interval`
/// absent): power values change no faster than this (as NVML's power reading).
inline constexpr std::chrono::milliseconds kDefaultPowerUpdatePeriod{100};
/// Integrated power is read at least this often: the trapezoid between two reads further apart
/// would miss what happened between them.
inline constexpr std::chrono::milliseconds kIntegratedMaxPoll{100};
/// i915/xe counters: read at least this often (their 32-bit register wraps after minutes at the
/// highest board power; the driver corrects a single wrap between two reads).
inline constexpr std::chrono::seconds kIntelGpuMaxPoll{10};

/// Differencing of a cumulative 64-bit microjoule counter. A decrease is a reset (driver reload,
/// suspend, a device reset): the counter restarted from zero, so the new raw value is the energy
/// since the restart. Never a wrap: every hwmon energy attribute is 64-bit microjoules (the
/// drivers accumulate narrower registers, docs/sensors.md), which would take 580,000 years to
/// wrap at 1 kW. Exposed for tests.
struct CounterTracker {
    std::optional<std::uint64_t> last_uj;
    std::uint64_t resets = 0;
    /// Adds a raw reading; returns the energy since the previous reading (0 for the first).
    /// `was_reset` tells whether this reading was counted as a reset.
    std::uint64_t add(std::uint64_t raw_uj, bool& was_reset);
};

class HwmonSensor final : public Sensor {
public:
    using NowFn = Clock::time_point (*)() noexcept;

    /// Opens the channel's file and reads it once. Throws Error (kNoPermission with a hint, kIo).
    explicit HwmonSensor(ChannelDescription channel, NowFn now = &Clock::now);
    ~HwmonSensor() override;

    [[nodiscard]] const SensorInfo& info() const override { return m_info; }
    std::optional<EnergySample> sample() noexcept override;
    [[nodiscard]] SensorHealth health() const override;
    [[nodiscard]] std::chrono::nanoseconds max_poll_interval() const override { return m_max_poll; }

private:
    void record_reset(std::uint64_t before_uj, std::uint64_t after_uj, Clock::time_point time) noexcept;

    SensorInfo m_info;
    ChannelDescription m_channel;
    NowFn m_now;
    int m_fd = -1;
    std::chrono::nanoseconds m_max_poll{0};
    Clock::time_point m_open_time{};
    CounterTracker m_counter;
    std::uint64_t m_total_uj = 0;
    PowerIntegrator m_integrator;
    mutable std::mutex m_health_mutex;
    SensorHealth m_health;
};

/// Lists the channels under `root` (e.g. /sys/class/hwmon) that become domains, with reasons for
/// the energy and power channels passed over. Devices without energy or power files are ignored.
std::vector<ChannelDescription> discover_channels(const std::filesystem::path& root,
                                                  std::vector<std::string>& skipped);

/// Probes the hwmon backend. Never throws: problems become skip reasons. A root that does not
/// exist or holds no energy or power file yields no sensor and no reason.
BackendProbe probe_hwmon(const std::filesystem::path& root) noexcept;

}  // namespace joulebench::hwmon
