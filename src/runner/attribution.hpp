#pragma once
// CPU energy of runs that overlap on GPU slots. A CPU package or DRAM counter measures the whole
// machine, so while runs overlap it measures all of them: each run gets the share of the
// machine's busy CPU time that its own process tree used over its window ("attributed"), or,
// without a usable share, keeps the whole value labelled "shared" (docs/runner.md).

#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>

#include "joulebench/measure_result.hpp"

namespace joulebench::runner {

/// Which runs overlapped another run in time on the same machine: "" is this one, an ssh
/// environment's runs are on its host. Thread-safe.
class OverlapTracker {
public:
    void begin(const std::string& run_id, const std::string& machine);
    /// Ends the run; true when another run ran on its machine at some time during it.
    bool end(const std::string& run_id, const std::string& machine);

private:
    std::mutex m_mutex;
    std::map<std::string, std::set<std::string>> m_active;
    std::set<std::string> m_overlapped;
};

/// Busy CPU time of the whole machine so far (user, nice, system, irq, softirq, steal from the
/// first line of /proc/stat), seconds; nullopt when unreadable.
[[nodiscard]] std::optional<double> machine_busy_cpu_s();

/// Scales every machine-wide CPU domain of `m` (package, dram, core, uncore, psys) to the run's
/// share of `busy_s` (the machine's busy CPU time over the run) and says so in its warnings;
/// without `busy_s` the domains keep their value and a warning says it is shared. The total and
/// EDP follow.
void attribute_cpu_energy(MeasureResult& m, std::optional<double> busy_s);

/// On a node shared with other jobs (a Slurm job that does not hold the whole node), every
/// machine-wide CPU domain measured on this node includes their energy: labels it "shared" and
/// says so in a warning naming `why` (the job's CPUs against the node's).
void mark_node_shared(MeasureResult& m, const std::string& why);

}  // namespace joulebench::runner
