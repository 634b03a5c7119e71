#pragma once
// Thin RAII helpers over the SQLite C API for the store: a prepared statement with typed binds
// and column reads, and a transaction guard that rolls back unless committed. Every failure is a
// joulebench::Error naming what was being done and SQLite's message.

#include <sqlite3.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "joulebench/error.hpp"

namespace joulebench::sqlite {

/// Error for a failed SQLite call: "store: <file>: <what>: <sqlite message>", the file being the
/// connection's main database (left out when `what` already names it, or for a connection
/// without a file); kIo, or kInvalidArgument for a file that is not a database.
[[nodiscard]] Error error(sqlite3* db, const std::string& what);

/// "file:PATH?PARAMS": a URI for sqlite3_open_v2 (SQLITE_OPEN_URI) or ATTACH naming `path`
/// made absolute, with '%', '?' and '#' escaped; `params` e.g. "mode=ro".
[[nodiscard]] std::string file_uri(const std::string& path, std::string_view params);

/// Runs SQL without results (several statements allowed).
void exec(sqlite3* db, const char* sql, const std::string& what);

class Statement {
public:
    Statement(sqlite3* db, std::string_view sql);
    ~Statement();
    Statement(const Statement&) = delete;
    Statement& operator=(const Statement&) = delete;

    // Binds are 1-based, as in SQLite.
    Statement& bind(int index, std::string_view text);
    Statement& bind(int index, const char* text) { return bind(index, std::string_view(text)); }
    Statement& bind(int index, const std::string& text) {
        return bind(index, std::string_view(text));
    }
    Statement& bind(int index, double value);
    Statement& bind(int index, std::int64_t value);
    Statement& bind(int index, int value) { return bind(index, static_cast<std::int64_t>(value)); }
    Statement& bind(int index, unsigned value) {
        return bind(index, static_cast<std::int64_t>(value));
    }
    Statement& bind_blob(int index, const void* data, std::size_t size);
    Statement& bind_null(int index);
    template <class T>
    Statement& bind(int index, const std::optional<T>& value) {
        if (value) return bind(index, *value);
        return bind_null(index);
    }

    /// Steps once: true when a row is available, false when done.
    bool step();
    /// Steps to completion (for statements without results).
    void run();
    /// Resets for another execution and clears the bindings.
    void reset();

    [[nodiscard]] bool is_null(int column) const;
    [[nodiscard]] std::string text(int column) const;
    [[nodiscard]] double real(int column) const;
    [[nodiscard]] std::int64_t integer(int column) const;
    [[nodiscard]] std::optional<double> opt_real(int column) const;
    [[nodiscard]] std::optional<std::int64_t> opt_integer(int column) const;
    [[nodiscard]] std::optional<std::string> opt_text(int column) const;
    [[nodiscard]] const void* blob(int column) const;
    [[nodiscard]] std::size_t bytes(int column) const;
    /// The statement itself, for reads the typed accessors do not offer (column types).
    [[nodiscard]] sqlite3_stmt* raw() const { return m_stmt; }

private:
    sqlite3* m_db;
    sqlite3_stmt* m_stmt = nullptr;
    std::string m_sql;
};

/// BEGIN IMMEDIATE on construction; ROLLBACK in the destructor unless commit() was called.
class Transaction {
public:
    explicit Transaction(sqlite3* db);
    ~Transaction();
    Transaction(const Transaction&) = delete;
    Transaction& operator=(const Transaction&) = delete;
    void commit();

private:
    sqlite3* m_db;
    bool m_done = false;
};

}  // namespace joulebench::sqlite
