#pragma once
// What a run's energy total says about its CPU part, for the marks `run`'s progress line and
// `sweep`'s table put beside an energy: the CPU-time estimate (no CPU sensor), CPU energy
// attributed by the run's share of the machine's busy CPU time (runs overlapped on GPU slots), or
// machine-wide CPU energy shared with overlapping runs (their share unknown: it includes theirs).

#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

namespace joulebench {

struct CpuEnergyMarks {
    bool estimated = false;   ///< the total includes the CPU-time estimate (method `estimated`)
    bool attributed = false;  ///< some CPU domain was scaled to the run's CPU time share
    bool shared = false;      ///< some CPU domain includes other runs' energy (share unknown)

    /// Marks of several runs together: each set when some run has it.
    CpuEnergyMarks& operator|=(const CpuEnergyMarks& other) {
        estimated = estimated || other.estimated;
        attributed = attributed || other.attributed;
        shared = shared || other.shared;
        return *this;
    }
};

/// From a measurement's `total_includes_estimate` and its warnings (the runner's ": attributed: "
/// and ": shared: " warnings, src/runner/runner.cpp).
[[nodiscard]] CpuEnergyMarks cpu_energy_marks(bool total_includes_estimate, const std::vector<std::string>& warnings);

/// The same from a stored measurement document (`measure --json` schema). A document that is
/// not a JSON object marks nothing (never throws).
[[nodiscard]] CpuEnergyMarks cpu_energy_marks(const std::string& measure_json);

/// "CPU estimated", "CPU attributed", "CPU shared", or those joined ("CPU estimated, shared"); ""
/// when none: the progress line's words.
[[nodiscard]] std::string describe(const CpuEnergyMarks& marks);

}  // namespace joulebench
