// The JSON of `analyze DB` (schema joulebench.analysis-store/1, docs/statistics.md).

#include "analysis/store_analysis.hpp"
#include "common/json_number.hpp"

namespace joulebench::analysis {

namespace {

// The CPU marks of energies, named as in `sweep --json`.
void add_cpu_marks(const CpuEnergyMarks& marks, nlohmann::json& j) {
    j["cpu_estimated"] = marks.estimated;
    j["cpu_attributed"] = marks.attributed;
    j["cpu_shared"] = marks.shared;
}

}  // namespace

nlohmann::json to_json(const StatusCounts& s) {
    return {{"total", s.total()},           {"done", s.done},
            {"failed", s.failed},           {"timeout", s.timeout},
            {"interrupted", s.interrupted}, {"not_run", s.not_run()}};
}

nlohmann::json to_json(const stats::CapAnalysis& c) {
    nlohmann::json j;
    j["optima"] = nlohmann::json::array();
    for (const auto& o : c.optima) {
        j["optima"].push_back({{"environment", o.environment},
                               {"workload", o.workload},
                               {"cap_min_energy_w", json_number(o.cap_min_energy_w)},
                               {"cap_min_edp_w", json_number(o.cap_min_edp_w)},
                               {"cap_min_ed2p_w", json_number(o.cap_min_ed2p_w)},
                               {"min_energy_j", json_number(o.min_energy_j)},
                               {"min_edp_js", json_number(o.min_edp_js)},
                               {"min_ed2p_js2", json_number(o.min_ed2p_js2)}});
    }
    j["overheads"] = nlohmann::json::array();
    for (const auto& o : c.overheads) {
        j["overheads"].push_back({{"environment", o.environment},
                                  {"workload", o.workload},
                                  {"cap_w", json_number(o.cap_w)},
                                  {"time_pct", json_number(o.time_pct)},
                                  {"energy_pct", json_number(o.energy_pct)},
                                  {"edp_pct", json_number(o.edp_pct)}});
    }
    j["summary"] = nlohmann::json::array();
    for (const auto& s : c.summary) {
        j["summary"].push_back({{"environment", s.environment},
                                {"workload", s.workload},
                                {"caps", s.caps},
                                {"time_avg_pct", json_number(s.time_avg_pct)},
                                {"time_max_pct", json_number(s.time_max_pct)},
                                {"energy_avg_pct", json_number(s.energy_avg_pct)},
                                {"energy_max_pct", json_number(s.energy_max_pct)},
                                {"edp_avg_pct", json_number(s.edp_avg_pct)},
                                {"edp_max_pct", json_number(s.edp_max_pct)}});
    }
    j["warnings"] = c.warnings;
    return j;
}

nlohmann::json to_json(const StoreAnalysis& a) {
    nlohmann::json j;
    j["schema"] = std::string(kStoreAnalysisSchema);
    j["source"] = {{"db", a.db},
                   {"experiment", a.experiment},
                   {"metric", a.metric},
                   {"phase", a.phase ? nlohmann::json(*a.phase) : nlohmann::json()},
                   {"by", std::string(to_string(a.by))},
                   {"baseline", a.baseline ? nlohmann::json(*a.baseline) : nlohmann::json()}};
    j["runs"] = to_json(a.runs.status);
    j["runs"]["missing_metric"] = a.runs.missing_metric;
    j["runs"]["used"] = a.runs.used;
    add_cpu_marks(a.cpu, j);
    j["blocks"] = nlohmann::json::array();
    for (const auto& b : a.blocks) {
        nlohmann::json jb;
        if (b.workload) jb["workload"] = *b.workload;
        if (b.environment) jb["environment"] = *b.environment;
        if (b.has_gpu_cap) jb["power_cap_w"] = json_number(b.gpu_cap_w);
        if (b.has_cpu_cap) jb["cpu_power_cap_w"] = json_number(b.cpu_cap_w);
        jb["runs"] = b.runs;
        jb["time_order_warnings"] = b.time_warnings;
        add_cpu_marks(b.cpu, jb);
        jb["analysis"] = to_json(b.analysis);
        j["blocks"].push_back(std::move(jb));
    }
    j["caps"] = nlohmann::json::array();
    for (const auto& c : a.caps) {
        nlohmann::json jc = to_json(c.caps);
        jc["domain"] = c.domain;
        jc[c.domain == "gpu" ? "cpu_power_cap_w" : "power_cap_w"] = json_number(c.other_cap_w);
        jc["baseline"] = c.baseline.empty() ? nlohmann::json() : nlohmann::json(c.baseline);
        j["caps"].push_back(std::move(jc));
    }
    j["warnings"] = a.warnings;
    return j;
}

}  // namespace joulebench::analysis
