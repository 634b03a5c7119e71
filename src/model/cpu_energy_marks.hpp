#pragma once
// What a run's energy total says about its CPU part, for the marks `run`'s progress line and
// `sweep`'s table put beside an energy: the CPU-time estimate (no CPU sensor), CPU energy
// attributed by the run's share of the machine's busy CPU time (runs overlapped on GPU slots), or
// machine-wide CPU energy shared with overlapping runs (their share unknown: it includes theirs).
// Read from the facts a measurement and a stored run carry (total_includes_estimate, each
// domain's sharing), never from warning texts.

#include <string>
#include <string_view>
#include <vector>

#include "joulebench/measure_result.hpp"
#include "joulebench/records.hpp"

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

/// From a measurement: total_includes_estimate and its domains' sharing.
[[nodiscard]] CpuEnergyMarks cpu_energy_marks(const MeasureResult& measurement);

/// From a stored run (RunRecord's total_includes_estimate, cpu_attributed, cpu_shared).
[[nodiscard]] CpuEnergyMarks cpu_energy_marks(const RunRecord& run);

/// "CPU estimated", "CPU attributed", "CPU shared", or those joined ("CPU estimated, shared"); ""
/// when none: the progress line's words.
[[nodiscard]] std::string describe(const CpuEnergyMarks& marks);

/// One sentence per mark set (estimated, attributed, shared, in that order), each
/// "CPU <word>: <subject> includes ...", saying what the energies so marked include: the
/// footnotes of every table that shows them (`sweep`, `analyze DB`). `subject` names those
/// energies, e.g. "the energy of runs of the marked caps".
[[nodiscard]] std::vector<std::string> explain(const CpuEnergyMarks& marks,
                                               std::string_view subject);

}  // namespace joulebench
