// The report's table of the phases workloads marked (README "Markers"): per variant (workload /
// environment / cap) and phase name, the median time and energy over the done runs.

#include <fmt/core.h>

#include <map>
#include <tuple>

#include "report/report_build.hpp"

namespace joulebench::report {

std::optional<Table> marked_phases_table(const Store& store, const ReportModel& m) {
    const auto phases = store.marked_phases();
    if (phases.empty()) return std::nullopt;
    std::map<std::string, const RunPoint*> done;
    for (const auto& r : m.runs) {
        if (r.status == "done") done[r.run_id] = &r;
    }
    struct Values {
        std::vector<double> wall_s, energy_j;
        std::size_t open = 0;  // ended by the run
    };
    // Keyed by plan order of the variant's first run, then the phase's first appearance.
    std::map<std::tuple<std::int64_t, std::string, std::string>, Values> groups;
    std::map<std::pair<std::string, std::string>, std::int64_t> first_index;
    for (const auto& p : phases) {
        const auto it = done.find(p.run_id);
        if (it == done.end()) continue;
        const RunPoint& run = *it->second;
        const auto [at, inserted] =
            first_index.try_emplace({run.variant, p.phase.name}, run.plan_index);
        (void)inserted;
        Values& v = groups[{at->second, run.variant, p.phase.name}];
        v.wall_s.push_back(p.phase.wall_s);
        if (p.phase.energy_j) v.energy_j.push_back(*p.phase.energy_j);
        if (p.phase.ended_by_run) ++v.open;
    }
    if (groups.empty()) return std::nullopt;
    Table t{.title = "Marked phases",
            .headers = {"variant", "phase", "n", "median T (s)", "median E (J)", "ended by run"},
            .note = "Phases the workloads marked (README \"Markers\"), over the done runs; a run "
                    "that marked a phase twice counts twice."};
    for (const auto& [key, v] : groups) {
        t.rows.push_back({std::get<1>(key), std::get<2>(key), std::to_string(v.wall_s.size()),
                          fmt::format("{:.4g}", stats::median(v.wall_s)),
                          v.energy_j.empty() ? "n/a"
                                             : fmt::format("{:.4g}", stats::median(v.energy_j)),
                          std::to_string(v.open)});
    }
    return t;
}

}  // namespace joulebench::report
