// `joulebench merge`: stores of the same experiment (shards) into one.

#include "joulebench/store.hpp"

#include <fmt/core.h>
#include <sqlite3.h>

#include <map>
#include <set>

#include "store/checksum.hpp"
#include "store/store_internal.hpp"

namespace joulebench {

using namespace store_detail;

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
        // An input of an older schema is upgraded first, so that every table copies as is.
        Store store(inputs[i], Mode::kReadUpgrade);
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
            {
                Statement attach(out.m_db, "ATTACH DATABASE ? AS src");
                attach.bind(1, sqlite::file_uri(inputs[i].string(), "mode=ro"));
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
                std::vector<std::string> steps = {copy_sql(out.m_db, "sessions", "", false),
                                                  copy_sql(out.m_db, "session_phases", "", false)};
                for (const char* table : {"runs", "run_domains", "run_instances", "run_warnings",
                                          "run_attempts", "trace_columns", "trace_chunks",
                                          "run_marked_phases"})
                    steps.push_back(copy_sql(out.m_db, table, only_winners, false));
                steps.push_back(copy_sql(out.m_db, "idle_baselines", "ORDER BY id", true));
                for (const auto& sql : steps) {
                    Statement q(out.m_db, sql);
                    // Every ":offset" in the statement is the same (first) parameter.
                    if (sql.find(":offset") != std::string::npos) q.bind(1, offset);
                    q.run();
                }
                // Sessions were renumbered: the copied runs' checksums are rewritten.
                RunHasher(out.m_db).write_all("WHERE run_id IN (SELECT run_id FROM temp.winners)");
                tx.commit();
            } catch (const Error& e) {
                sqlite3_exec(out.m_db, "DETACH DATABASE src", nullptr, nullptr, nullptr);
                throw Error(
                    e.category(),
                    fmt::format("store: merge: copy from {}: {}", inputs[i].string(), e.what()),
                    e.hint());
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
