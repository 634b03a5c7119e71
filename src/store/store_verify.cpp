// What `joulebench verify` checks and every reader relies on: the run checksums (checksum.cpp)
// and SQLite's own integrity and foreign key checks.

#include <fmt/core.h>
#include <sqlite3.h>

#include "joulebench/store.hpp"
#include "store/checksum.hpp"
#include "store/store_internal.hpp"

namespace joulebench {

using namespace store_detail;

std::vector<std::string> Store::damaged_runs() const {
    std::lock_guard lock(m_mutex);
    // One read transaction: a run and its rows from one snapshot, even while `run` writes.
    sqlite::exec(m_db, "BEGIN", "begin read of " + m_path.string());
    try {
        std::vector<std::string> damaged = RunHasher(m_db).damaged();
        sqlite::exec(m_db, "COMMIT", "end read of " + m_path.string());
        return damaged;
    } catch (...) {
        sqlite3_exec(m_db, "ROLLBACK", nullptr, nullptr, nullptr);
        throw;
    }
}

std::vector<std::string> Store::integrity_problems() const {
    std::lock_guard lock(m_mutex);
    std::vector<std::string> problems;
    Statement integrity(m_db, "PRAGMA integrity_check");
    while (integrity.step()) {
        if (integrity.text(0) != "ok") problems.push_back(integrity.text(0));
    }
    Statement keys(m_db, "PRAGMA foreign_key_check");
    while (keys.step()) {
        problems.push_back(fmt::format("foreign key: row {} of {} refers to a missing row of {}",
                                       keys.text(1), keys.text(0), keys.text(2)));
    }
    return problems;
}

void Store::check_runs() const {
    const std::vector<std::string> damaged = damaged_runs();
    if (damaged.empty()) return;
    const std::string more =
        damaged.size() > 1 ? fmt::format(" (and {} more)", damaged.size() - 1) : std::string();
    throw Error(ErrorCategory::kIo,
                fmt::format("store: {}: run {}{} does not match its checksum: the file is damaged "
                            "or was changed outside joulebench",
                            m_path.string(), damaged.front(), more),
                fmt::format("run `joulebench verify {}` to list every damaged run; restore the "
                            "file from a copy",
                            m_path.string()));
}

}  // namespace joulebench
