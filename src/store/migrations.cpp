// The store's numbered migrations (docs/store.md explains every column).

#include "store/migrations.hpp"

#include <fmt/core.h>

#include <algorithm>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <string>

#include "joulebench/error.hpp"
#include "joulebench/experiment.hpp"
#include "joulebench/warning.hpp"
#include "store/checksum.hpp"
#include "store/store_internal.hpp"

namespace joulebench::store_detail {

namespace {

// A domain named by an "<id>: attributed: A J of the M J measured while other runs overlapped, by
// this run's share of the machine's busy CPU time (C of B CPU-s, P%)" warning: its energy was
// scaled to the run's share C / B (clamped to 0..1, as the runner computed it) of M.
struct Attribution {
    std::string domain;
    std::optional<double> share;
    std::optional<double> measured_j;
};

std::optional<Attribution> parse_attribution(const std::string& text) {
    const auto colon = text.find(": attributed: ");
    if (colon == std::string::npos) return std::nullopt;
    Attribution a;
    a.domain = text.substr(0, colon);
    double attributed = 0, measured = 0, cpu = 0, busy = 0;
    const char* rest = text.c_str() + colon + 14;
    if (std::sscanf(rest, "%lf J of the %lf J measured", &attributed, &measured) == 2) {
        a.measured_j = measured;
    }
    if (const auto open = text.rfind(" ("); open != std::string::npos &&
        std::sscanf(text.c_str() + open, " (%lf of %lf CPU-s", &cpu, &busy) == 2 && busy > 0) {
        a.share = std::clamp(cpu / busy, 0.0, 1.0);
    }
    return a;
}

// Schema 1 -> 2, the data: every run's warnings get their code (legacy_warning_code) in
// run_warnings, and every domain an "attributed"/"shared" warning names gets that sharing.
void upgrade_to_2(sqlite3* db) {
    Statement runs(db, "SELECT run_id, warnings_json FROM runs WHERE warnings_json <> '[]'");
    Statement insert(db, "INSERT INTO run_warnings (run_id, position, code, text) VALUES (?, ?, ?, ?)");
    Statement attributed(db,
                         "UPDATE run_domains SET sharing = 'attributed', cpu_time_share = ?, "
                         "measured_energy_j = ? WHERE run_id = ? AND domain = ?");
    Statement shared(db, "UPDATE run_domains SET sharing = 'shared' WHERE run_id = ? AND domain = ?");
    while (runs.step()) {
        const std::string run_id = runs.text(0);
        const auto warnings = nlohmann::json::parse(runs.text(1), nullptr, false);
        if (!warnings.is_array()) continue;
        std::int64_t position = 0;
        for (const auto& w : warnings) {
            if (!w.is_string()) continue;
            const std::string text = w.get<std::string>();
            const std::string_view code = legacy_warning_code(text);
            insert.reset();
            insert.bind(1, run_id).bind(2, position++).bind(3, code).bind(4, text);
            insert.run();
            if (code == warning_code::kCpuAttributed) {
                if (const auto a = parse_attribution(text)) {
                    attributed.reset();
                    attributed.bind(1, a->share).bind(2, a->measured_j).bind(3, run_id).bind(4, a->domain);
                    attributed.run();
                }
            } else if (code == warning_code::kCpuShared) {
                shared.reset();
                shared.bind(1, run_id).bind(2, text.substr(0, text.find(": shared: ")));
                shared.run();
            }
        }
    }
}

// Schema 2 -> 3, the data: the domains of runs in an `ssh` environment were measured by the
// remote host's joulebench. The environment's type is read from the experiment file the store
// keeps; a file that no longer parses leaves every domain "host" (as the store said before).
void upgrade_to_3(sqlite3* db) {
    Statement q(db, "SELECT file_text, file_name FROM experiment");
    if (!q.step()) return;
    std::vector<std::string> remote;
    try {
        const ExperimentSpec spec = parse_experiment_text(q.text(0), q.text(1));
        for (const auto& e : spec.environments) {
            if (e.type == EnvironmentType::kSsh) remote.push_back(e.name);
        }
    } catch (const Error&) {
        return;
    }
    Statement u(db,
                "UPDATE run_domains SET measured_on = 'remote' WHERE run_id IN (SELECT run_id FROM "
                "runs WHERE environment = ?)");
    for (const auto& name : remote) {
        u.reset();
        u.bind(1, name);
        u.run();
    }
}

// 1: the first schema.
constexpr const char* kSchema1 = R"sql(
CREATE TABLE experiment (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    name TEXT NOT NULL,
    file_name TEXT NOT NULL,
    file_text TEXT NOT NULL,
    file_sha256 TEXT NOT NULL,
    seed TEXT NOT NULL,
    seed_given INTEGER NOT NULL,
    joulebench_version TEXT NOT NULL,
    created_at REAL NOT NULL
);
CREATE TABLE sessions (
    id INTEGER PRIMARY KEY,
    host_json TEXT NOT NULL,
    joulebench_version TEXT NOT NULL,
    command_line TEXT NOT NULL,
    shard TEXT,
    started_at REAL NOT NULL,
    ended_at REAL
);
CREATE TABLE runs (
    run_id TEXT PRIMARY KEY,
    plan_index INTEGER NOT NULL,
    workload TEXT NOT NULL,
    environment TEXT NOT NULL,
    gpu_cap_w REAL,
    cpu_cap_w REAL,
    repetition INTEGER NOT NULL,
    status TEXT NOT NULL CHECK (status IN
        ('planned', 'running', 'done', 'failed', 'timeout', 'interrupted')),
    attempt INTEGER NOT NULL DEFAULT 0,
    gpu INTEGER,
    session_id INTEGER REFERENCES sessions(id),
    started_at REAL,
    ended_at REAL,
    exit_code INTEGER,
    signal INTEGER,
    wall_s REAL,
    cpu_user_s REAL,
    cpu_system_s REAL,
    energy_j REAL,
    gpu_energy_j REAL,
    cpu_energy_j REAL,
    edp_js REAL,
    ed2p_js2 REAL,
    total_includes_estimate INTEGER,
    idle_power_w REAL,
    net_energy_j REAL,
    caps_json TEXT NOT NULL DEFAULT '[]',
    warnings_json TEXT NOT NULL DEFAULT '[]',
    phases_json TEXT NOT NULL DEFAULT '[]',
    stderr_tail TEXT NOT NULL DEFAULT '',
    metrics_json TEXT,
    measure_json TEXT
);
CREATE INDEX runs_by_status ON runs(status, plan_index);
CREATE TABLE run_domains (
    run_id TEXT NOT NULL REFERENCES runs(run_id) ON DELETE CASCADE,
    domain_index INTEGER NOT NULL,
    domain TEXT NOT NULL,
    kind TEXT NOT NULL,
    device_index INTEGER,
    method TEXT NOT NULL,
    backend TEXT NOT NULL,
    name TEXT NOT NULL,
    energy_j REAL NOT NULL,
    avg_power_w REAL NOT NULL,
    peak_power_w REAL,
    counts_in_total INTEGER NOT NULL,
    cross_check_energy_j REAL,
    disagreement_pct REAL,
    idle_power_w REAL,
    net_energy_j REAL,
    failed_reads INTEGER NOT NULL,
    wraps INTEGER NOT NULL,
    resets INTEGER NOT NULL,
    PRIMARY KEY (run_id, domain_index)
);
CREATE TABLE run_attempts (
    run_id TEXT NOT NULL REFERENCES runs(run_id) ON DELETE CASCADE,
    attempt INTEGER NOT NULL,
    session_id INTEGER REFERENCES sessions(id),
    status TEXT NOT NULL,
    gpu INTEGER,
    started_at REAL,
    ended_at REAL,
    exit_code INTEGER,
    signal INTEGER,
    energy_j REAL,
    stderr_tail TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (run_id, attempt)
);
CREATE TABLE trace_columns (
    run_id TEXT NOT NULL REFERENCES runs(run_id) ON DELETE CASCADE,
    column_index INTEGER NOT NULL,
    domain TEXT NOT NULL,
    quantity TEXT NOT NULL,
    PRIMARY KEY (run_id, column_index)
);
CREATE TABLE trace_chunks (
    run_id TEXT NOT NULL REFERENCES runs(run_id) ON DELETE CASCADE,
    chunk INTEGER NOT NULL,
    rows INTEGER NOT NULL,
    data BLOB NOT NULL,
    PRIMARY KEY (run_id, chunk)
);
CREATE TABLE idle_baselines (
    id INTEGER PRIMARY KEY,
    session_id INTEGER REFERENCES sessions(id),
    domain TEXT NOT NULL,
    started_at REAL NOT NULL,
    duration_s REAL NOT NULL,
    power_w REAL NOT NULL,
    temperature_c REAL,
    context TEXT NOT NULL DEFAULT ''
);
)sql";

// 2: how each domain's energy was shared, and warnings with codes (joulebench 0.1.0 stores said
// both only in warning texts; upgrade_to_2 reads them from there).
constexpr const char* kSchema2 = R"sql(
ALTER TABLE run_domains ADD COLUMN sharing TEXT NOT NULL DEFAULT 'alone'
    CHECK (sharing IN ('alone', 'attributed', 'shared'));
ALTER TABLE run_domains ADD COLUMN cpu_time_share REAL;
ALTER TABLE run_domains ADD COLUMN measured_energy_j REAL;
CREATE TABLE run_warnings (
    run_id TEXT NOT NULL REFERENCES runs(run_id) ON DELETE CASCADE,
    position INTEGER NOT NULL,
    code TEXT NOT NULL,
    text TEXT NOT NULL,
    PRIMARY KEY (run_id, position)
);
)sql";

