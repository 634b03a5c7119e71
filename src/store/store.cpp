// The SQLite results store. Schema: the migrations below (docs/store.md explains every column).

#include "joulebench/store.hpp"

#include <fmt/core.h>
#include <sqlite3.h>

#include <algorithm>
#include <bit>
#include <chrono>
#include <cmath>
#include <cstring>
#include <ctime>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "joulebench/units.hpp"
#include "model/measure_json.hpp"
#include "store/sqlite.hpp"

namespace joulebench {
namespace {

using sqlite::Statement;
using sqlite::Transaction;

/// PRAGMA application_id of a joulebench store ("JBst"), so other SQLite files are told apart.
constexpr int kApplicationId = 0x4a427374;

/// The numbered migrations: entry i takes the schema from version i to i + 1. Never edit one that
/// has shipped; add a new one.
const std::vector<const char*>& migrations() {
    static const std::vector<const char*> kMigrations = {
        // 1: the first schema.
        R"sql(
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
)sql",
    };
    return kMigrations;
}

bool is_end_status(RunStatus s) {
    return s == RunStatus::kDone || s == RunStatus::kFailed || s == RunStatus::kTimeout ||
           s == RunStatus::kInterrupted;
}

std::string status_list_sql(const std::vector<RunStatus>& statuses) {
    std::string list;
    for (const RunStatus s : statuses) {
        list += fmt::format("{}'{}'", list.empty() ? "" : ", ", to_string(s));
    }
    return list;
}

constexpr const char* kRunColumns =
    "run_id, plan_index, workload, environment, gpu_cap_w, cpu_cap_w, repetition, status, attempt, "
    "gpu, "
    "session_id, started_at, ended_at, exit_code, signal, wall_s, energy_j, gpu_energy_j, "
    "cpu_energy_j, "
    "edp_js, ed2p_js2, idle_power_w, net_energy_j, caps_json, warnings_json, phases_json, "
    "stderr_tail, "
    "metrics_json, measure_json";

RunRecord read_run(const Statement& q) {
    RunRecord r;
    r.run_id = q.text(0);
    r.plan_index = q.integer(1);
    r.workload = q.text(2);
    r.environment = q.text(3);
    r.gpu_cap_w = q.opt_real(4);
    r.cpu_cap_w = q.opt_real(5);
    r.repetition = static_cast<unsigned>(q.integer(6));
    r.status = run_status_from_string(q.text(7)).value_or(RunStatus::kPlanned);
    r.attempt = static_cast<unsigned>(q.integer(8));
    if (const auto gpu = q.opt_integer(9)) r.gpu = static_cast<int>(*gpu);
    r.session_id = q.opt_integer(10);
    r.started_at = q.opt_real(11);
    r.ended_at = q.opt_real(12);
    if (const auto code = q.opt_integer(13)) r.exit_code = static_cast<int>(*code);
    if (const auto sig = q.opt_integer(14)) r.signal = static_cast<int>(*sig);
    r.wall_s = q.opt_real(15);
    r.energy_j = q.opt_real(16);
    r.gpu_energy_j = q.opt_real(17);
    r.cpu_energy_j = q.opt_real(18);
    r.edp_js = q.opt_real(19);
    r.ed2p_js2 = q.opt_real(20);
    r.idle_power_w = q.opt_real(21);
    r.net_energy_j = q.opt_real(22);
    r.caps_json = q.text(23);
    r.warnings_json = q.text(24);
    r.phases_json = q.text(25);
    r.stderr_tail = q.text(26);
    r.metrics_json = q.text(27);
    r.measure_json = q.text(28);
    return r;
}

/// Little-endian float64 encoding of trace values (explicit, so a store written on one machine
/// reads the same on any other).
void put_double(std::string& out, double value) {
    const auto bits = std::bit_cast<std::uint64_t>(value);
    char bytes[8];
    for (int i = 0; i < 8; ++i) bytes[i] = static_cast<char>((bits >> (8 * i)) & 0xff);
    out.append(bytes, 8);
}

double get_double(const unsigned char* p) {
    std::uint64_t bits = 0;
    for (int i = 7; i >= 0; --i) bits = (bits << 8) | p[i];
    return std::bit_cast<double>(bits);
}

std::string host_now_suffix() {
    const std::time_t now = std::time(nullptr);
    std::tm tm{};
    gmtime_r(&now, &tm);
    char buffer[32];
    std::strftime(buffer, sizeof buffer, "%Y%m%dT%H%M%S", &tm);
    return buffer;
}

}  // namespace

