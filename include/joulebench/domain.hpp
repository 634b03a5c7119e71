#pragma once
/// The vocabulary of a measured domain: what it measures (DomainKind), how its energy is obtained
/// (Method), its static description (SensorInfo), its readings (EnergySample, GpuTelemetry) and
/// read health (SensorHealth). Plain data: sensors produce these facts, measurements, the store
/// and reports carry them.

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "joulebench/units.hpp"

namespace joulebench {

/// What a domain measures. Which kinds add into a total is decided in one place
/// (counts_in_total), and documented in the README.
enum class DomainKind {
    kGpu,           ///< a whole GPU board (NVML)
    kPackage,       ///< a CPU package/socket (RAPL `package-N`)
    kCore,          ///< cores of a package (RAPL `core`, PP0): inside the package, never added
    kUncore,        ///< uncore/integrated GPU (RAPL `uncore`, PP1): inside the package, never added
    kDram,          ///< memory attached to a package (RAPL `dram`)
    kPsys,          ///< the whole SoC/platform (RAPL `psys`): overlaps package, never added
    kEstimatedCpu,  ///< CPU energy estimated from CPU time (no sensor)
    kPlatform,      ///< a board or platform sensor of hwmon that is neither a GPU nor a CPU
                    ///< package (a power meter, a voltage regulator): what it covers is not
                    ///< known, so it may overlap other domains and is never added
};

/// How a domain's energy is obtained.
enum class Method {
    kCounter,     ///< a hardware energy counter, differenced
    kIntegrated,  ///< power readings integrated over time (trapezoid)
    kEstimated,   ///< a model, not a measurement
};

[[nodiscard]] std::string_view to_string(DomainKind kind);
/// How a domain's energy relates to the run it is reported for. A GPU of the run's slot is
/// measured alone; a machine-wide domain (CPU package, DRAM) measures every run on the machine,
/// so while runs overlap it is attributed to each by its share of the machine's busy CPU time,
/// or, when that share is unknown, reported whole and labelled shared (docs/runner.md).
enum class Sharing {
    kAlone,       ///< only this run was measured
    kAttributed,  ///< scaled to the run's share of the machine's busy CPU time
    kShared,      ///< includes other runs' energy (their share unknown)
};

/// Where a domain was measured, seen from the machine joulebench runs on.
enum class Location {
    kHost,    ///< on this machine (bare and container runs, the host side of a VM run)
    kGuest,   ///< inside a VM joulebench booted (`type = "vm"`: its GPUs)
    kRemote,  ///< on another machine, by its own joulebench (`type = "ssh"`)
};

[[nodiscard]] std::string_view to_string(Method method);
/// "alone", "attributed", "shared".
[[nodiscard]] std::string_view to_string(Sharing sharing);
/// "host", "guest", "remote".
[[nodiscard]] std::string_view to_string(Location location);
[[nodiscard]] std::optional<Location> location_from_string(std::string_view text);
/// Parses the names produced by to_string; nullopt when unknown.
[[nodiscard]] std::optional<Method> method_from_string(std::string_view text);
[[nodiscard]] std::optional<Sharing> sharing_from_string(std::string_view text);
/// Parses the names produced by to_string; nullopt when unknown.
[[nodiscard]] std::optional<DomainKind> domain_kind_from_string(std::string_view text);

/// A power limit (or powercap constraint) of a domain, in watts.
struct PowerLimitInfo {
    std::string name;                        ///< "power limit", "long_term", "short_term", ...
    std::optional<Watts> current;            ///< the limit in force
    std::optional<Watts> enforced;           ///< GPU: the limit the driver enforces
    std::optional<Watts> min;                ///< lowest allowed value
    std::optional<Watts> max;                ///< highest allowed value
    std::optional<Watts> default_value;      ///< the factory default
    std::optional<std::chrono::microseconds> time_window;  ///< RAPL constraint window
};

/// Static description of a sensor.
struct SensorInfo {
    std::string id;          ///< stable within a host: "gpu0", "package0", "package0-core", "dram0", "psys0", "cpu-estimated"
    DomainKind kind = DomainKind::kPackage;
    /// GPUs: the global index (every vendor's GPUs in PCI bus order, docs/sensors.md "GPU
    /// indices"); packages: the package index; -1 when not applicable.
    int index = -1;
    std::string vendor;      ///< GPUs: "nvidia", "amd", "intel", "unknown"; empty otherwise
    Method method = Method::kCounter;
    std::string backend;     ///< "nvml", "powercap", "estimate"
    std::string name;        ///< human name: GPU model, powercap zone name
    std::string source;      ///< where it is read: sysfs path, GPU UUID
    std::string pci_bus_id;  ///< GPUs: domain:bus:device.function
    /// The physical thing measured, the same whichever backend reads it: "pci:0000:03:00.0" for a
    /// GPU, "cpu-package:0" for a CPU package (sensors/device_identity.hpp). The registry keeps
    /// the first domain of an identity, in probe order, and lists later ones as duplicates, so
    /// nothing is counted twice. Empty: unknown, never a duplicate.
    std::string device_identity;
    /// Nominal update period of the underlying hardware value (how often it changes).
    std::chrono::microseconds update_period{0};
    /// Counters that wrap: the range after which they start again from zero.
    std::optional<Joules> wrap_range;
    std::vector<PowerLimitInfo> limits;
    /// Free-form facts worth showing in `sensors -v` (e.g. "energy counter: not supported").
    std::vector<std::string> notes;
};

/// One reading: cumulative energy since open, unwrapped, with the time it was taken.
struct EnergySample {
    Clock::time_point time;
    Joules energy;
};

/// Extra readings of a GPU, all optional (a missing NVML symbol or NOT_SUPPORTED removes one).
struct GpuTelemetry {
    std::optional<Watts> power;
    std::optional<double> temperature_c;
    std::optional<unsigned> sm_clock_mhz;
    std::optional<unsigned> utilisation_pct;
    std::optional<std::uint64_t> throttle_reasons;  ///< NVML clocks-event/throttle bit mask
    std::optional<Watts> enforced_limit;
};

/// What went wrong while a sensor was read.
struct SensorHealth {
    std::uint64_t wraps = 0;         ///< counter wraparounds corrected
    std::uint64_t resets = 0;        ///< counter went backwards (driver reload): flagged, not clamped
    std::uint64_t failed_reads = 0;  ///< reads that returned an error
    std::vector<std::string> events; ///< human descriptions of resets and similar
};

/// True for the kinds that add into `total_energy_j`: gpu, package, dram and, when no CPU sensor
/// exists, estimated-cpu. core, uncore and psys overlap package and are never added; platform
/// (hwmon board sensors) may overlap anything and is never added.
[[nodiscard]] bool counts_in_total(DomainKind kind);

}  // namespace joulebench