// 3: where each domain was measured (host, guest, remote) and gang mode's instances: one row per
// instance of a run (run_instances), the instance of each domain and of each trace (the trace
// tables get `instance` into their key, so they are rebuilt).
constexpr const char* kSchema3 = R"sql(
ALTER TABLE run_domains ADD COLUMN measured_on TEXT NOT NULL DEFAULT 'host'
    CHECK (measured_on IN ('host', 'guest', 'remote'));
ALTER TABLE run_domains ADD COLUMN instance INTEGER NOT NULL DEFAULT 0;
ALTER TABLE runs ADD COLUMN instances INTEGER NOT NULL DEFAULT 0;
ALTER TABLE runs ADD COLUMN start_skew_s REAL;
CREATE TABLE run_instances (
    run_id TEXT NOT NULL REFERENCES runs(run_id) ON DELETE CASCADE,
    instance INTEGER NOT NULL,
    gpu INTEGER,
    status TEXT NOT NULL,
    started_at REAL,
    ended_at REAL,
    exit_code INTEGER,
    signal INTEGER,
    wall_s REAL,
    cpu_user_s REAL,
    cpu_system_s REAL,
    energy_j REAL,
    gpu_energy_j REAL,
    cpu_energy_j REAL,
    edp_js REAL,
    ed2p_js2 REAL,
    total_includes_estimate INTEGER NOT NULL DEFAULT 0,
    idle_power_w REAL,
    net_energy_j REAL,
    stderr_tail TEXT NOT NULL DEFAULT '',
    measure_json TEXT,
    PRIMARY KEY (run_id, instance)
);
CREATE TABLE trace_columns_3 (
    run_id TEXT NOT NULL REFERENCES runs(run_id) ON DELETE CASCADE,
    instance INTEGER NOT NULL DEFAULT 0,
    column_index INTEGER NOT NULL,
    domain TEXT NOT NULL,
    quantity TEXT NOT NULL,
    PRIMARY KEY (run_id, instance, column_index)
);
INSERT INTO trace_columns_3 (run_id, instance, column_index, domain, quantity)
    SELECT run_id, 0, column_index, domain, quantity FROM trace_columns;