Store::Store(const std::filesystem::path& path, Mode mode) : m_path(path) {
    std::error_code ec;
    const bool exists = std::filesystem::exists(path, ec);
    if (mode != Mode::kCreate && !exists) {
        throw Error(ErrorCategory::kNotFound, "store: open " + path.string() + ": no such file");
    }
    if (exists && std::filesystem::is_directory(path, ec)) {
        throw Error(ErrorCategory::kInvalidArgument,
                    "store: open " + path.string() + ": is a directory");
    }
    int flags = SQLITE_OPEN_URI | SQLITE_OPEN_NOMUTEX;  // our own mutex serialises calls
    flags |= mode == Mode::kReadOnly ? SQLITE_OPEN_READONLY
                                     : (SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE);
    if (sqlite3_open_v2(path.c_str(), &m_db, flags, nullptr) != SQLITE_OK) {
        const Error e = sqlite::error(m_db, "open " + path.string());
        sqlite3_close(m_db);
        m_db = nullptr;
        throw e;
    }
    try {
        sqlite3_busy_timeout(m_db, 30000);
        sqlite3_extended_result_codes(m_db, 0);
        exec("PRAGMA foreign_keys = ON");
        if (mode != Mode::kReadOnly) {
            // WAL: readers (export, a second shard's merge) never block the writer. FULL makes each
            // commit durable against power loss too; one commit per run is cheap (BENCHMARKS.md).
            Statement wal(m_db, "PRAGMA journal_mode = WAL");
            if (!wal.step() || wal.text(0) != "wal") {
                throw Error(ErrorCategory::kIo,
                            "store: open " + path.string() + ": cannot switch to WAL mode",
                            "the file system may not support the shared memory WAL needs (NFS); "
                            "use a local disk");
            }
            exec("PRAGMA synchronous = FULL");
        }
        migrate(mode);
    } catch (...) {
        sqlite3_close(m_db);
        m_db = nullptr;
        throw;
    }
}

Store::~Store() {
    if (m_db != nullptr) sqlite3_close(m_db);
}

void Store::exec(const char* sql) const {
    sqlite::exec(m_db, sql, fmt::format("{} in {}", sql, m_path.string()));
}

int Store::schema_version() const {
    std::lock_guard lock(m_mutex);
    Statement q(m_db, "PRAGMA user_version");
    q.step();
    return static_cast<int>(q.integer(0));
}

std::string Store::journal_mode() const {
    std::lock_guard lock(m_mutex);
    Statement q(m_db, "PRAGMA journal_mode");
    q.step();
    return q.text(0);
}

void Store::migrate(Mode mode) {
    const std::string where = m_path.string();
    int version = 0;
    int application_id = 0;
    std::int64_t objects = 0;
    {
        Statement q(m_db, "PRAGMA user_version");
        q.step();
        version = static_cast<int>(q.integer(0));
        Statement a(m_db, "PRAGMA application_id");
        a.step();
        application_id = static_cast<int>(a.integer(0));
        Statement n(m_db, "SELECT count(*) FROM sqlite_master");
        n.step();
        objects = n.integer(0);
    }
    if (application_id != kApplicationId && (application_id != 0 || objects > 0)) {
        throw Error(ErrorCategory::kInvalidArgument,
                    "store: open " + where + ": a SQLite database, but not a joulebench store",
                    "give the .db file written by `joulebench run`, or a new file name");
    }
    const int latest = static_cast<int>(migrations().size());
    static_assert(kSchemaVersion >= 1);
    if (version > latest) {
        throw Error(
            ErrorCategory::kNotSupported,
            fmt::format(
                "store: open {}: schema version {} is newer than this joulebench ({}) knows "
                "(version {})",
                where, version, JOULEBENCH_VERSION, latest),
            "the store was written by a newer joulebench; use that version or newer");
    }
    if (version == latest) return;
    if (mode == Mode::kReadOnly) {
        throw Error(
            ErrorCategory::kInvalidArgument,
            fmt::format("store: open {}: schema version {} is older than {} and the store is "
                        "opened read-only",
                        where, version, latest),
            "open it once with a command that writes (e.g. `joulebench run`) to migrate it");
    }
    Transaction tx(m_db);
    {
        // Re-read inside the write lock: another process may have migrated meanwhile.
        Statement q(m_db, "PRAGMA user_version");
        q.step();
        version = static_cast<int>(q.integer(0));
    }
    for (int v = version; v < latest; ++v) {
        sqlite::exec(m_db, migrations()[static_cast<std::size_t>(v)],
                     fmt::format("migrate {} to schema version {}", where, v + 1));
    }
    sqlite::exec(m_db, fmt::format("PRAGMA user_version = {}", latest).c_str(),
                 "set schema version of " + where);
    sqlite::exec(m_db, fmt::format("PRAGMA application_id = {}", kApplicationId).c_str(),
                 "set application id of " + where);
    tx.commit();
}

