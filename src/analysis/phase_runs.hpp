#pragma once
/// `joulebench analyze DB --phase NAME`: the runs as one marked phase sees them (README
/// "Markers"), so that the same analysis compares, say, the measured inference with the warm-up
/// kept out. Pure: the store's records in, records out.

#include <cstddef>
#include <map>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "joulebench/records.hpp"

namespace joulebench::analysis {

/// The kinds of a run's domains: (run id, instance) -> domain id -> to_string(DomainKind).
using DomainKinds = std::map<std::pair<std::string, int>, std::map<std::string, std::string>>;

struct PhaseRuns {
    /// Every record of `runs`, in order; a done one's wall_s, energy_j, gpu_energy_j,
    /// cpu_energy_j, edp_js and ed2p_js2 are its phase's (unset when it did not mark the phase),
    /// net_energy_j unset. Other statuses pass unchanged (the analysis counts them only).
    std::vector<RunRecord> runs;
    std::size_t marked = 0;      ///< done records that marked the phase
    std::size_t unmarked = 0;    ///< done records that did not
    std::size_t repeated = 0;    ///< records where it occurs more than once (summed)
    std::size_t unended = 0;     ///< occurrences that never ended (they end with the run)
    std::size_t unread = 0;      ///< records whose phase energy is unknown (a domain unread)
    std::vector<std::string> warnings;  ///< one per count above that is not 0 (but marked)
};

/// The phase `name` of each record of `runs` (Store::observations(): one per run, one per
/// instance in gang mode), from `phases` (Store::marked_phases()) of the same run and instance:
/// T is the phase's wall time, E the energy of the domains that count in the run's total between
/// its marks (GPU and CPU parts by the domains' kinds in `kinds`), EDP = E x T, ED2P = E x T^2.
/// A phase marked more than once in a run is summed (times and energies). The CPU marks: the
/// CPU-time estimate when a domain of that kind is in the phase's energy; a CPU domain shared or
/// attributed in the run is "shared" in the phase, whose readings are the domain's whole
/// counter.
[[nodiscard]] PhaseRuns phase_runs(std::span<const RunRecord> runs,
                                   std::span<const MarkedPhaseRecord> phases,
                                   const DomainKinds& kinds, std::string_view name);

}  // namespace joulebench::analysis