DROP TABLE trace_columns;
ALTER TABLE trace_columns_3 RENAME TO trace_columns;
CREATE TABLE trace_chunks_3 (
    run_id TEXT NOT NULL REFERENCES runs(run_id) ON DELETE CASCADE,
    instance INTEGER NOT NULL DEFAULT 0,
    chunk INTEGER NOT NULL,
    rows INTEGER NOT NULL,
    data BLOB NOT NULL,
    PRIMARY KEY (run_id, instance, chunk)
);
INSERT INTO trace_chunks_3 (run_id, instance, chunk, rows, data)
    SELECT run_id, 0, chunk, rows, data FROM trace_chunks;
DROP TABLE trace_chunks;
ALTER TABLE trace_chunks_3 RENAME TO trace_chunks;
)sql";

// 4: where and under which allocation a session ran (the node; Slurm's job, array job and task
// ids; the allocation's CPUs and GPUs against the node's) and the phases of a session outside
// every run (a vm guest booted once per slot is shut down after the slot's last run).
constexpr const char* kSchema4 = R"sql(
ALTER TABLE sessions ADD COLUMN node TEXT;
ALTER TABLE sessions ADD COLUMN slurm_job_id TEXT;
ALTER TABLE sessions ADD COLUMN slurm_array_job_id TEXT;
ALTER TABLE sessions ADD COLUMN slurm_array_task_id TEXT;
ALTER TABLE sessions ADD COLUMN allocation_json TEXT;
UPDATE sessions SET node = json_extract(host_json, '$.hostname') WHERE json_valid(host_json);
CREATE TABLE session_phases (
    session_id INTEGER NOT NULL REFERENCES sessions(id),
    position INTEGER NOT NULL,
    environment TEXT NOT NULL,
    gpu INTEGER,
    name TEXT NOT NULL,
    wall_s REAL NOT NULL,
    energy_j REAL,
    PRIMARY KEY (session_id, position)
);
)sql";

