// `joulebench export`: one row per run, or per instance of a gang-mode run (CSV or JSON), as
// Store::observations() gives them. Column meanings: docs/store.md.

#include <fmt/core.h>
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <optional>
#include <map>
#include <nlohmann/json.hpp>

#include "common/text_escape.hpp"
#include "joulebench/error.hpp"
#include "joulebench/store.hpp"

namespace joulebench {
namespace {

enum class Kind { kText, kInteger, kReal, kBool, kJson };

struct Column {
    const char* name;
    Kind kind;
};

const std::vector<Column>& columns() {
    static const std::vector<Column> kColumns = {
        {"run_id", Kind::kText},         {"plan_index", Kind::kInteger},
        {"workload", Kind::kText},       {"environment", Kind::kText},
        {"power_cap_w", Kind::kReal},    {"cpu_power_cap_w", Kind::kReal},
        {"repetition", Kind::kInteger},  {"instance", Kind::kInteger},
        {"gpu", Kind::kInteger},         {"node", Kind::kText},
        {"slurm_job", Kind::kText},      {"status", Kind::kText},
        {"attempt", Kind::kInteger},     {"started_at", Kind::kReal},
        {"ended_at", Kind::kReal},       {"exit_code", Kind::kInteger},
        {"signal", Kind::kInteger},      {"wall_s", Kind::kReal},
        {"energy_j", Kind::kReal},       {"gpu_energy_j", Kind::kReal},
        {"cpu_energy_j", Kind::kReal},   {"total_includes_estimate", Kind::kBool},
        {"cpu_attributed", Kind::kBool}, {"cpu_shared", Kind::kBool},
        {"edp_js", Kind::kReal},         {"ed2p_js2", Kind::kReal},
        {"idle_power_w", Kind::kReal},   {"net_energy_j", Kind::kReal},
        {"startup_wall_s", Kind::kReal}, {"startup_energy_j", Kind::kReal},
        {"warnings", Kind::kJson},       {"metrics", Kind::kJson},
        {"phases", Kind::kJson},         {"marked_phases", Kind::kJson},
    };
    return kColumns;
}

std::string cell(const std::optional<double>& v) {
    return v ? fmt::format("{}", *v) : std::string();
}
// A fact about the run's energy: empty when the run has no energy.
std::string cell_flag(const RunRecord& r, bool on) {
    if (!r.energy_j) return {};
    return on ? "true" : "false";
}
template <class T>
std::string cell_int(const std::optional<T>& v) {
    return v ? fmt::format("{}", *v) : std::string();
}

// The phases outside the run (container create, start, removal): their summed wall time and
// energy. Energy only when every phase has it.
std::pair<std::optional<double>, std::optional<double>> startup(const std::string& phases_json) {
    const auto phases = nlohmann::json::parse(phases_json, nullptr, false);
    if (phases.is_discarded() || !phases.is_array() || phases.empty()) return {};
    double wall = 0.0;
    double energy = 0.0;
    bool all_energy = true;
    for (const auto& p : phases) {
        wall += p.value("wall_s", 0.0);
        if (p.contains("energy_j") && p["energy_j"].is_number()) {
            energy += p["energy_j"].get<double>();
        } else {
            all_energy = false;
        }
    }
    return {wall, all_energy ? std::optional<double>(energy) : std::nullopt};
}

}  // namespace

const std::vector<std::string>& export_columns() {
    static const std::vector<std::string> kNames = [] {
        std::vector<std::string> names;
        for (const auto& c : columns()) names.emplace_back(c.name);
        return names;
    }();
    return kNames;
}

// Where each session ran: its node, and its Slurm job ("ARRAY_TASK" for an array task, as
// Slurm writes it, else the job id).
std::map<std::int64_t, std::pair<std::string, std::string>> session_places(const Store& store) {
    std::map<std::int64_t, std::pair<std::string, std::string>> places;
    for (const SessionRecord& s : store.sessions()) {
        std::string job = s.slurm_job_id.value_or("");
        if (s.slurm_array_job_id && s.slurm_array_task_id)
            job = *s.slurm_array_job_id + "_" + *s.slurm_array_task_id;
        places[s.id] = {s.node.value_or(""), job};
    }
    return places;
}

// The phases each run (and gang instance) marked, as the JSON text of its marked_phases cell:
// [{"name", "begin_s", "end_s", "wall_s", "energy_j", "ended_by_run", "domains": {ID: J}}].
std::map<std::pair<std::string, int>, std::string> marked_phase_cells(const Store& store) {
    std::map<std::pair<std::string, int>, nlohmann::ordered_json> phases;
    for (const MarkedPhaseRecord& r : store.marked_phases()) {
        nlohmann::ordered_json domains = nlohmann::ordered_json::object();
        for (const auto& d : r.phase.domains) {
            domains[d.id] = d.energy_j ? nlohmann::ordered_json(*d.energy_j) : nullptr;
        }
        auto& list = phases[{r.run_id, r.instance}];
        if (list.is_null()) list = nlohmann::ordered_json::array();
        list.push_back({{"name", r.phase.name},
                        {"begin_s", r.phase.begin_s},
                        {"end_s", r.phase.end_s},
                        {"wall_s", r.phase.wall_s},
                        {"energy_j", r.phase.energy_j ? nlohmann::ordered_json(*r.phase.energy_j)
                                                      : nlohmann::ordered_json(nullptr)},
                        {"ended_by_run", r.phase.ended_by_run},
                        {"domains", std::move(domains)}});
    }
    std::map<std::pair<std::string, int>, std::string> cells;
    for (auto& [key, list] : phases) {
        cells[key] = list.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
    }
    return cells;
}

std::vector<std::vector<std::string>> export_rows(const Store& store) {
    std::vector<std::vector<std::string>> rows;
    const auto places = session_places(store);
    const auto marked = marked_phase_cells(store);
    for (const RunRecord& r : store.observations()) {
        const auto place = r.session_id ? places.find(*r.session_id) : places.end();
        const bool placed = place != places.end();
        // An empty warnings list exports as an empty cell, so that clean runs read clean.
        const std::string warnings = r.warnings_json == "[]" ? std::string() : r.warnings_json;
        const auto [startup_wall, startup_energy] = startup(r.phases_json);
        const auto mark = marked.find({r.run_id, r.instance});
        rows.push_back({
            r.run_id,
            std::to_string(r.plan_index),
            r.workload,
            r.environment,
            cell(r.gpu_cap_w),
            cell(r.cpu_cap_w),
            std::to_string(r.repetition),
            std::to_string(r.instance),
            cell_int(r.gpu),
            placed ? place->second.first : std::string(),
            placed ? place->second.second : std::string(),
            std::string(to_string(r.status)),
            std::to_string(r.attempt),
            cell(r.started_at),
            cell(r.ended_at),
            cell_int(r.exit_code),
            cell_int(r.signal),
            cell(r.wall_s),
            cell(r.energy_j),
            cell(r.gpu_energy_j),
            cell(r.cpu_energy_j),
            cell_flag(r, r.total_includes_estimate),
            cell_flag(r, r.cpu_attributed),
            cell_flag(r, r.cpu_shared),
            cell(r.edp_js),
            cell(r.ed2p_js2),
            cell(r.idle_power_w),
            cell(r.net_energy_j),
            cell(startup_wall),
            cell(startup_energy),
            warnings,
            r.metrics_json,
            r.phases_json == "[]" ? std::string() : r.phases_json,
            mark == marked.end() ? std::string() : mark->second,
        });
    }
    return rows;
}

std::string export_csv(const Store& store) {
    std::string out;
    for (const auto& name : export_columns()) out += (out.empty() ? "" : ",") + name;
    out += '\n';
    for (const auto& row : export_rows(store)) {
        for (std::size_t i = 0; i < row.size(); ++i) {
            if (i > 0) out += ',';
            out += csv_field(row[i]);
        }
        out += '\n';
    }
    return out;
}

namespace {

// Text a store holds is not always UTF-8 (a workload's bytes, a store written elsewhere): invalid
// bytes become U+FFFD instead of failing the whole export (docs/store.md).
std::string dump(const nlohmann::ordered_json& doc, bool* replaced) {
    try {
        return doc.dump(2) + "\n";
    } catch (const nlohmann::json::type_error&) {
        if (replaced != nullptr) *replaced = true;
        return doc.dump(2, ' ', false, nlohmann::ordered_json::error_handler_t::replace) + "\n";
    }
}

// One cell of `export --json`. A store that is damaged, or was written by something else, can
// hold any text in any column (SQLite keeps what it is given): a cell that is not what its
// column holds is an Error naming the run and the column, never std::stoll's or nlohmann's own
// exception (found by fuzz/fuzz_store, docs/fuzzing.md).
nlohmann::ordered_json json_cell(const Column& c, const std::string& v, const std::string& run_id,
                                 const Store& store) {
    try {
        std::size_t end = 0;
        switch (c.kind) {
            case Kind::kText:
                return v;
            case Kind::kInteger: {
                const long long n = std::stoll(v, &end);
                if (end == v.size()) return n;
                break;
            }
            case Kind::kReal: {
                const double x = std::stod(v, &end);
                if (end == v.size()) return x;
                break;
            }
            case Kind::kBool:
                if (v == "true" || v == "false") return v == "true";
                break;
            case Kind::kJson:
                return nlohmann::ordered_json::parse(v);
        }
    } catch (const std::exception&) {
    }
    throw Error(ErrorCategory::kIo,
                fmt::format("store: export {}: run {}: column {} holds '{}', not {}",
                            store.path().string(), run_id, c.name, v,
                            c.kind == Kind::kJson ? "JSON" : c.kind == Kind::kBool ? "true or false" : "a number"),
                "the store is damaged; `joulebench export --format csv` writes its cells as text");
}

}  // namespace

std::string export_json(const Store& store, bool* replaced) {
    if (replaced != nullptr) *replaced = false;
    nlohmann::ordered_json doc;
    if (const auto e = store.experiment()) {
        doc["experiment"] = {{"name", e->name},
                             {"file_name", e->file_name},
                             {"file_sha256", e->file_sha256},
                             {"seed", e->seed},
                             {"joulebench_version", e->joulebench_version},
                             {"created_at", e->created_at}};
    } else {
        doc["experiment"] = nullptr;
    }
    doc["columns"] = export_columns();
    nlohmann::ordered_json runs = nlohmann::ordered_json::array();
    for (const auto& row : export_rows(store)) {
        nlohmann::ordered_json object;
        for (std::size_t i = 0; i < row.size(); ++i) {
            const Column& c = columns()[i];
            const std::string& v = row[i];
            if (v.empty()) {
                object[c.name] = (c.kind == Kind::kJson && (std::string(c.name) == "warnings" ||
                                                             std::string(c.name) == "phases" ||
                                                             std::string(c.name) == "marked_phases"))
                                     ? nlohmann::ordered_json::array()
                                     : nlohmann::ordered_json(nullptr);
                continue;
            }
            object[c.name] = json_cell(c, v, row[0], store);
        }
        runs.push_back(std::move(object));
    }
    doc["runs"] = std::move(runs);
    return dump(doc, replaced);
}

namespace {

// The column of `domain`'s `quantity`, if the trace has it.
std::optional<std::size_t> column_of(const Trace& t, const std::string& domain, std::string_view quantity) {
    for (std::size_t c = 0; c < t.columns.size(); ++c) {
        if (t.columns[c].domain == domain && t.columns[c].quantity == quantity) return c;
    }
    return std::nullopt;
}

// One cell as CsvTraceSink writes that quantity; NaN is an empty cell.
std::string trace_cell(std::string_view quantity, double v) {
    if (std::isnan(v)) return {};
    if (quantity == "power_w") return fmt::format("{:.6g}", v);
    if (quantity == "energy_j") return fmt::format("{:.6f}", v);
    if (quantity == "throttle_reasons") return fmt::format("0x{:x}", static_cast<unsigned long long>(v));
    if (quantity == "enforced_limit_w") return fmt::format("{:.3f}", v);
    return fmt::format("{}", v);
}

}  // namespace

std::string export_trace_csv(const Store& store, const std::string& run_id, int instance) {
    const auto runs = store.runs();
    if (std::none_of(runs.begin(), runs.end(), [&](const RunRecord& r) { return r.run_id == run_id; })) {
        throw Error(ErrorCategory::kInvalidArgument,
                    fmt::format("export: {}: no run '{}'", store.path().string(), run_id),
                    "run ids are listed by `joulebench export DB`");
    }
    const Trace t = store.trace(run_id, instance);
    if (t.times_s.empty()) {
        throw Error(ErrorCategory::kNotFound,
                    fmt::format("export: {}: run {} has no stored trace{}", store.path().string(), run_id,
                                instance > 0 ? fmt::format(" for instance {}", instance) : std::string()),
                    "a run stores its trace as it runs; one that never started has none");
    }
    // Domains in the order they first appear; power and energy of each, then each GPU's telemetry.
    std::vector<std::string> domains;
    for (const auto& c : t.columns) {
        if (std::find(domains.begin(), domains.end(), c.domain) == domains.end()) domains.push_back(c.domain);
    }
    std::vector<std::pair<std::string, std::optional<std::size_t>>> order;  // quantity, column
    std::vector<std::string> header{"time_s"};
    for (const auto& d : domains) {
        for (const char* q : {"power_w", "energy_j"}) {
            header.push_back(d + "_" + q);
            order.emplace_back(q, column_of(t, d, q));
        }
    }
    for (const auto& d : domains) {
        if (!column_of(t, d, kTraceTelemetryQuantities[0])) continue;
        for (const auto q : kTraceTelemetryQuantities) {
            header.push_back(d + "_" + std::string(q));
            order.emplace_back(std::string(q), column_of(t, d, q));
        }
    }
    std::string out = fmt::format("{}\n", fmt::join(header, ","));
    for (std::size_t i = 0; i < t.times_s.size(); ++i) {
        out += fmt::format("{:.6f}", t.times_s[i]);
        for (const auto& [quantity, column] : order) {
            out += ',';
            if (column) out += trace_cell(quantity, t.values[*column][i]);
        }
        out += '\n';
    }
    return out;
}

}  // namespace joulebench
