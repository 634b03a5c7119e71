// The runs of a store: planned, running, finished (with their domains), counted and read.

#include <fmt/core.h>
#include <sqlite3.h>

#include <nlohmann/json.hpp>

#include "joulebench/store.hpp"
#include "joulebench/units.hpp"
#include "model/measure_json.hpp"
#include "store/checksum.hpp"
#include "store/store_internal.hpp"

namespace joulebench {

using namespace store_detail;

std::size_t Store::add_planned_runs(const std::vector<RunSpec>& runs) {
    std::lock_guard lock(m_mutex);
    Transaction tx(m_db);
    Statement q(m_db,
                "INSERT OR IGNORE INTO runs (run_id, plan_index, workload, environment, gpu_cap_w, "
                "cpu_cap_w, "
                "repetition, status) VALUES (?, ?, ?, ?, ?, ?, ?, 'planned')");
    std::size_t added = 0;
    RunHasher hasher(m_db);
    for (const RunSpec& run : runs) {
        q.reset();
        q.bind(1, run.run_id)
            .bind(2, static_cast<std::int64_t>(run.plan_index))
            .bind(3, run.workload)
            .bind(4, run.environment)
            .bind(5, run.gpu_cap_w)
            .bind(6, run.cpu_cap_w)
            .bind(7, run.repetition);
        q.run();
        if (sqlite3_changes(m_db) == 0) continue;
        ++added;
        hasher.write(run.run_id);
    }
    tx.commit();
    return added;
}

std::vector<std::string> Store::mark_stale_running_interrupted() {
    std::lock_guard lock(m_mutex);
    Transaction tx(m_db);
    std::vector<std::string> ids;
    {
        Statement q(m_db, "SELECT run_id FROM runs WHERE status = 'running' ORDER BY plan_index");
        while (q.step()) ids.push_back(q.text(0));
    }
    sqlite::exec(m_db,
                 "INSERT OR REPLACE INTO run_attempts (run_id, attempt, session_id, status, gpu, "
                 "started_at) "
                 "SELECT run_id, attempt, session_id, 'interrupted', gpu, started_at FROM runs "
                 "WHERE status = 'running';"
                 "UPDATE runs SET status = 'interrupted' WHERE status = 'running';",
                 "mark interrupted runs in " + m_path.string());
    RunHasher hasher(m_db);
    for (const auto& id : ids) hasher.write(id);
    tx.commit();
    return ids;
}

StatusCounts Store::status_counts() const {
    std::lock_guard lock(m_mutex);
    StatusCounts counts;
    Statement q(m_db, "SELECT status, count(*) FROM runs GROUP BY status");
    while (q.step()) {
        counts.add(run_status_from_string(q.text(0)).value_or(RunStatus::kPlanned),
                   static_cast<std::size_t>(q.integer(1)));
    }
    return counts;
}

std::vector<RunRecord> Store::runs(const std::vector<RunStatus>& statuses) const {
    std::lock_guard lock(m_mutex);
    std::string sql = fmt::format("SELECT {} FROM runs", kRunColumns);
    if (!statuses.empty()) sql += " WHERE status IN (" + status_list_sql(statuses) + ")";
    sql += " ORDER BY plan_index, run_id";
    Statement q(m_db, sql);
    std::vector<RunRecord> out;
    while (q.step()) out.push_back(read_run(q));
    return out;
}

std::optional<RunRecord> Store::run(std::string_view run_id) const {
    std::lock_guard lock(m_mutex);
    Statement q(m_db, fmt::format("SELECT {} FROM runs WHERE run_id = ?", kRunColumns));
    q.bind(1, run_id);
    if (!q.step()) return std::nullopt;
    return read_run(q);
}

std::vector<std::string> Store::pending_run_ids(bool retry_failures) const {
    std::vector<RunStatus> statuses = {RunStatus::kPlanned, RunStatus::kInterrupted};
    if (retry_failures) {
        statuses.push_back(RunStatus::kFailed);
        statuses.push_back(RunStatus::kTimeout);
    }
    std::lock_guard lock(m_mutex);
    Statement q(m_db, "SELECT run_id FROM runs WHERE status IN (" + status_list_sql(statuses) +
                          ") ORDER BY plan_index, run_id");
    std::vector<std::string> ids;
    while (q.step()) ids.push_back(q.text(0));
    return ids;
}

void Store::mark_running(std::string_view run_id, std::optional<std::int64_t> session_id,
                         std::optional<int> gpu, double started_at) {
    std::lock_guard lock(m_mutex);
    Transaction tx(m_db);
    {
        Statement q(m_db, "SELECT status FROM runs WHERE run_id = ?");
        q.bind(1, run_id);
        if (!q.step()) {
            throw Error(ErrorCategory::kInvalidArgument,
                        fmt::format("store: mark run {} running: no such run in {}", run_id,
                                    m_path.string()));
        }
        const std::string status = q.text(0);
        if (status == "done" || status == "running") {
            throw Error(
                ErrorCategory::kInvalidArgument,
                fmt::format("store: mark run {} running: it is already {}", run_id, status));
        }
    }
    for (const char* sql :
         {"DELETE FROM trace_chunks WHERE run_id = ?", "DELETE FROM trace_columns WHERE run_id = ?",
          "DELETE FROM run_domains WHERE run_id = ?", "DELETE FROM run_warnings WHERE run_id = ?",
          "DELETE FROM run_instances WHERE run_id = ?",
          "DELETE FROM run_marked_phases WHERE run_id = ?"}) {
        Statement d(m_db, sql);
        d.bind(1, run_id);
        d.run();
    }
    Statement q(
        m_db,
        "UPDATE runs SET status = 'running', attempt = attempt + 1, session_id = ?, gpu = ?, "
        "started_at = ?, ended_at = NULL, exit_code = NULL, signal = NULL, wall_s = NULL, "
        "cpu_user_s = NULL, cpu_system_s = NULL, energy_j = NULL, gpu_energy_j = NULL, "
        "cpu_energy_j = NULL, edp_js = NULL, ed2p_js2 = NULL, total_includes_estimate = NULL, "
        "idle_power_w = NULL, net_energy_j = NULL, caps_json = '[]', warnings_json = '[]', "
        "phases_json = '[]', stderr_tail = '', metrics_json = NULL, measure_json = NULL, "
        "instances = 0, start_skew_s = NULL "
        "WHERE run_id = ?");
    q.bind(1, session_id).bind(2, gpu).bind(3, started_at).bind(4, run_id);
    q.run();
    RunHasher(m_db).write(run_id);
    tx.commit();
}

namespace {

// The JSON columns of a finished run.
struct RunJson {
    nlohmann::json metrics;  // null when none
    nlohmann::json caps = nlohmann::json::array();
    nlohmann::json phases = nlohmann::json::array();
    nlohmann::json warnings = nlohmann::json::array();  // texts, as warnings_json keeps them
};

RunJson run_json(const RunOutcome& outcome) {
    RunJson j;
    if (!outcome.metrics_json.empty()) {
        j.metrics = nlohmann::json::parse(outcome.metrics_json, nullptr, false);
        if (!j.metrics.is_object()) {
            throw Error(
                ErrorCategory::kInvalidArgument,
                fmt::format("store: finish run {}: the workload metrics are not a JSON object",
                            outcome.run_id));
        }
    }
    for (const auto& c : outcome.caps) {
        j.caps.push_back(
            {{"domain", c.domain},
             {"requested_w", c.requested_w},
             {"applied_w", c.applied_w ? nlohmann::json(*c.applied_w) : nlohmann::json(nullptr)}});
    }
    for (const auto& p : outcome.phases) {
        j.phases.push_back(
            {{"name", p.name},
             {"wall_s", p.wall_s},
             {"energy_j", p.energy_j ? nlohmann::json(*p.energy_j) : nlohmann::json(nullptr)}});
        if (p.instance) j.phases.back()["instance"] = *p.instance;
    }
    for (const auto& w : run_warnings(outcome)) j.warnings.push_back(w.text);
    return j;
}

// The run as marked running: its attempt, session and start.
struct RunningRow {
    std::int64_t attempt = 0;
    std::optional<std::int64_t> session_id;
    double started_at = 0.0;
};

RunningRow running_row(sqlite3* db, const std::string& run_id, const std::filesystem::path& path) {
    Statement q(db, "SELECT status, attempt, session_id, started_at FROM runs WHERE run_id = ?");
    q.bind(1, run_id);
    if (!q.step()) {
        throw Error(ErrorCategory::kInvalidArgument,
                    fmt::format("store: finish run {}: no such run in {}", run_id, path.string()));
    }
    if (q.text(0) != "running") {
        throw Error(ErrorCategory::kInvalidArgument,
                    fmt::format("store: finish run {}: it is {}, not running", run_id, q.text(0)),
                    "call mark_running first");
    }
    return {q.integer(1), q.opt_integer(2), q.opt_real(3).value_or(0.0)};
}

void insert_warnings(sqlite3* db, const std::string& run_id, const std::vector<Warning>& warnings) {
    Statement w(db, "INSERT INTO run_warnings (run_id, position, code, text) VALUES (?, ?, ?, ?)");
    std::int64_t position = 0;
    for (const auto& warning : warnings) {
        w.reset();
        w.bind(1, run_id).bind(2, position++).bind(3, warning.code).bind(4, warning.text);
        w.run();
    }
}

}  // namespace

void Store::finish_run(const RunOutcome& outcome) {
    if (!is_end_status(outcome.status)) {
        throw Error(ErrorCategory::kInvalidArgument,
                    fmt::format("store: finish run {}: '{}' is not an end status", outcome.run_id,
                                to_string(outcome.status)));
    }
    const RunJson json = run_json(outcome);
    const MeasureResult* m = outcome.measure ? &*outcome.measure : nullptr;
    std::optional<int> exit_code = outcome.exit_code;
    if (!exit_code && m != nullptr) exit_code = m->exit_code;
    std::optional<int> signal = outcome.signal;
    if (!signal && m != nullptr) signal = m->signal;

    std::lock_guard lock(m_mutex);
    Transaction tx(m_db);
    const RunningRow row = running_row(m_db, outcome.run_id, m_path);
    // Start: the outcome's, else the measurement's (or first instance's), else mark_running's.
    const Span span = run_span(outcome, row.started_at);
    const Figures fig = outcome.instances.empty() ? figures_of(m, span) : figures_of(outcome.instances, span);
    Statement u(
        m_db,
        "UPDATE runs SET status = ?, gpu = coalesce(?, gpu), started_at = ?, ended_at = ?, "
        "exit_code = ?, signal = ?, wall_s = ?, cpu_user_s = ?, cpu_system_s = ?, energy_j = ?, "
        "gpu_energy_j = ?, cpu_energy_j = ?, edp_js = ?, ed2p_js2 = ?, "
        "total_includes_estimate = ?, idle_power_w = ?, net_energy_j = ?, caps_json = ?, "
        "warnings_json = ?, phases_json = ?, stderr_tail = ?, metrics_json = ?, measure_json = ?, "
        "instances = ?, start_skew_s = ? WHERE run_id = ?");
    u.bind(1, to_string(outcome.status)).bind(2, outcome.gpu).bind(3, span.started_at);
    u.bind(4, span.ended_at).bind(5, exit_code).bind(6, signal);
    bind_figures(u, 7, fig);  // 7..17
    // Warnings and metrics can quote the workload's output, which need not be UTF-8: U+FFFD in
    // place of a bad byte, where a strict dump threw and the run was not recorded.
    const auto text = [](const nlohmann::json& j) {
        return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    };
    u.bind(18, text(json.caps)).bind(19, text(json.warnings)).bind(20, text(json.phases));
    u.bind(21, outcome.stderr_tail);
    if (json.metrics.is_null()) {
        u.bind_null(22);
    } else {
        u.bind(22, text(json.metrics));
    }
    u.bind(23, fig.measure_json);
    u.bind(24, static_cast<std::int64_t>(outcome.instances.size())).bind(25, outcome.start_skew_s);
    u.bind(26, outcome.run_id);
    u.run();
    for (const char* sql : {"DELETE FROM run_domains WHERE run_id = ?",
                            "DELETE FROM run_warnings WHERE run_id = ?",
                            "DELETE FROM run_instances WHERE run_id = ?",
                            "DELETE FROM run_marked_phases WHERE run_id = ?"}) {
        Statement d(m_db, sql);
        d.bind(1, outcome.run_id);
        d.run();
    }
    if (m != nullptr) insert_domains(m_db, outcome.run_id, *m, 0, 0);
    if (m != nullptr) insert_marked_phases(m_db, outcome.run_id, *m, 0);
    insert_instances(m_db, outcome.run_id, outcome.instances);
    insert_warnings(m_db, outcome.run_id, run_warnings(outcome));
    Statement a(m_db,
                "INSERT OR REPLACE INTO run_attempts (run_id, attempt, session_id, status, gpu, "
                "started_at, ended_at, exit_code, signal, energy_j, stderr_tail) VALUES (?, ?, ?, "
                "?, (SELECT gpu FROM runs WHERE run_id = ?1), ?, ?, ?, ?, ?, ?)");
    a.bind(1, outcome.run_id).bind(2, row.attempt).bind(3, row.session_id);
    a.bind(4, to_string(outcome.status));
    a.bind(5, span.started_at).bind(6, span.ended_at).bind(7, exit_code).bind(8, signal);
    a.bind(9, fig.energy_j);
    a.bind(10, outcome.stderr_tail);
    a.run();
    RunHasher(m_db).write(outcome.run_id);
    tx.commit();
}

std::vector<DomainRecord> Store::domains(std::string_view run_id) const {
    std::lock_guard lock(m_mutex);
    Statement q(
        m_db,
        "SELECT run_id, domain_index, domain, kind, method, energy_j, avg_power_w, peak_power_w, "
        "counts_in_total, idle_power_w, net_energy_j, sharing, cpu_time_share, measured_energy_j, "
        "measured_on, instance "
        "FROM run_domains WHERE run_id = ? ORDER BY domain_index");
    q.bind(1, run_id);
    std::vector<DomainRecord> out;
    while (q.step()) {
        DomainRecord d;
        d.run_id = q.text(0);
        d.domain_index = static_cast<int>(q.integer(1));
        d.domain = q.text(2);
        d.kind = q.text(3);
        d.method = q.text(4);
        d.energy_j = q.real(5);
        d.avg_power_w = q.real(6);
        d.peak_power_w = q.opt_real(7);
        d.counts_in_total = q.integer(8) != 0;
        d.idle_power_w = q.opt_real(9);
        d.net_energy_j = q.opt_real(10);
        d.sharing = sharing_from_string(q.text(11)).value_or(Sharing::kAlone);
        d.cpu_time_share = q.opt_real(12);
        d.measured_energy_j = q.opt_real(13);
        d.measured_on = location_from_string(q.text(14)).value_or(Location::kHost);
        d.instance = static_cast<int>(q.integer(15));
        out.push_back(std::move(d));
    }
    return out;
}

std::vector<MarkedPhaseRecord> Store::marked_phases(std::string_view run_id) const {
    std::lock_guard lock(m_mutex);
    Statement q(m_db,
                "SELECT p.run_id, p.instance, p.name, p.begin_s, p.end_s, p.wall_s, p.energy_j, "
                "p.ended_by_run, p.domains_json FROM run_marked_phases p JOIN runs r USING (run_id) "
                "WHERE ?1 = '' OR p.run_id = ?1 ORDER BY r.plan_index, p.run_id, p.instance, "
                "p.position");
    q.bind(1, std::string(run_id));
    std::vector<MarkedPhaseRecord> out;
    while (q.step()) {
        MarkedPhaseRecord r;
        r.run_id = q.text(0);
        r.instance = static_cast<int>(q.integer(1));
        r.phase.name = q.text(2);
        r.phase.begin_s = q.real(3);
        r.phase.end_s = q.real(4);
        r.phase.wall_s = q.real(5);
        r.phase.energy_j = q.opt_real(6);
        r.phase.ended_by_run = q.integer(7) != 0;
        const auto domains = nlohmann::json::parse(q.text(8), nullptr, false);
        if (domains.is_array()) {
            for (const auto& d : domains) {
                PhaseDomainEnergy e;
                e.id = d.value("id", "");
                if (d.contains("energy_j") && d["energy_j"].is_number()) {
                    e.energy_j = d["energy_j"].get<double>();
                }
                e.method = method_from_string(d.value("method", "")).value_or(Method::kCounter);
                e.counts_in_total = d.value("counts_in_total", false);
                r.phase.domains.push_back(std::move(e));
            }
        }
        out.push_back(std::move(r));
    }
    return out;
}

std::vector<std::pair<std::string, Warning>> Store::warnings() const {
    std::lock_guard lock(m_mutex);
    Statement q(m_db,
                "SELECT w.run_id, w.code, w.text FROM run_warnings w JOIN runs r USING (run_id) "
                "ORDER BY r.plan_index, r.run_id, w.position");
    std::vector<std::pair<std::string, Warning>> out;
    while (q.step()) out.push_back({q.text(0), Warning{q.text(1), q.text(2)}});
    return out;
}

std::vector<Warning> Store::warnings(std::string_view run_id) const {
    std::lock_guard lock(m_mutex);
    Statement q(m_db, "SELECT code, text FROM run_warnings WHERE run_id = ? ORDER BY position");
    q.bind(1, run_id);
    std::vector<Warning> out;
    while (q.step()) out.push_back({q.text(0), q.text(1)});
    return out;
}

}  // namespace joulebench
