// The context tables of the report: the experiment, each session's host, the environments and
// their images (beside the median energy per workload), and every idle baseline.

#include <fmt/core.h>

#include <algorithm>
#include <map>
#include <utility>

#include "report/report_build.hpp"

namespace joulebench::report {

namespace {

std::string human_bytes(double bytes) {
    static constexpr const char* kUnits[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    std::size_t u = 0;
    while (bytes >= 1024.0 && u + 1 < std::size(kUnits)) {
        bytes /= 1024.0;
        ++u;
    }
    return fmt::format("{:.{}f} {}", bytes, u == 0 ? 0 : 1, kUnits[u]);
}

// Flattens a JSON value into "key: value" pairs ("gpus[0].name").
void flatten(const nlohmann::json& j, const std::string& prefix,
             std::vector<std::pair<std::string, std::string>>& out) {
    if (j.is_object()) {
        for (const auto& [k, v] : j.items()) flatten(v, prefix.empty() ? k : prefix + "." + k, out);
        return;
    }
    if (j.is_array()) {
        for (std::size_t i = 0; i < j.size(); ++i) {
            flatten(j[i], prefix + "[" + std::to_string(i) + "]", out);
        }
        return;
    }
    std::string value = j.is_string() ? j.get<std::string>() : j.dump();
    // Sizes recorded in bytes read better with a binary prefix beside them.
    const bool bytes_key = prefix.size() >= 5 && (prefix.ends_with("_bytes") ||
                                                  prefix.ends_with(".size") || prefix == "size");
    if (bytes_key && j.is_number() && j.get<double>() >= 0) {
        value += " (" + human_bytes(j.get<double>()) + ")";
    }
    out.emplace_back(prefix, std::move(value));
}

Table experiment_table(const ReportModel& m, const std::optional<ExperimentSpec>& spec,
                       const ReportOptions& options) {
    Table exp{.title = "Experiment", .headers = {"item", "value"}};
    exp.rows.push_back({"name", m.experiment.name});
    exp.rows.push_back({"file", m.experiment.file_name});
    exp.rows.push_back({"file SHA-256", m.experiment.file_sha256});
    exp.rows.push_back(
        {"seed", std::to_string(m.experiment.seed) +
                     (m.experiment.seed_given ? " (given)" : " (derived from the name)")});
    if (spec) {
        exp.rows.push_back({"repetitions", std::to_string(spec->repetitions)});
        exp.rows.push_back({"order", std::string(to_string(spec->order))});
    }
    exp.rows.push_back({"store created", utc(m.experiment.created_at)});
    exp.rows.push_back({"created by", "joulebench " + m.experiment.joulebench_version});
    exp.rows.push_back({"runs", to_string(m.status)});
    exp.rows.push_back({"baseline", m.baseline.value_or("(none)")});
    exp.rows.push_back(
        {"statistics",
         fmt::format("p adjusted by {}, alpha {}, bootstrap {} resamples (seed {})",
                     stats::to_string(options.analysis.p_adjust), options.analysis.alpha,
                     options.analysis.bootstrap.resamples, options.analysis.bootstrap.seed)});
    return exp;
}

// What the sessions recorded about each environment, beyond the host.
struct EnvironmentDetails {
    std::map<std::string, std::vector<std::string>> lines;  // env -> "session N: k: v; ..."
    std::map<std::string, nlohmann::json> audits;  // env -> its image audit (last session's)
};

// A session's "environments" object: one flat line per environment; the image audit is kept
// apart (it has a table of its own, not a flat line).
void add_environment_details(const nlohmann::json& environments, const SessionRecord& s,
                             bool several_sessions, EnvironmentDetails& details) {
    for (const auto& [name, described] : environments.items()) {
        nlohmann::json d = described;
        if (d.is_object() && d.contains("audit")) {
            details.audits[name] = d["audit"];
            d.erase("audit");
        }
        std::vector<std::pair<std::string, std::string>> kv;
        flatten(d, "", kv);
        std::string line;
        for (const auto& [dk, dv] : kv) line += (line.empty() ? "" : "; ") + dk + ": " + dv;
        if (!line.empty()) {
            details.lines[name].push_back(
                several_sessions ? fmt::format("session {}: {}", s.id, line) : line);
        }
    }
}

// One table per session: when and how it ran, and its host flattened.
std::vector<Table> session_tables(const Store& store, EnvironmentDetails& details) {
    std::vector<Table> out;
    const auto sessions = store.sessions();
    for (const auto& s : sessions) {
        Table t{.title = fmt::format("Session {} (host)", s.id), .headers = {"item", "value"}};
        t.rows.push_back({"started", utc(s.started_at)});
        t.rows.push_back({"ended", s.ended_at ? utc(*s.ended_at) : "(not recorded)"});
        if (s.shard) t.rows.push_back({"shard", *s.shard});
        t.rows.push_back({"joulebench", s.joulebench_version});
        if (!s.command_line.empty()) t.rows.push_back({"command line", s.command_line});
        const auto host = nlohmann::json::parse(s.host_json, nullptr, false);
        if (host.is_object()) {
            for (const auto& [k, v] : host.items()) {
                if (k == "environments" && v.is_object()) {
                    add_environment_details(v, s, sessions.size() > 1, details);
                    continue;
                }
                std::vector<std::pair<std::string, std::string>> kv;
                flatten(v, k, kv);
                for (auto& [fk, fv] : kv) t.rows.push_back({fk, fv});
            }
        } else {
            t.note = "host_json is not a JSON object";
        }
        out.push_back(std::move(t));
    }
    return out;
}

Table environments_table(const ReportModel& m, const std::optional<ExperimentSpec>& spec,
                         const EnvironmentDetails& details) {
    // The last column holds long lines: a paragraph column in LaTeX.
    Table envt{.title = "Environments",
               .headers = {"environment", "type", "image", "recorded by the runner"},
               .align = {Align::kAuto, Align::kAuto, Align::kAuto, Align::kWrap}};
    for (const auto& e : m.environments) {
        std::string type;
        std::string image;
        if (spec) {
            for (const auto& es : spec->environments) {
                if (es.name != e) continue;
                type = std::string(to_string(es.type));
                image = es.image;
                if (es.type == EnvironmentType::kSsh) image = "(host " + es.host + ")";
            }
        }
        std::string text;
        if (const auto it = details.lines.find(e); it != details.lines.end()) {
            for (const auto& d : it->second) text += (text.empty() ? "" : " | ") + d;
        }
        envt.rows.push_back({e, type, image, text});
    }
    return envt;
}

// Energy beside image size (the second study's last table): each container environment's image
// from its audit (`image inspect`), and the median energy of its done runs per workload.
Table images_table(const ReportModel& m, const std::vector<RunRecord>& runs,
                   const std::map<std::string, nlohmann::json>& audits) {
    std::map<std::pair<std::string, std::string>, std::vector<double>> energy;  // (w, env)
    std::vector<std::string> workload_names;
    for (const auto& r : runs) {  // read once, in plan order
        if (r.status != RunStatus::kDone) continue;
        if (std::find(workload_names.begin(), workload_names.end(), r.workload) ==
            workload_names.end()) {
            workload_names.push_back(r.workload);
        }
        if (r.energy_j) energy[{r.workload, r.environment}].push_back(*r.energy_j);
    }
    Table images{
        .title = "Images",
        .headers = {"environment", "image", "size", "layers", "base", "Python", "PyTorch", "CUDA"},
        .note =
            "Size and contents from each container environment's image audit "
            "(joulebench image inspect), recorded when the run started; energy is "
            "the median over the done runs."};
    for (const auto& w : workload_names) images.headers.push_back("median E " + w + " (J)");
    const auto text = [](const nlohmann::json& j, const char* key) {
        return j.contains(key) && j[key].is_string() ? j[key].get<std::string>() : std::string("-");
    };
    for (const auto& e : m.environments) {
        const auto it = audits.find(e);
        if (it == audits.end() || !it->second.is_object()) continue;
        const auto& a = it->second;
        const auto sw = a.contains("software") ? a["software"] : nlohmann::json::object();
        std::vector<std::string> row{
            e,
            text(a, "reference"),
            a.contains("size_bytes") && a["size_bytes"].is_number()
                ? human_bytes(a["size_bytes"].get<double>())
                : "-",
            a.contains("layers") && a["layers"].is_array() ? std::to_string(a["layers"].size())
                                                           : "-",
            a.contains("base") && a["base"].is_object() ? text(a["base"], "name") : "-",
            text(sw, "python"),
            text(sw, "torch"),
            sw.contains("torch_cuda") && sw["torch_cuda"].is_string()
                ? sw["torch_cuda"].get<std::string>()
                : text(sw, "cuda_toolkit")};
        for (const auto& w : workload_names) {
            const auto values = energy.find({w, e});
            row.push_back(values == energy.end() || values->second.empty()
                              ? "-"
                              : fmt::format("{:.4g}", stats::median(values->second)));
        }
        images.rows.push_back(std::move(row));
    }
    return images;
}

}  // namespace

Table idle_baselines_table(const Store& store) {
    Table t{.title = "Every idle measurement of the store",
            .headers = {"session", "domain", "started", "duration (s)", "power (W)",
                        "temperature (C)", "context"}};
    for (const auto& b : store.idle_baselines()) {
        t.rows.push_back({b.session_id ? std::to_string(*b.session_id) : "", b.domain,
                          utc(b.started_at), number_cell(b.duration_s), number_cell(b.power_w),
                          b.temperature_c ? number_cell(*b.temperature_c) : "", b.context});
    }
    if (t.rows.empty()) {
        t.note =
            "No idle baseline was measured (joulebench run --idle-baseline, or rest = "
            "\"baseline\").";
    }
    return t;
}

std::vector<Table> context_tables(const Store& store, const ReportModel& m,
                                  const std::optional<ExperimentSpec>& spec,
                                  const std::vector<RunRecord>& runs,
                                  const ReportOptions& options) {
    std::vector<Table> out{experiment_table(m, spec, options)};
    EnvironmentDetails details;
    for (auto& t : session_tables(store, details)) out.push_back(std::move(t));
    out.push_back(environments_table(m, spec, details));
    if (!details.audits.empty()) {
        Table images = images_table(m, runs, details.audits);
        if (!images.rows.empty()) out.push_back(std::move(images));
    }
    if (auto phases = marked_phases_table(store, m)) out.push_back(std::move(*phases));
    return out;
}

}  // namespace joulebench::report
