#pragma once
// The checksum of a run's stored result (schema 5, docs/store.md "Checksums"): SHA-256 over a
// canonical serialisation of what a reader of the run consumes (its row in `runs`, its domains,
// instances and warnings, and its session's node and Slurm ids), kept in `runs.checksum`,
// rewritten by every write to those rows and verified when a store is opened to be read.

#include <sqlite3.h>

#include <string>
#include <string_view>
#include <vector>

#include "store/sqlite.hpp"

namespace joulebench::store_detail {

/// Computes and writes run checksums on one connection (its statements prepared once, so a
/// whole store is hashed quickly). Throws Error.
class RunHasher {
public:
    explicit RunHasher(sqlite3* db);

    /// The checksum of a run as stored now (64 hex digits); throws for an unknown run.
    [[nodiscard]] std::string checksum(std::string_view run_id);
    /// Stores the run's checksum (call inside the transaction that changed the run).
    void write(std::string_view run_id);
    /// Stores the checksum of every run `SELECT run_id FROM runs <where>` names.
    void write_all(const std::string& where = {});
    /// The runs, in plan order, whose stored checksum is missing or differs from their rows.
    [[nodiscard]] std::vector<std::string> damaged();

private:
    void add_rows(sqlite::Statement& q, std::string_view run_id, std::string& out);

    sqlite3* m_db;
    sqlite::Statement m_run, m_domains, m_instances, m_warnings, m_session, m_update;
};

}  // namespace joulebench::store_detail
