// The SQLite results store: opening, migrating, the experiment and sessions. Schema:
// migrations.cpp (docs/store.md explains every column); runs: store_runs.cpp; traces and idle
// baselines: store_traces.cpp; merge: store_merge.cpp.

#include "joulebench/store.hpp"

#include <fmt/core.h>
#include <sqlite3.h>
#include <unistd.h>

#include <charconv>
#include <ctime>
#include <nlohmann/json.hpp>

#include "joulebench/experiment.hpp"
#include "store/migrations.hpp"
#include "store/store_internal.hpp"

namespace joulebench {

using namespace store_detail;

namespace {

// Whether a writer may have the store open: SQLite removes the -wal file when the last connection
// closes cleanly (one left by a crash is read like a live one).
bool wal_exists(const std::filesystem::path& path) {
    std::error_code ec;
    return std::filesystem::exists(path.string() + "-wal", ec);
}

// How a reader opens a store: read-only and, when no writer has it open, immutable, so that
// SQLite creates no -wal or -shm file beside it and takes no lock (an archived store, a read-only
// folder); a store being written is read through its WAL, as SQLite's readers do.
std::string read_uri(const std::filesystem::path& path) {
    return sqlite::file_uri(path.string(), wal_exists(path) ? "mode=ro" : "mode=ro&immutable=1");
}

sqlite3* open_db(const std::filesystem::path& path, bool read_only) {
    // NOMUTEX: our own mutex serialises calls.
    int flags = SQLITE_OPEN_URI | SQLITE_OPEN_NOMUTEX;
    flags |= read_only ? SQLITE_OPEN_READONLY : (SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE);
    const std::string name = read_only ? read_uri(path) : path.string();
    sqlite3* db = nullptr;
    if (sqlite3_open_v2(name.c_str(), &db, flags, nullptr) != SQLITE_OK) {
        const Error e = sqlite::error(db, "open " + path.string());
        sqlite3_close(db);
        throw e;
    }
    return db;
}

bool writable(const std::filesystem::path& path) {
    const auto folder = std::filesystem::absolute(path).parent_path();
    return ::access(path.c_str(), W_OK) == 0 && ::access(folder.c_str(), W_OK) == 0;
}

void check_path(const std::filesystem::path& path, Store::Mode mode) {
    std::error_code ec;
    const bool exists = std::filesystem::exists(path, ec);
    if (mode != Store::Mode::kCreate && !exists) {
        throw Error(ErrorCategory::kNotFound, "store: open " + path.string() + ": no such file",
                    "give the .db file written by `joulebench run` (check the path)");
    }
    if (exists && std::filesystem::is_directory(path, ec)) {
        throw Error(ErrorCategory::kInvalidArgument,
                    "store: open " + path.string() + ": is a directory");
    }
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

bool Store::needs_upgrade(const std::filesystem::path& path) {
    bool older = false;
    try {
        sqlite3* db = open_db(path, true);
        try {
            Statement a(db, "PRAGMA application_id");
            Statement v(db, "PRAGMA user_version");
            older = a.step() && v.step() && a.integer(0) == kApplicationId && v.integer(0) >= 1 &&
                    v.integer(0) < static_cast<std::int64_t>(migrations().size());
        } catch (const Error&) {
            older = false;
        }
        sqlite3_close(db);
    } catch (const Error&) {
        older = false;
    }
    return older;
}

Store::Store(const std::filesystem::path& path, Mode mode) : m_path(path) {
    if (mode == Mode::kReadUpgrade) {
        // A store of an older schema is upgraded first (by a writing open that migrates it),
        // then read like any other.
        if (needs_upgrade(path)) {
            if (!writable(path)) {
                throw Error(ErrorCategory::kNoPermission,
                            fmt::format("store: open {}: written by an older joulebench (schema "
                                        "older than {}) and read-only here, so it cannot be "
                                        "upgraded to be read",
                                        path.string(), kSchemaVersion),
                            "copy it to a writable folder and give the copy (it is upgraded "
                            "once, in place), or run the command where the store is writable");
            }
            Store(path, Mode::kExisting);
        }
        mode = Mode::kReadOnly;
    }
    check_path(path, mode);
    const bool read_only = mode == Mode::kReadOnly || mode == Mode::kInspect;
    m_db = open_db(path, read_only);
    try {
        open(mode);
    } catch (...) {
        sqlite3_close(m_db);
        m_db = nullptr;
        throw;
    }
}

void Store::open(Mode mode) {
    sqlite3_busy_timeout(m_db, 30000);
    sqlite3_extended_result_codes(m_db, 0);
    exec("PRAGMA foreign_keys = ON");
    if (mode == Mode::kCreate || mode == Mode::kExisting) open_writable();
    migrate(mode);
    if (mode == Mode::kReadOnly) check_runs();
}

void Store::open_writable() {
    // WAL: readers (export, a second shard's merge) never block the writer. FULL makes each
    // commit durable against power loss too; one commit per run is cheap (BENCHMARKS.md).
    Statement wal(m_db, "PRAGMA journal_mode = WAL");
    if (!wal.step() || wal.text(0) != "wal") {
        throw Error(ErrorCategory::kIo,
                    "store: open " + m_path.string() + ": cannot switch to WAL mode",
                    "the file system may not support the shared memory WAL needs (NFS); "
                    "use a local disk");
    }
    exec("PRAGMA synchronous = FULL");
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
    if (mode == Mode::kReadOnly || mode == Mode::kInspect) {
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
        const Migration& step = migrations()[static_cast<std::size_t>(v)];
        const std::string what = fmt::format("migrate {} to schema version {}", where, v + 1);
        sqlite::exec(m_db, step.sql, what);
        if (step.upgrade != nullptr) {
            try {
                step.upgrade(m_db);
            } catch (const Error& e) {
                throw Error(e.category(), fmt::format("store: {}: {}", what, e.what()), e.hint());
            }
        }
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
    Statement q(m_db, "SELECT name, file_sha256, file_name, file_text FROM experiment WHERE id = 1");
    if (q.step()) {
        // A resume (the text recorded first stays); tx rolls back (nothing written).
        if (q.text(1) == experiment.file_sha256 || same_experiment_text(q.text(3), experiment.file_text)) {
            return false;
        }
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
    // A damaged store's seed is an Error naming it, not std::stoull's exception (found by
    // fuzz_store, docs/fuzzing.md).
    const std::string seed = q.text(4);
    const auto [end, ec] = std::from_chars(seed.data(), seed.data() + seed.size(), r.seed);
    if (seed.empty() || ec != std::errc() || end != seed.data() + seed.size()) {
        throw Error(ErrorCategory::kIo,
                    fmt::format("store: read {}: the experiment's seed '{}' is not a number",
                                m_path.string(), seed),
                    "the store is damaged");
    }
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
    Statement q(m_db,
                "INSERT INTO sessions (host_json, joulebench_version, command_line, shard, "
                "started_at, node, slurm_job_id, slurm_array_job_id, slurm_array_task_id, "
                "allocation_json) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
    q.bind(1, session.host_json).bind(2, session.joulebench_version).bind(3, session.command_line);
    if (session.shard) {
        q.bind(4, fmt::format("{}/{}", session.shard->index, session.shard->count));
    } else {
        q.bind_null(4);
    }
    q.bind(5, session.started_at);
    if (session.node.empty()) {
        q.bind_null(6);
    } else {
        q.bind(6, session.node);
    }
    q.bind(7, session.slurm_job_id).bind(8, session.slurm_array_job_id);
    q.bind(9, session.slurm_array_task_id).bind(10, session.allocation_json);
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
                "ended_at, node, slurm_job_id, slurm_array_job_id, slurm_array_task_id, "
                "allocation_json FROM sessions ORDER BY id");
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
        s.node = q.opt_text(7);
        s.slurm_job_id = q.opt_text(8);
        s.slurm_array_job_id = q.opt_text(9);
        s.slurm_array_task_id = q.opt_text(10);
        s.allocation_json = q.opt_text(11);
        out.push_back(std::move(s));
    }
    return out;
}

void Store::add_session_phases(std::int64_t session_id, std::string_view environment,
                               std::optional<int> gpu, const std::vector<PhaseResult>& phases) {
    if (phases.empty()) return;
    std::lock_guard lock(m_mutex);
    Transaction tx(m_db);
    Statement next(m_db,
                   "SELECT coalesce(max(position) + 1, 0) FROM session_phases WHERE session_id = ?");
    next.bind(1, session_id);
    next.step();
    std::int64_t position = next.integer(0);
    Statement q(m_db,
                "INSERT INTO session_phases (session_id, position, environment, gpu, name, wall_s, "
                "energy_j) VALUES (?, ?, ?, ?, ?, ?, ?)");
    for (const auto& p : phases) {
        q.reset();
        q.bind(1, session_id).bind(2, position++).bind(3, environment).bind(4, gpu);
        q.bind(5, p.name).bind(6, p.wall_s).bind(7, p.energy_j);
        q.run();
    }
    tx.commit();
}

std::vector<SessionPhase> Store::session_phases() const {
    std::lock_guard lock(m_mutex);
    Statement q(m_db,
                "SELECT session_id, environment, gpu, name, wall_s, energy_j FROM session_phases "
                "ORDER BY session_id, position");
    std::vector<SessionPhase> out;
    while (q.step()) {
        SessionPhase p;
        p.session_id = q.integer(0);
        p.environment = q.text(1);
        if (!q.is_null(2)) p.gpu = static_cast<int>(q.integer(2));
        p.phase.name = q.text(3);
        p.phase.wall_s = q.real(4);
        p.phase.energy_j = q.opt_real(5);
        out.push_back(std::move(p));
    }
    return out;
}


}  // namespace joulebench