bool Store::record_experiment(const ExperimentRecord& experiment) {
    std::lock_guard lock(m_mutex);
    Transaction tx(m_db);
    Statement q(m_db, "SELECT name, file_sha256, file_name FROM experiment WHERE id = 1");
    if (q.step()) {
        if (q.text(1) == experiment.file_sha256)
            return false;  // a resume; tx rolls back (nothing written)
        throw ExperimentChangedError(
            ErrorCategory::kInvalidArgument,
            fmt::format("store: record experiment in {}: the store holds experiment '{}' from {} "
                        "(sha256 {}), and {} differs (sha256 {})",
                        m_path.string(), q.text(0), q.text(2), q.text(1).substr(0, 12),
                        experiment.file_name, experiment.file_sha256.substr(0, 12)),
            "use --new to set the old store aside and start a new one, or restore the original "
            "file to resume");
    }
    Statement insert(
        m_db,
        "INSERT INTO experiment (id, name, file_name, file_text, file_sha256, seed, seed_given, "
        "joulebench_version, created_at) VALUES (1, ?, ?, ?, ?, ?, ?, ?, ?)");
    insert.bind(1, experiment.name)
        .bind(2, experiment.file_name)
        .bind(3, experiment.file_text)
        .bind(4, experiment.file_sha256)
        .bind(5, std::to_string(experiment.seed))
        .bind(6, experiment.seed_given ? 1 : 0)
        .bind(7, experiment.joulebench_version)
        .bind(8, experiment.created_at);
    insert.run();
    tx.commit();
    return true;
}

std::optional<ExperimentRecord> Store::experiment() const {
    std::lock_guard lock(m_mutex);
    Statement q(
        m_db,
        "SELECT name, file_name, file_text, file_sha256, seed, seed_given, joulebench_version, "
        "created_at FROM experiment WHERE id = 1");
    if (!q.step()) return std::nullopt;
    ExperimentRecord r;
    r.name = q.text(0);
    r.file_name = q.text(1);
    r.file_text = q.text(2);
    r.file_sha256 = q.text(3);
    r.seed = std::stoull(q.text(4));
    r.seed_given = q.integer(5) != 0;
    r.joulebench_version = q.text(6);
    r.created_at = q.real(7);
    return r;
}

std::optional<std::filesystem::path> Store::set_aside(const std::filesystem::path& path) {
    std::error_code ec;
    if (!std::filesystem::exists(path, ec)) return std::nullopt;
    {
        // Fold the WAL into the main file so that one file holds everything.
        Store store(path, Mode::kExisting);
        store.exec("PRAGMA wal_checkpoint(TRUNCATE)");
    }
    std::filesystem::path target = path;
    target += ".replaced-" + host_now_suffix();
    for (int i = 2; std::filesystem::exists(target, ec); ++i) {
        target = path;
        target += fmt::format(".replaced-{}-{}", host_now_suffix(), i);
    }
    std::filesystem::rename(path, target, ec);
    if (ec) {
        throw Error(ErrorCategory::kIo, fmt::format("store: set aside {}: rename to {}: {}",
                                                    path.string(), target.string(), ec.message()));
    }
    for (const char* suffix : {"-wal", "-shm"}) {
        std::filesystem::path side = path;
        side += suffix;
        std::filesystem::remove(side, ec);  // empty after the checkpoint; stale otherwise
    }
    return target;
}

std::int64_t Store::begin_session(const SessionInfo& session) {
    std::lock_guard lock(m_mutex);
    if (!nlohmann::json::accept(session.host_json)) {
        throw Error(ErrorCategory::kInvalidArgument,
                    "store: begin session: host_json is not valid JSON");
    }
    Statement q(
        m_db,
        "INSERT INTO sessions (host_json, joulebench_version, command_line, shard, started_at) "
        "VALUES (?, ?, ?, ?, ?)");
    q.bind(1, session.host_json).bind(2, session.joulebench_version).bind(3, session.command_line);
    if (session.shard) {
        q.bind(4, fmt::format("{}/{}", session.shard->index, session.shard->count));
    } else {
        q.bind_null(4);
    }
    q.bind(5, session.started_at);
    q.run();
    return sqlite3_last_insert_rowid(m_db);
}

void Store::end_session(std::int64_t session_id, double ended_at) {
    std::lock_guard lock(m_mutex);
    Statement q(m_db, "UPDATE sessions SET ended_at = ? WHERE id = ?");
    q.bind(1, ended_at).bind(2, session_id);
    q.run();
}