// 5: a checksum of each run's stored result (checksum.cpp; docs/store.md, "Checksums"),
// computed for every run already stored so that an upgraded store verifies clean.
constexpr const char* kSchema5 = R"sql(
ALTER TABLE runs ADD COLUMN checksum TEXT;
)sql";

// 6: the phases a workload marked itself (README "Markers"): each with its offsets from the
// run's start, wall time, total energy (unset when a domain that counts was not read) and its
// energy per domain (domains_json: [{"id", "energy_j", "method", "counts_in_total"}]).
constexpr const char* kSchema6 = R"sql(
CREATE TABLE IF NOT EXISTS run_marked_phases (
    run_id TEXT NOT NULL REFERENCES runs(run_id) ON DELETE CASCADE,
    instance INTEGER NOT NULL DEFAULT 0,
    position INTEGER NOT NULL,
    name TEXT NOT NULL,
    begin_s REAL NOT NULL,
    end_s REAL NOT NULL,
    wall_s REAL NOT NULL,
    energy_j REAL,
    ended_by_run INTEGER NOT NULL DEFAULT 0,
    domains_json TEXT NOT NULL DEFAULT '[]',
    PRIMARY KEY (run_id, instance, position)
);
)sql";

void upgrade_to_5(sqlite3* db) {
    RunHasher(db).write_all();
}

}  // namespace

const std::vector<Migration>& migrations() {
    static const std::vector<Migration> kMigrations = {
        {kSchema1, nullptr},
        {kSchema2, upgrade_to_2},
        {kSchema3, upgrade_to_3},
        {kSchema4, nullptr},
        {kSchema5, upgrade_to_5},
        {kSchema6, nullptr},
    };
    return kMigrations;
}

}  // namespace joulebench::store_detail
