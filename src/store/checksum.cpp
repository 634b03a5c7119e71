// Run checksums (docs/store.md, "Checksums"). The serialisation is fixed here, column by
// column: a new column a reader consumes needs a migration that adds it here and rewrites every
// checksum (as schema 5 wrote the first ones).

#include "store/checksum.hpp"

#include <fmt/core.h>

#include <bit>
#include <cstdint>

#include "common/sha256.hpp"
#include "joulebench/error.hpp"

namespace joulebench::store_detail {

namespace {

constexpr const char* kRunSql =
    "SELECT run_id, plan_index, workload, environment, gpu_cap_w, cpu_cap_w, repetition, status, "
    "attempt, gpu, session_id, started_at, ended_at, exit_code, signal, wall_s, cpu_user_s, "
    "cpu_system_s, energy_j, gpu_energy_j, cpu_energy_j, edp_js, ed2p_js2, "
    "total_includes_estimate, idle_power_w, net_energy_j, caps_json, warnings_json, phases_json, "
    "stderr_tail, metrics_json, measure_json, instances, start_skew_s FROM runs WHERE run_id = ?";
constexpr const char* kDomainsSql =
    "SELECT domain_index, domain, kind, device_index, method, backend, name, energy_j, "
    "avg_power_w, peak_power_w, counts_in_total, cross_check_energy_j, disagreement_pct, "
    "idle_power_w, net_energy_j, failed_reads, wraps, resets, sharing, cpu_time_share, "
    "measured_energy_j, measured_on, instance FROM run_domains WHERE run_id = ? "
    "ORDER BY domain_index";
constexpr const char* kInstancesSql =
    "SELECT instance, gpu, status, started_at, ended_at, exit_code, signal, wall_s, cpu_user_s, "
    "cpu_system_s, energy_j, gpu_energy_j, cpu_energy_j, edp_js, ed2p_js2, "
    "total_includes_estimate, idle_power_w, net_energy_j, stderr_tail, measure_json "
    "FROM run_instances WHERE run_id = ? ORDER BY instance";
constexpr const char* kWarningsSql =
    "SELECT position, code, text FROM run_warnings WHERE run_id = ? ORDER BY position";
constexpr const char* kSessionSql =
    "SELECT s.node, s.slurm_job_id, s.slurm_array_job_id, s.slurm_array_task_id FROM runs r "
    "JOIN sessions s ON s.id = r.session_id WHERE r.run_id = ?";

// One value: its SQLite storage class and its exact content (a real by its 64 bits), so that
// any change of type or value changes the serialisation.
void put_value(sqlite3_stmt* q, int column, std::string& out) {
    switch (sqlite3_column_type(q, column)) {
        case SQLITE_INTEGER:
            out += fmt::format("i{};", sqlite3_column_int64(q, column));
            return;
        case SQLITE_FLOAT:
            out += fmt::format("r{:016x};",
                               std::bit_cast<std::uint64_t>(sqlite3_column_double(q, column)));
            return;
        case SQLITE_TEXT:
        case SQLITE_BLOB: {
            const bool text = sqlite3_column_type(q, column) == SQLITE_TEXT;
            const auto* p = static_cast<const char*>(sqlite3_column_blob(q, column));
            const auto n = static_cast<std::size_t>(sqlite3_column_bytes(q, column));
            out += fmt::format("{}{}:", text ? 't' : 'b', n);
            if (n > 0) out.append(p, n);
            return;
        }
        default:
            out += "n;";
    }
}

}  // namespace

RunHasher::RunHasher(sqlite3* db)
    : m_db(db),
      m_run(db, kRunSql),
      m_domains(db, kDomainsSql),
      m_instances(db, kInstancesSql),
      m_warnings(db, kWarningsSql),
      m_session(db, kSessionSql),
      m_update(db, "UPDATE runs SET checksum = ? WHERE run_id = ?") {}

void RunHasher::add_rows(sqlite::Statement& q, std::string_view run_id, std::string& out) {
    q.reset();
    q.bind(1, run_id);
    std::size_t rows = 0;
    std::string body;
    while (q.step()) {
        ++rows;
        for (int c = 0; c < sqlite3_column_count(q.raw()); ++c) put_value(q.raw(), c, body);
        body += '\n';
    }
    out += fmt::format("#{}\n", rows);
    out += body;
}

std::string RunHasher::checksum(std::string_view run_id) {
    std::string text = "joulebench run checksum 1\n";
    add_rows(m_run, run_id, text);
    if (text.ends_with("#0\n")) {
        throw Error(ErrorCategory::kInvalidArgument,
                    fmt::format("store: checksum of run {}: no such run", run_id));
    }
    for (sqlite::Statement* q : {&m_domains, &m_instances, &m_warnings, &m_session})
        add_rows(*q, run_id, text);
    return sha256_hex(text);
}

void RunHasher::write(std::string_view run_id) {
    const std::string sum = checksum(run_id);
    m_update.reset();
    m_update.bind(1, sum).bind(2, run_id);
    m_update.run();
}

void RunHasher::write_all(const std::string& where) {
    std::vector<std::string> ids;
    {
        sqlite::Statement q(m_db, "SELECT run_id FROM runs " + where);
        while (q.step()) ids.push_back(q.text(0));
    }
    for (const auto& id : ids) write(id);
}

std::vector<std::string> RunHasher::damaged() {
    sqlite::Statement q(m_db, "SELECT run_id, checksum FROM runs ORDER BY plan_index, run_id");
    std::vector<std::string> out;
    while (q.step()) {
        const std::string id = q.text(0);
        if (q.is_null(1) || q.text(1) != checksum(id)) out.push_back(id);
    }
    return out;
}

}  // namespace joulebench::store_detail
