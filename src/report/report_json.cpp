// The data of the report page (schema joulebench.report/1, docs/report.md), and its safe
// embedding in a <script> element.

#include "common/json_number.hpp"
#include "report/report_data.hpp"

namespace joulebench::report {

nlohmann::json to_json(const ReportModel& m) {
    nlohmann::json j;
    j["schema"] = std::string(kReportSchema);
    j["db"] = m.db;
    j["generated_at"] = m.generated_at;
    j["joulebench_version"] = m.joulebench_version;
    j["experiment"] = {{"name", m.experiment.name},
                       {"file_name", m.experiment.file_name},
                       {"file_sha256", m.experiment.file_sha256},
                       {"seed", std::to_string(m.experiment.seed)},
                       {"seed_given", m.experiment.seed_given}};
    j["baseline"] = m.baseline ? nlohmann::json(*m.baseline) : nlohmann::json();
    j["environments"] = m.environments;
    j["status"] = analysis::to_json(m.status);
    j["workloads"] = nlohmann::json::array();
    for (const auto& w : m.workloads) {
        nlohmann::json jw;
        jw["name"] = w.name;
        jw["cap_axis"] = w.cap_axis;
        jw["cap_title"] = w.cap_title;
        jw["cap_levels"] = w.cap_levels;
        jw["curves"] = nlohmann::json::array();
        for (const auto& c : w.curves) {
            jw["curves"].push_back({{"environment", c.environment},
                                    {"cap_w", json_number(c.cap_w)},
                                    {"cap", c.cap_label},
                                    {"metric", c.metric},
                                    {"n", c.n},
                                    {"median", json_number(c.median)},
                                    {"lo", json_number(c.lo)},
                                    {"hi", json_number(c.hi)},
                                    {"q1", json_number(c.q1)},
                                    {"q3", json_number(c.q3)},
                                    {"min", json_number(c.min)},
                                    {"max", json_number(c.max)}});
        }
        jw["overheads"] = nlohmann::json::array();
        for (const auto& o : w.overheads) {
            jw["overheads"].push_back({{"environment", o.environment},
                                       {"cap_w", json_number(o.cap_w)},
                                       {"cap", o.cap_label},
                                       {"metric", o.metric},
                                       {"pct", json_number(o.pct)},
                                       {"lo", json_number(o.lo)},
                                       {"hi", json_number(o.hi)}});
        }
        jw["statistics"] = nlohmann::json::array();
        for (const auto& b : w.statistics) {
            jw["statistics"].push_back({{"title", b.title},
                                        {"metric", b.metric},
                                        {"analysis", stats::to_json(b.analysis)},
                                        {"verdicts", b.verdicts}});
        }
        j["workloads"].push_back(std::move(jw));
    }
    // Runs as columns (one array per field): a 10 000-run store stays a few hundred kB smaller
    // than with one object per run, and the page turns them into rows once.
    nlohmann::json runs;
    for (const char* k : {"run_id", "plan_index", "workload", "environment", "cap", "repetition",
                          "status", "variant", "start_s", "wall_s", "energy_j"}) {
        runs[k] = nlohmann::json::array();
    }
    for (const auto& r : m.runs) {
        runs["run_id"].push_back(r.run_id);
        runs["plan_index"].push_back(r.plan_index);
        runs["workload"].push_back(r.workload);
        runs["environment"].push_back(r.environment);
        runs["cap"].push_back(r.cap_label);
        runs["repetition"].push_back(r.repetition);
        runs["status"].push_back(r.status);
        runs["variant"].push_back(r.variant);
        runs["start_s"].push_back(json_number(r.start_s));
        runs["wall_s"].push_back(json_number(r.wall_s));
        runs["energy_j"].push_back(json_number(r.energy_j));
    }
    j["runs"] = std::move(runs);
    nlohmann::json tr;
    tr["run_id"] = m.trace.run_id;
    tr["title"] = m.trace.title;
    tr["rows"] = m.trace.rows;
    tr["bucket"] = m.trace.bucket;
    tr["idle_power_w"] = json_number(m.trace.idle_power_w);
    tr["note"] = m.trace.note;
    tr["points"] = nlohmann::json::array();
    for (const auto& p : m.trace.points) {
        tr["points"].push_back({{"t_s", json_number(p.t_s)},
                                {"domain", p.domain},
                                {"power_w", json_number(p.power_w)}});
    }
    j["trace"] = std::move(tr);
    j["warnings"] = nlohmann::json::array();
    for (const auto& w : m.warnings) {
        j["warnings"].push_back(
            {{"source", w.source}, {"code", w.code}, {"text", w.text}, {"count", w.count}});
    }
    return j;
}

std::string json_for_script(const nlohmann::json& doc) {
    const std::string text = doc.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    std::string out;
    out.reserve(text.size() + text.size() / 64);
    for (const char c : text) {
        // '<' occurs only inside JSON strings, where \u003c means the same character; so no
        // "</script" or "<!--" can end or disturb the script element.
        if (c == '<') {
            out += "\\u003c";
        } else {
            out += c;
        }
    }
    return out;
}

}  // namespace joulebench::report