std::vector<SessionRecord> Store::sessions() const {
    std::lock_guard lock(m_mutex);
    Statement q(m_db,
                "SELECT id, host_json, joulebench_version, command_line, shard, started_at, "
                "ended_at FROM sessions ORDER BY id");
    std::vector<SessionRecord> out;
    while (q.step()) {
        SessionRecord s;
        s.id = q.integer(0);
        s.host_json = q.text(1);
        s.joulebench_version = q.text(2);
        s.command_line = q.text(3);
        if (!q.is_null(4)) s.shard = q.text(4);
        s.started_at = q.real(5);
        s.ended_at = q.opt_real(6);
        out.push_back(std::move(s));
    }
    return out;
}

std::size_t Store::add_planned_runs(const std::vector<RunSpec>& runs) {
    std::lock_guard lock(m_mutex);
    Transaction tx(m_db);
    Statement q(m_db,
                "INSERT OR IGNORE INTO runs (run_id, plan_index, workload, environment, gpu_cap_w, "
                "cpu_cap_w, "
                "repetition, status) VALUES (?, ?, ?, ?, ?, ?, ?, 'planned')");
    std::size_t added = 0;
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
        added += static_cast<std::size_t>(sqlite3_changes(m_db));
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
    tx.commit();
    return ids;
}

StatusCounts Store::status_counts() const {
    std::lock_guard lock(m_mutex);
    StatusCounts counts;
    Statement q(m_db, "SELECT status, count(*) FROM runs GROUP BY status");
    while (q.step()) {
        const auto n = static_cast<std::size_t>(q.integer(1));
        switch (run_status_from_string(q.text(0)).value_or(RunStatus::kPlanned)) {
            case RunStatus::kPlanned:
                counts.planned += n;
                break;
            case RunStatus::kRunning:
                counts.running += n;
                break;
            case RunStatus::kDone:
                counts.done += n;
                break;
            case RunStatus::kFailed:
                counts.failed += n;
                break;
            case RunStatus::kTimeout:
                counts.timeout += n;
                break;
            case RunStatus::kInterrupted:
                counts.interrupted += n;
                break;
        }
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
          "DELETE FROM run_domains WHERE run_id = ?"}) {
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
        "phases_json = '[]', stderr_tail = '', metrics_json = NULL, measure_json = NULL "
        "WHERE run_id = ?");
    q.bind(1, session_id).bind(2, gpu).bind(3, started_at).bind(4, run_id);
    q.run();
    tx.commit();
}

