#include "tune/report.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "common/json_number.hpp"
#include "joulebench/experiment.hpp"
#include "joulebench/table.hpp"

namespace joulebench::tune {

namespace {

std::string number(double value) {
    return fmt::format("{:.4g}", value);
}

// "EDP", "energy within a 10% slowdown", ...
std::string metric_title(const SearchOptions& o) {
    switch (o.metric) {
        case Metric::kEnergy: return "energy";
        case Metric::kEdp: return "EDP";
        case Metric::kEd2p: return "ED2P";
        case Metric::kEnergyWithinSlowdown:
            return fmt::format("energy within a {:g}% slowdown", 100.0 * o.max_slowdown);
    }
    return "EDP";
}

std::string metric_unit(Metric metric) {
    switch (metric) {
        case Metric::kEdp: return "J·s";
        case Metric::kEd2p: return "J·s²";
        case Metric::kEnergy:
        case Metric::kEnergyWithinSlowdown: return "J";
    }
    return "J";
}

std::string watts_list(const std::vector<double>& caps) {
    std::vector<std::string> out;
    for (const double w : caps) out.push_back(format_watts(w) + " W");
    return fmt::format("{}", fmt::join(out, ", "));
}

std::string duration(double seconds) {
    if (seconds < 120.0) return fmt::format("{:.3g} s", seconds);
    if (seconds < 7200.0) return fmt::format("{:.3g} min", seconds / 60.0);
    return fmt::format("{:.3g} h", seconds / 3600.0);
}

Table evaluated_table(const TuneReport& r) {
    const bool online = r.method == "online";
    const std::string per = online ? " per unit" : "";
    Table t;
    t.title = fmt::format("joulebench tune: {} ({}, method {})", fmt::join(r.command, " "),
                          metric_title(r.options), r.method);
    t.headers = {"cap W", online ? "segments" : "runs", "median T s" + per, "median E J" + per,
                 "EDP J·s" + per, "ED2P J·s²" + per};
    const bool slowdown = r.options.metric == Metric::kEnergyWithinSlowdown;
    if (slowdown) t.headers.push_back("slowdown %");
    t.align = std::vector<Align>(t.headers.size(), Align::kRight);
    for (const CapEvaluation& e : r.result.evaluated) {
        std::string cap = format_watts(e.cap_w);
        if (r.result.best_cap_w && *r.result.best_cap_w == e.cap_w) cap += " *";
        std::vector<std::string> row{cap, std::to_string(e.runs), number(e.median_time_s),
                                     number(e.median_energy_j), number(e.median_edp_js),
                                     number(e.median_ed2p_js2)};
        if (slowdown) row.push_back(fmt::format("{:.1f}{}", 100.0 * e.slowdown, e.allowed ? "" : " !"));
        t.rows.push_back(std::move(row));
    }
    return t;
}

std::string best_line(const TuneReport& r) {
    const SearchResult& s = r.result;
    if (!s.best_cap_w) return "best cap: none\n";
    std::string line = fmt::format("best cap: {} W, {} {} {}", format_watts(*s.best_cap_w),
                                   metric_title(r.options), number(s.best_metric),
                                   metric_unit(r.options.metric));
    if (s.ci_low && s.ci_high) {
        line += fmt::format(" ({:g}% interval {} to {})", 100.0 * r.options.confidence,
                            number(*s.ci_low), number(*s.ci_high));
    }
    line += "\n";
    if (!s.indistinguishable_caps_w.empty()) {
        line += fmt::format("cannot be told apart from it at {:g}%: {}\n", 100.0 * r.options.confidence,
                            watts_list(s.indistinguishable_caps_w));
    }
    return line;
}

}  // namespace

std::string render_text(const TuneReport& r) {
    std::string out = render_table(evaluated_table(r), TableFormat::kText);
    out += best_line(r);
    if (r.method == "online") {
        out += fmt::format("runs: 1 (the caps changed while it ran); time {}, energy {} J\n",
                           duration(r.machine_time_s), number(r.energy_spent_j));
    } else {
        out += fmt::format("runs: {} of a budget of {}{}; time {}, energy {} J\n", r.runs_attempted,
                           r.options.budget,
                           r.runs_failed > 0 ? fmt::format(" ({} failed)", r.runs_failed) : "",
                           duration(r.machine_time_s), number(r.energy_spent_j));
    }
    out += fmt::format("a sweep with 3 repetitions per cap: {} runs", r.full_sweep_runs);
    if (r.full_sweep_time_s) out += fmt::format(", about {}", duration(*r.full_sweep_time_s));
    out += "\n";
    out += fmt::format("confident: {}\n", r.result.confident ? "yes" : "no");
    for (const auto& line : explain(r.cpu, "the energies of this table")) out += line + "\n";
    for (const auto& note : r.result.notes) out += "note: " + note + "\n";
    for (const auto& note : r.notes) out += "note: " + note + "\n";
    return out;
}

nlohmann::json to_json(const TuneReport& r) {
    const SearchResult& s = r.result;
    nlohmann::json j;
    j["method"] = r.method;
    j["metric"] = std::string(metric_name(r.options.metric));
    j["max_slowdown"] = r.options.metric == Metric::kEnergyWithinSlowdown
                            ? nlohmann::json(r.options.max_slowdown)
                            : nlohmann::json(nullptr);
    j["command"] = r.command;
    j["caps_w"] = r.options.caps_w;
    j["best_cap_w"] = json_number(s.best_cap_w);
    j["metric_value"] = s.best_cap_w ? json_number(s.best_metric) : nlohmann::json(nullptr);
    j["ci"] = {{"confidence", r.options.confidence},
               {"low", json_number(s.ci_low)},
               {"high", json_number(s.ci_high)}};
    j["indistinguishable_caps_w"] = s.indistinguishable_caps_w;
    j["confident"] = s.confident;
    j["runs_used"] = r.runs_attempted;
    j["runs_failed"] = r.runs_failed;
    j["budget"] = r.options.budget;
    j["budget_spent"] = s.budget_spent;
    j["full_sweep_runs"] = r.full_sweep_runs;
    j["full_sweep_time_s"] = json_number(r.full_sweep_time_s);
    j["machine_time_s"] = json_number(r.machine_time_s);
    j["energy_spent_j"] = json_number(r.energy_spent_j);
    j["cpu_estimated"] = r.cpu.estimated;
    j["cpu_attributed"] = r.cpu.attributed;
    j["cpu_shared"] = r.cpu.shared;
    j["evaluated"] = nlohmann::json::array();
    for (const CapEvaluation& e : s.evaluated) {
        j["evaluated"].push_back({{"cap_w", e.cap_w},
                                  {"runs", e.runs},
                                  {"median_time_s", json_number(e.median_time_s)},
                                  {"median_energy_j", json_number(e.median_energy_j)},
                                  {"median_edp_js", json_number(e.median_edp_js)},
                                  {"median_ed2p_js2", json_number(e.median_ed2p_js2)},
                                  {"allowed", e.allowed},
                                  {"slowdown", json_number(e.slowdown)}});
    }
    std::vector<std::string> notes = s.notes;
    notes.insert(notes.end(), r.notes.begin(), r.notes.end());
    j["notes"] = notes;
    return j;
}

}  // namespace joulebench::tune
