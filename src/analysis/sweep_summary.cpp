#include "analysis/sweep_summary.hpp"

#include <fmt/format.h>

#include <map>
#include <utility>

#include "common/json_number.hpp"
#include "joulebench/experiment.hpp"
#include "model/sweep.hpp"

namespace joulebench::analysis {

namespace {

// Table marks of the CPU energy of a cap's runs, each explained by a footnote under the table.
constexpr std::string_view kEstimatedMark = "*";
constexpr std::string_view kAttributedMark = "+";
constexpr std::string_view kSharedMark = "!";

std::string cell(const std::optional<double>& v) {
    return v ? fmt::format("{:.4g}", *v) : "-";
}

}  // namespace

SweepSummary summarise_sweep(const std::vector<RunRecord>& runs,
                             const std::vector<double>& caps_w) {
    std::map<double, SweepRow> rows;
    for (const double w : caps_w) rows[w].cap_w = w;
    std::vector<stats::CapRun> done;
    for (const auto& r : runs) {
        if (!r.gpu_cap_w || rows.count(*r.gpu_cap_w) == 0) continue;
        SweepRow& row = rows[*r.gpu_cap_w];
        if (r.status == RunStatus::kDone && r.wall_s && r.energy_j && *r.wall_s > 0.0 &&
            *r.energy_j > 0.0) {
            ++row.n;
            row.cpu |= cpu_energy_marks(r);
            done.push_back({std::string(kSweepEnvironment), std::string(kSweepWorkload),
                            *r.gpu_cap_w, *r.wall_s, *r.energy_j});
        } else {
            ++row.failed;
        }
    }
    SweepSummary out;
    if (!done.empty()) {
        const stats::CapAnalysis analysis = stats::analyse_caps(done, kSweepEnvironment);
        for (const auto& m : analysis.medians) {
            SweepRow& row = rows[m.cap_w];
            row.wall_s = m.time_s;
            row.energy_j = m.energy_j;
            row.edp_js = m.edp_js;
            row.ed2p_js2 = m.ed2p_js2;
        }
        if (!analysis.optima.empty()) out.best = analysis.optima.front();
    }
    for (auto& [w, row] : rows) out.rows.push_back(row);
    return out;
}

Table sweep_table(const SweepSummary& s, const std::string& title) {
    Table t;
    t.title = title;
    t.headers = {"cap W", "n", "median T s", "median E J", "EDP J·s", "ED2P J·s²", "failed"};
    t.align = std::vector<Align>(t.headers.size(), Align::kRight);
    for (const auto& row : s.rows) {
        // The marks follow the energy (and so EDP and ED2P, which are computed from it).
        std::string energy = cell(row.energy_j);
        if (row.cpu.estimated) energy += kEstimatedMark;
        if (row.cpu.attributed) energy += kAttributedMark;
        if (row.cpu.shared) energy += kSharedMark;
        t.rows.push_back({format_watts(row.cap_w), std::to_string(row.n), cell(row.wall_s), energy,
                          cell(row.edp_js), cell(row.ed2p_js2), std::to_string(row.failed)});
    }
    return t;
}

std::string sweep_footer(const SweepSummary& s) {
    CpuEnergyMarks any;
    for (const auto& row : s.rows) any |= row.cpu;
    std::string out;
    for (const auto& [marks, symbol] :
         {std::pair{CpuEnergyMarks{true, false, false}, kEstimatedMark},
          std::pair{CpuEnergyMarks{false, true, false}, kAttributedMark},
          std::pair{CpuEnergyMarks{false, false, true}, kSharedMark}}) {
        const CpuEnergyMarks used{marks.estimated && any.estimated,
                                  marks.attributed && any.attributed, marks.shared && any.shared};
        for (const auto& line : explain(used, "the energy of runs of the marked caps")) {
            out += fmt::format("{} {}\n", symbol, line);
        }
    }
    if (s.best) {
        out += fmt::format(
            "best cap: E {} W, EDP {} W, ED2P {} W\n", format_watts(s.best->cap_min_energy_w),
            format_watts(s.best->cap_min_edp_w), format_watts(s.best->cap_min_ed2p_w));
    } else {
        out += "best cap: none (no run finished)\n";
    }
    return out;
}

nlohmann::json to_json(const SweepSummary& s, const std::vector<std::string>& command) {
    nlohmann::json j;
    j["command"] = command;
    j["caps"] = nlohmann::json::array();
    for (const auto& row : s.rows) {
        j["caps"].push_back({{"power_cap_w", row.cap_w},
                             {"n", row.n},
                             {"failed", row.failed},
                             {"wall_s", json_number(row.wall_s)},
                             {"energy_j", json_number(row.energy_j)},
                             {"edp_js", json_number(row.edp_js)},
                             {"ed2p_js2", json_number(row.ed2p_js2)},
                             {"cpu_estimated", row.cpu.estimated},
                             {"cpu_attributed", row.cpu.attributed},
                             {"cpu_shared", row.cpu.shared}});
    }
    if (s.best) {
        j["best"] = {{"energy_j", s.best->cap_min_energy_w},
                     {"edp_js", s.best->cap_min_edp_w},
                     {"ed2p_js2", s.best->cap_min_ed2p_w}};
    } else {
        j["best"] = {{"energy_j", nullptr}, {"edp_js", nullptr}, {"ed2p_js2", nullptr}};
    }
    return j;
}

}  // namespace joulebench::analysis