void Store::finish_run(const RunOutcome& outcome) {
    if (!is_end_status(outcome.status)) {
        throw Error(ErrorCategory::kInvalidArgument,
                    fmt::format("store: finish run {}: '{}' is not an end status", outcome.run_id,
                                to_string(outcome.status)));
    }
    nlohmann::json metrics;
    if (!outcome.metrics_json.empty()) {
        metrics = nlohmann::json::parse(outcome.metrics_json, nullptr, false);
        if (!metrics.is_object()) {
            throw Error(
                ErrorCategory::kInvalidArgument,
                fmt::format("store: finish run {}: the workload metrics are not a JSON object",
                            outcome.run_id));
        }
    }
    const MeasureResult* m = outcome.measure ? &*outcome.measure : nullptr;

    nlohmann::json warnings = nlohmann::json::array();
    if (m != nullptr) {
        for (const auto& w : m->warnings) warnings.push_back(w);
    }
    for (const auto& w : outcome.warnings) warnings.push_back(w);
    nlohmann::json caps = nlohmann::json::array();
    for (const auto& c : outcome.caps) {
        caps.push_back(
            {{"domain", c.domain},
             {"requested_w", c.requested_w},
             {"applied_w", c.applied_w ? nlohmann::json(*c.applied_w) : nlohmann::json(nullptr)}});
    }
    nlohmann::json phases = nlohmann::json::array();
    for (const auto& p : outcome.phases) {
        phases.push_back(
            {{"name", p.name},
             {"wall_s", p.wall_s},
             {"energy_j", p.energy_j ? nlohmann::json(*p.energy_j) : nlohmann::json(nullptr)}});
    }

    std::optional<int> exit_code = outcome.exit_code;
    if (!exit_code && m != nullptr) exit_code = m->exit_code;
    std::optional<int> signal = outcome.signal;
    if (!signal && m != nullptr) signal = m->signal;

    std::optional<double> gpu_energy;
    std::optional<double> cpu_energy;
    if (m != nullptr) {
        for (const auto& d : m->domains) {
            if (!d.counts_in_total) continue;
            if (d.info.kind == DomainKind::kGpu) {
                gpu_energy = gpu_energy.value_or(0.0) + d.energy_j;
            } else {
                cpu_energy = cpu_energy.value_or(0.0) + d.energy_j;
            }
        }
        if (!gpu_energy) gpu_energy = 0.0;
        if (!cpu_energy) cpu_energy = 0.0;
    }

    std::lock_guard lock(m_mutex);
    Transaction tx(m_db);
    std::int64_t attempt = 0;
    std::optional<std::int64_t> session_id;
    double marked_started_at = 0.0;
    {
        Statement q(m_db,
                    "SELECT status, attempt, session_id, started_at FROM runs WHERE run_id = ?");
        q.bind(1, outcome.run_id);
        if (!q.step()) {
            throw Error(ErrorCategory::kInvalidArgument,
                        fmt::format("store: finish run {}: no such run in {}", outcome.run_id,
                                    m_path.string()));
        }
        if (q.text(0) != "running") {
            throw Error(ErrorCategory::kInvalidArgument,
                        fmt::format("store: finish run {}: it is {}, not running", outcome.run_id,
                                    q.text(0)),
                        "call mark_running first");
        }
        attempt = q.integer(1);
        session_id = q.opt_integer(2);
        marked_started_at = q.opt_real(3).value_or(0.0);
    }
    // Start: the outcome's, else the measurement's, else the one given to mark_running.
    double started_at = outcome.started_at;
    if (started_at == 0.0 && m != nullptr) started_at = m->started_at;
    if (started_at == 0.0) started_at = marked_started_at;
    double ended_at = outcome.ended_at;
    if (ended_at == 0.0 && m != nullptr) ended_at = started_at + m->wall_s;
    if (ended_at == 0.0) ended_at = unix_now();
    Statement u(
        m_db,
        "UPDATE runs SET status = ?, gpu = coalesce(?, gpu), started_at = ?, ended_at = ?, "
        "exit_code = ?, "
        "signal = ?, wall_s = ?, cpu_user_s = ?, cpu_system_s = ?, energy_j = ?, gpu_energy_j = ?, "
        "cpu_energy_j = ?, edp_js = ?, ed2p_js2 = ?, total_includes_estimate = ?, idle_power_w = "
        "?, "
        "net_energy_j = ?, caps_json = ?, warnings_json = ?, phases_json = ?, stderr_tail = ?, "
        "metrics_json = ?, measure_json = ? WHERE run_id = ?");
    u.bind(1, to_string(outcome.status)).bind(2, outcome.gpu).bind(3, started_at).bind(4, ended_at);
    u.bind(5, exit_code).bind(6, signal);
    if (m != nullptr) {
        u.bind(7, m->wall_s)
            .bind(8, m->cpu_user_s)
            .bind(9, m->cpu_system_s)
            .bind(10, m->total_energy_j);
        u.bind(11, gpu_energy).bind(12, cpu_energy).bind(13, m->edp_js).bind(14, m->ed2p_js2);
        u.bind(15, m->total_includes_estimate ? 1 : 0);
        if (m->idle) {
            u.bind(16, m->idle->power_w).bind(17, m->idle->net_energy_j);
        } else {
            u.bind_null(16).bind_null(17);
        }
    } else {
        for (int i = 7; i <= 17; ++i) u.bind_null(i);
        if (ended_at > started_at && started_at > 0.0) u.bind(7, ended_at - started_at);
    }
    u.bind(18, caps.dump())
        .bind(19, warnings.dump())
        .bind(20, phases.dump())
        .bind(21, outcome.stderr_tail);
    if (outcome.metrics_json.empty()) {
        u.bind_null(22);
    } else {
        u.bind(22, metrics.dump());
    }
    if (m != nullptr) {
        u.bind(23, measure_to_json(*m).dump());
    } else {
        u.bind_null(23);
    }
    u.bind(24, outcome.run_id);
    u.run();

    {
        Statement d(m_db, "DELETE FROM run_domains WHERE run_id = ?");
        d.bind(1, outcome.run_id);
        d.run();
    }
    if (m != nullptr) {
        Statement d(
            m_db,
            "INSERT INTO run_domains (run_id, domain_index, domain, kind, device_index, method, "
            "backend, "
            "name, energy_j, avg_power_w, peak_power_w, counts_in_total, cross_check_energy_j, "
            "disagreement_pct, idle_power_w, net_energy_j, failed_reads, wraps, resets) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
        int index = 0;
        for (const auto& dom : m->domains) {
            d.reset();
            d.bind(1, outcome.run_id)
                .bind(2, index++)
                .bind(3, dom.info.id)
                .bind(4, to_string(dom.info.kind));
            if (dom.info.index >= 0) {
                d.bind(5, dom.info.index);
            } else {
                d.bind_null(5);
            }
            d.bind(6, to_string(dom.info.method)).bind(7, dom.info.backend).bind(8, dom.info.name);
            d.bind(9, dom.energy_j).bind(10, dom.avg_power_w).bind(11, dom.peak_power_w);
            d.bind(12, dom.counts_in_total ? 1 : 0)
                .bind(13, dom.cross_check_energy_j)
                .bind(14, dom.disagreement_pct);
            d.bind(15, dom.idle_power_w).bind(16, dom.net_energy_j);
            d.bind(17, static_cast<std::int64_t>(dom.failed_reads + dom.health.failed_reads));
            d.bind(18, static_cast<std::int64_t>(dom.health.wraps))
                .bind(19, static_cast<std::int64_t>(dom.health.resets));
            d.run();
        }
    }
    Statement a(m_db,
                "INSERT OR REPLACE INTO run_attempts (run_id, attempt, session_id, status, gpu, "
                "started_at, ended_at, "
                "exit_code, signal, energy_j, stderr_tail) VALUES (?, ?, ?, ?, "
                "(SELECT gpu FROM runs WHERE run_id = ?1), ?, ?, ?, ?, ?, ?)");
    a.bind(1, outcome.run_id)
        .bind(2, attempt)
        .bind(3, session_id)
        .bind(4, to_string(outcome.status));
    a.bind(5, started_at).bind(6, ended_at).bind(7, exit_code).bind(8, signal);
    if (m != nullptr) {
        a.bind(9, m->total_energy_j);
    } else {
        a.bind_null(9);
    }
    a.bind(10, outcome.stderr_tail);
    a.run();
    tx.commit();
}

std::vector<DomainRecord> Store::domains(std::string_view run_id) const {
    std::lock_guard lock(m_mutex);
    Statement q(
        m_db,
        "SELECT run_id, domain_index, domain, kind, method, energy_j, avg_power_w, peak_power_w, "
        "counts_in_total, idle_power_w, net_energy_j FROM run_domains WHERE run_id = ? "
        "ORDER BY domain_index");
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
        out.push_back(std::move(d));
    }
    return out;
}

