// The report of each workload: the curves, overheads and statistics from the blocks of the
// `analyze DB` analyses, and the best caps and overheads over caps from their cap tables.

#include <fmt/core.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <utility>

#include "analysis/ordering.hpp"
#include "report/report_build.hpp"

namespace joulebench::report {

namespace {

using CapLevel = std::pair<std::optional<double>, std::optional<double>>;  // GPU, CPU

// Curves, overheads and statistics of workload `w` from every block of every analysis; returns
// the cap levels it was measured at (none: no done run of the workload).
std::vector<CapLevel> add_blocks(WorkloadReport& wr, const ReportModel& m,
                                 const CapScheme& scheme) {
    std::vector<CapLevel> levels;
    for (const auto& a : m.analyses) {
        for (const auto& b : a.blocks) {
            if (b.workload != wr.name) continue;
            const CapLevel lvl{b.gpu_cap_w, b.cpu_cap_w};
            if (std::find(levels.begin(), levels.end(), lvl) == levels.end()) {
                levels.push_back(lvl);
            }
            const std::string label = scheme.label(b.gpu_cap_w, b.cpu_cap_w);
            const auto value = scheme.value(b.gpu_cap_w, b.cpu_cap_w);
            for (const auto& g : b.analysis.groups) {
                wr.curves.push_back(CurvePoint{g.name, value, label, a.metric, g.d.n, g.d.median,
                                               g.median_ci95.lo, g.median_ci95.hi, g.d.q1, g.d.q3,
                                               g.d.min, g.d.max});
            }
            for (const auto& o : b.analysis.baseline) {
                wr.overheads.push_back(OverheadPoint{o.group, value, label, a.metric,
                                                     o.overhead.pct, o.overhead.ci.lo,
                                                     o.overhead.ci.hi});
            }
            wr.statistics.push_back(
                StatisticsBlock{b.title, a.metric, b.analysis, stats::verdicts(b.analysis)});
        }
    }
    std::sort(levels.begin(), levels.end(), [](const CapLevel& a, const CapLevel& b) {
        if (analysis::cap_less(a.first, b.first) || analysis::cap_less(b.first, a.first)) {
            return analysis::cap_less(a.first, b.first);
        }
        return analysis::cap_less(a.second, b.second);
    });
    return levels;
}

// Best caps and overheads over caps: analyse_caps through analyze DB's cap tables (held by the
// first analysis). Returns whether the workload has a row in some cap table.
bool add_cap_tables(WorkloadReport& wr, const ReportModel& m) {
    wr.best_caps.title = "Best power cap per environment (medians over runs)";
    wr.best_caps.headers = {"environment", "cap min E (W)",    "E (J)",      "cap min EDP (W)",
                            "EDP (J s)",   "cap min ED2P (W)", "ED2P (J s2)"};
    wr.overhead_summary.title =
        m.baseline ? "Overhead against '" + *m.baseline + "' over caps (% of medians)"
                   : "Overhead over caps";
    wr.overhead_summary.headers = {"environment", "caps",    "T avg %",   "T max %",
                                   "E avg %",     "E max %", "EDP avg %", "EDP max %"};
    bool any_table = false;
    for (const auto& c : m.analyses.front().caps) {
        const std::string ctx = c.other_varies
                                    ? fmt::format(" ({} cap {})", c.domain == "gpu" ? "CPU" : "GPU",
                                                  analysis::cap_label(c.other_cap_w))
                                    : std::string();
        for (const auto& o : c.caps.optima) {
            if (o.workload != wr.name) continue;
            any_table = true;
            wr.best_caps.rows.push_back({o.environment + ctx, number_cell(o.cap_min_energy_w),
                                         number_cell(o.min_energy_j), number_cell(o.cap_min_edp_w),
                                         number_cell(o.min_edp_js), number_cell(o.cap_min_ed2p_w),
                                         number_cell(o.min_ed2p_js2)});
        }
        for (const auto& s : c.caps.summary) {
            if (s.workload != wr.name) continue;
            wr.overhead_summary.rows.push_back(
                {s.environment + ctx, std::to_string(s.caps), percent_cell(s.time_avg_pct),
                 percent_cell(s.time_max_pct), percent_cell(s.energy_avg_pct),
                 percent_cell(s.energy_max_pct), percent_cell(s.edp_avg_pct),
                 percent_cell(s.edp_max_pct)});
        }
    }
    return any_table;
}

// One cap level: no cap to choose, and the average and maximum over caps are the overhead at
// that level (from the statistics' overheads).
void single_level_tables(WorkloadReport& wr, const ReportModel& m) {
    wr.best_caps.note = fmt::format(
        "Only one cap level ({}) was measured for this workload: there is no cap to choose.",
        wr.cap_levels.front());
    std::map<std::string, std::map<std::string, double>> at;
    for (const auto& o : wr.overheads) at[o.environment][o.metric] = o.pct;
    for (const auto& e : m.environments) {
        const auto it = at.find(e);
        if (it == at.end()) continue;
        const auto get = [&](const char* k) {
            const auto f = it->second.find(k);
            return percent_cell(f == it->second.end() ? NAN : f->second);
        };
        wr.overhead_summary.rows.push_back({e, "1", get("wall_s"), get("wall_s"), get("energy_j"),
                                            get("energy_j"), get("edp_js"), get("edp_js")});
    }
    wr.overhead_summary.note =
        "One cap level: average and maximum are the overhead at that level (medians, from the "
        "statistics below).";
}

}  // namespace

std::vector<WorkloadReport> workload_reports(const ReportModel& m,
                                             const std::vector<std::string>& workloads,
                                             const CapScheme& scheme) {
    std::vector<WorkloadReport> out;
    for (const auto& w : workloads) {
        WorkloadReport wr;
        wr.name = w;
        const std::vector<CapLevel> levels = add_blocks(wr, m, scheme);
        if (levels.empty()) continue;  // no done run of this workload
        bool all_numeric = !(scheme.gpu_varies && scheme.cpu_varies);
        for (const auto& [g, c] : levels) {
            wr.cap_levels.push_back(scheme.label(g, c));
            all_numeric = all_numeric && scheme.value(g, c).has_value();
        }
        wr.cap_axis = levels.size() == 1 ? "single" : (all_numeric ? "quantitative" : "ordinal");
        wr.cap_title = scheme.title();
        if (!add_cap_tables(wr, m)) {
            single_level_tables(wr, m);
        } else if (wr.overhead_summary.rows.empty()) {
            wr.overhead_summary.note = "No overheads: the baseline has no runs under these caps.";
        }
        if (!m.baseline) wr.overhead_summary.note = "No baseline environment: no overheads.";
        out.push_back(std::move(wr));
    }
    return out;
}

}  // namespace joulebench::report