void Store::append_trace_chunk(const TraceChunk& chunk) {
    const std::size_t width = chunk.columns.size() + 1;
    if (chunk.rows * width != chunk.data.size()) {
        throw Error(ErrorCategory::kInternal,
                    fmt::format("store: append trace of run {}: {} values for {} rows of {}",
                                chunk.run_id, chunk.data.size(), chunk.rows, width));
    }
    std::string blob;
    blob.reserve(chunk.data.size() * 8);
    for (const double v : chunk.data) put_double(blob, v);
    std::lock_guard lock(m_mutex);
    Transaction tx(m_db);
    if (chunk.chunk == 0) {
        Statement c(m_db,
                    "INSERT INTO trace_columns (run_id, column_index, domain, quantity) VALUES (?, "
                    "?, ?, ?)");
        int index = 0;
        for (const auto& column : chunk.columns) {
            c.reset();
            c.bind(1, chunk.run_id)
                .bind(2, index++)
                .bind(3, column.domain)
                .bind(4, column.quantity);
            c.run();
        }
    }
    Statement q(m_db, "INSERT INTO trace_chunks (run_id, chunk, rows, data) VALUES (?, ?, ?, ?)");
    q.bind(1, chunk.run_id).bind(2, chunk.chunk).bind(3, static_cast<std::int64_t>(chunk.rows));
    q.bind_blob(4, blob.data(), blob.size());
    q.run();
    tx.commit();
}

Trace Store::trace(std::string_view run_id) const {
    std::lock_guard lock(m_mutex);
    Trace trace;
    {
        Statement c(
            m_db,
            "SELECT domain, quantity FROM trace_columns WHERE run_id = ? ORDER BY column_index");
        c.bind(1, run_id);
        while (c.step()) trace.columns.push_back(TraceColumn{c.text(0), c.text(1)});
    }
    trace.values.resize(trace.columns.size());
    const std::size_t width = trace.columns.size() + 1;
    Statement q(m_db, "SELECT rows, data FROM trace_chunks WHERE run_id = ? ORDER BY chunk");
    q.bind(1, run_id);
    while (q.step()) {
        const auto rows = static_cast<std::size_t>(q.integer(0));
        const auto* p = static_cast<const unsigned char*>(q.blob(1));
        if (q.bytes(1) != rows * width * 8) {
            throw Error(
                ErrorCategory::kIo,
                fmt::format("store: read trace of run {} in {}: a chunk has {} bytes, expected {}",
                            run_id, m_path.string(), q.bytes(1), rows * width * 8));
        }
        for (std::size_t r = 0; r < rows; ++r) {
            trace.times_s.push_back(get_double(p));
            p += 8;
            for (std::size_t c = 0; c + 1 < width; ++c) {
                trace.values[c].push_back(get_double(p));
                p += 8;
            }
        }
    }
    return trace;
}

void Store::record_idle_baseline(const IdleBaselineRecord& baseline) {
    std::lock_guard lock(m_mutex);
    Statement q(m_db,
                "INSERT INTO idle_baselines (session_id, domain, started_at, duration_s, power_w, "
                "temperature_c, "
                "context) VALUES (?, ?, ?, ?, ?, ?, ?)");
    q.bind(1, baseline.session_id).bind(2, baseline.domain).bind(3, baseline.started_at);
    q.bind(4, baseline.duration_s).bind(5, baseline.power_w).bind(6, baseline.temperature_c);
    q.bind(7, baseline.context);
    q.run();
}

std::vector<IdleBaselineRecord> Store::idle_baselines() const {
    std::lock_guard lock(m_mutex);
    Statement q(
        m_db,
        "SELECT session_id, domain, started_at, duration_s, power_w, temperature_c, context "
        "FROM idle_baselines ORDER BY id");
    std::vector<IdleBaselineRecord> out;
    while (q.step()) {
        IdleBaselineRecord b;
        b.session_id = q.opt_integer(0);
        b.domain = q.text(1);
        b.started_at = q.real(2);
        b.duration_s = q.real(3);
        b.power_w = q.real(4);
        b.temperature_c = q.opt_real(5);
        b.context = q.text(6);
        out.push_back(std::move(b));
    }
    return out;
}

// --- merge ---------------------------------------------------------------------------------

namespace {

struct Candidate {
    std::size_t input = 0;
    RunStatus status = RunStatus::kPlanned;
    std::int64_t attempt = 0;
    double ended_at = 0.0;
};

/// True when `a` should be kept over `b`.
bool better(const Candidate& a, const Candidate& b) {
    const bool a_done = a.status == RunStatus::kDone;
    const bool b_done = b.status == RunStatus::kDone;
    if (a_done != b_done) return a_done;
    if (a.attempt != b.attempt) return a.attempt > b.attempt;
    if (a.ended_at != b.ended_at) return a.ended_at > b.ended_at;
    return a.input < b.input;
}

std::vector<std::string> table_columns(sqlite3* db, const std::string& table) {
    Statement q(db, fmt::format("PRAGMA main.table_info({})", table));
    std::vector<std::string> columns;
    while (q.step()) columns.push_back(q.text(1));
    return columns;
}

/// "INSERT INTO main.T (cols) SELECT cols FROM src.T WHERE ...", with session_id shifted and,
/// when `new_id`, the integer key `id` left for SQLite to assign.
std::string copy_sql(sqlite3* db, const std::string& table, const std::string& where, bool new_id) {
    std::string into;
    std::string select;
    for (const auto& c : table_columns(db, table)) {
        if (new_id && c == "id") continue;
        into += (into.empty() ? "" : ", ") + c;
        std::string expr = c;
        if (c == "session_id") expr = "session_id + :offset";
        if (c == "id" && table == "sessions") expr = "id + :offset";
        select += (select.empty() ? "" : ", ") + expr;
    }
    return fmt::format("INSERT INTO main.{0} ({1}) SELECT {2} FROM src.{0} {3}", table, into,
                       select, where);
}

}  // namespace

MergeReport Store::merge(const std::vector<std::filesystem::path>& inputs,
                         const std::filesystem::path& output) {
    if (inputs.empty())
        throw Error(ErrorCategory::kInvalidArgument, "store: merge: no input stores");
    std::error_code ec;
    if (std::filesystem::exists(output, ec)) {
        throw Error(ErrorCategory::kInvalidArgument,
                    "store: merge into " + output.string() + ": the file exists",
                    "merge writes a new store; give a new file name or remove the old one");
    }
    std::set<std::filesystem::path> seen_paths;
    std::optional<ExperimentRecord> experiment;
    std::map<std::string, std::vector<Candidate>> candidates;
    for (std::size_t i = 0; i < inputs.size(); ++i) {
        const auto canonical = std::filesystem::weakly_canonical(inputs[i], ec);
        if (!seen_paths.insert(ec ? inputs[i] : canonical).second) {
            throw Error(ErrorCategory::kInvalidArgument,
                        "store: merge: " + inputs[i].string() + " is given twice");
        }
        Store store(inputs[i], Mode::kReadOnly);
        const auto record = store.experiment();
        if (!record) {
            throw Error(ErrorCategory::kInvalidArgument,
                        "store: merge: " + inputs[i].string() + " holds no experiment");
        }
        if (!experiment) {
            experiment = record;
        } else if (record->file_sha256 != experiment->file_sha256) {
            throw Error(
                ErrorCategory::kInvalidArgument,
                fmt::format(
                    "store: merge {} with {}: different experiments ('{}', sha256 {} and '{}', "
                    "sha256 {})",
                    inputs[0].string(), inputs[i].string(), experiment->name,
                    experiment->file_sha256.substr(0, 12), record->name,
                    record->file_sha256.substr(0, 12)),
                "only stores of the same experiment file (e.g. shards of one plan) can be merged");
        }
        Statement q(store.m_db, "SELECT run_id, status, attempt, coalesce(ended_at, 0) FROM runs");
        while (q.step()) {
            Candidate c;
            c.input = i;
            c.status = run_status_from_string(q.text(1)).value_or(RunStatus::kPlanned);
            c.attempt = q.integer(2);
            c.ended_at = q.real(3);
            candidates[q.text(0)].push_back(c);
        }
    }

    MergeReport report;
    std::vector<std::vector<std::string>> winners(inputs.size());
    for (auto& [id, list] : candidates) {
        std::size_t best = 0;
        for (std::size_t k = 1; k < list.size(); ++k) {
            if (better(list[k], list[best])) best = k;
        }
        winners[list[best].input].push_back(id);
        if (list.size() > 1) {
            ++report.duplicates;
            std::string line =
                fmt::format("{}: kept {} ({}, attempt {})", id, inputs[list[best].input].string(),
                            to_string(list[best].status), list[best].attempt);
            for (std::size_t k = 0; k < list.size(); ++k) {
                if (k == best) continue;
                line += fmt::format(" over {} ({}, attempt {})", inputs[list[k].input].string(),
                                    to_string(list[k].status), list[k].attempt);
            }
            report.decisions.push_back(std::move(line));
        }
    }
    report.runs = candidates.size();

    try {
        Store out(output, Mode::kCreate);
        out.record_experiment(*experiment);
        std::lock_guard lock(out.m_mutex);
        for (std::size_t i = 0; i < inputs.size(); ++i) {
            // ATTACH read-only through a URI, so the input is never modified.
            std::string uri = "file:";
            for (const char ch : std::filesystem::absolute(inputs[i]).string()) {
                if (ch == '%' || ch == '?' || ch == '#') {
                    uri += fmt::format("%{:02X}", static_cast<unsigned char>(ch));
                } else {
                    uri += ch;
                }
            }
            uri += "?mode=ro";
            {
                Statement attach(out.m_db, "ATTACH DATABASE ? AS src");
                attach.bind(1, uri);
                attach.run();
            }
            try {
                Transaction tx(out.m_db);
                std::int64_t offset = 0;
                {
                    Statement q(out.m_db, "SELECT coalesce(max(id), 0) FROM main.sessions");
                    q.step();
                    offset = q.integer(0);
                }
                sqlite::exec(out.m_db,
                             "CREATE TEMP TABLE IF NOT EXISTS winners (run_id TEXT PRIMARY KEY);"
                             "DELETE FROM temp.winners;",
                             "merge");
                {
                    Statement w(out.m_db, "INSERT INTO temp.winners (run_id) VALUES (?)");
                    for (const auto& id : winners[i]) {
                        w.reset();
                        w.bind(1, id);
                        w.run();
                    }
                }
                const std::string only_winners =
                    "WHERE run_id IN (SELECT run_id FROM temp.winners)";
                const std::vector<std::pair<std::string, std::string>> steps = {
                    {copy_sql(out.m_db, "sessions", "", false), "sessions"},
                    {copy_sql(out.m_db, "runs", only_winners, false), "runs"},
                    {copy_sql(out.m_db, "run_domains", only_winners, false), "run_domains"},
                    {copy_sql(out.m_db, "run_attempts", only_winners, false), "run_attempts"},
                    {copy_sql(out.m_db, "trace_columns", only_winners, false), "trace_columns"},
                    {copy_sql(out.m_db, "trace_chunks", only_winners, false), "trace_chunks"},
                    {copy_sql(out.m_db, "idle_baselines", "ORDER BY id", true), "idle_baselines"},
                };
                for (const auto& [sql, what] : steps) {
                    Statement q(out.m_db, sql);
                    // Every ":offset" in the statement is the same (first) parameter.
                    if (sql.find(":offset") != std::string::npos) q.bind(1, offset);
                    q.run();
                }
                tx.commit();
            } catch (...) {
                sqlite3_exec(out.m_db, "DETACH DATABASE src", nullptr, nullptr, nullptr);
                throw;
            }
            sqlite::exec(out.m_db, "DETACH DATABASE src", "merge: detach " + inputs[i].string());
        }
    } catch (...) {
        // Never leave half a merged store behind.
        for (const char* suffix : {"", "-wal", "-shm"}) {
            std::filesystem::path p = output;
            p += suffix;
            std::filesystem::remove(p, ec);
        }
        throw;
    }
    return report;
}

}  // namespace joulebench
