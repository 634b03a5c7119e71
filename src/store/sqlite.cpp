#include "store/sqlite.hpp"

#include <fmt/core.h>

#include <filesystem>

namespace joulebench::sqlite {

namespace {

// "<file>: <what>", so that every store error says which file (merge reads several).
std::string in_file(sqlite3* db, const std::string& what) {
    const char* file = db != nullptr ? sqlite3_db_filename(db, "main") : nullptr;
    if (file == nullptr || *file == '\0') return what;
    const std::string path = file;
    const std::string name = std::filesystem::path(path).filename().string();
    const bool named = what.find(path) != std::string::npos ||
                       (!name.empty() && what.find(name) != std::string::npos);
    if (named) return what;
    return path + ": " + what;
}

}  // namespace

std::string file_uri(const std::string& path, std::string_view params) {
    std::string uri = "file:";
    for (const char ch : std::filesystem::absolute(path).string()) {
        if (ch == '%' || ch == '?' || ch == '#') {
            uri += fmt::format("%{:02X}", static_cast<unsigned char>(ch));
        } else {
            uri += ch;
        }
    }
    if (!params.empty()) uri += "?" + std::string(params);
    return uri;
}

Error error(sqlite3* db, const std::string& action) {
    const int code = db != nullptr ? sqlite3_errcode(db) : SQLITE_ERROR;
    const char* message = db != nullptr ? sqlite3_errmsg(db) : "out of memory";
    const std::string what = in_file(db, action);
    if (code == SQLITE_NOTADB) {
        return Error(ErrorCategory::kInvalidArgument,
                     fmt::format("store: {}: not a joulebench store ({})", what, message),
                     "give the .db file written by `joulebench run`");
    }
    if (code == SQLITE_BUSY || code == SQLITE_LOCKED) {
        return Error(ErrorCategory::kIo, fmt::format("store: {}: {}", what, message),
                     "another joulebench process holds the store locked; wait for it or stop it");
    }
    if (code == SQLITE_READONLY || code == SQLITE_PERM || code == SQLITE_CANTOPEN) {
        return Error(ErrorCategory::kNoPermission, fmt::format("store: {}: {}", what, message),
                     "check that the file and its folder are writable");
    }
    return Error(ErrorCategory::kIo, fmt::format("store: {}: {}", what, message));
}

void exec(sqlite3* db, const char* sql, const std::string& what) {
    char* message = nullptr;
    if (sqlite3_exec(db, sql, nullptr, nullptr, &message) != SQLITE_OK) {
        sqlite3_free(message);
        throw error(db, what);
    }
}

Statement::Statement(sqlite3* db, std::string_view sql) : m_db(db), m_sql(sql) {
    if (sqlite3_prepare_v2(db, sql.data(), static_cast<int>(sql.size()), &m_stmt, nullptr) !=
        SQLITE_OK) {
        throw error(db, "prepare `" + m_sql.substr(0, 60) + "`");
    }
}

Statement::~Statement() {
    sqlite3_finalize(m_stmt);
}

Statement& Statement::bind(int index, std::string_view text) {
    if (sqlite3_bind_text(m_stmt, index, text.data(), static_cast<int>(text.size()),
                          SQLITE_TRANSIENT) != SQLITE_OK) {
        throw error(m_db, "bind");
    }
    return *this;
}

Statement& Statement::bind(int index, double value) {
    if (sqlite3_bind_double(m_stmt, index, value) != SQLITE_OK) throw error(m_db, "bind");
    return *this;
}

Statement& Statement::bind(int index, std::int64_t value) {
    if (sqlite3_bind_int64(m_stmt, index, value) != SQLITE_OK) throw error(m_db, "bind");
    return *this;
}

Statement& Statement::bind_blob(int index, const void* data, std::size_t size) {
    if (sqlite3_bind_blob64(m_stmt, index, data, size, SQLITE_STATIC) != SQLITE_OK)
        throw error(m_db, "bind");
    return *this;
}

Statement& Statement::bind_null(int index) {
    if (sqlite3_bind_null(m_stmt, index) != SQLITE_OK) throw error(m_db, "bind");
    return *this;
}

bool Statement::step() {
    const int rc = sqlite3_step(m_stmt);
    if (rc == SQLITE_ROW) return true;
    if (rc == SQLITE_DONE) return false;
    throw error(m_db, "run `" + m_sql.substr(0, 60) + "`");
}

void Statement::run() {
    while (step()) {
    }
}

void Statement::reset() {
    sqlite3_reset(m_stmt);
    sqlite3_clear_bindings(m_stmt);
}

bool Statement::is_null(int column) const {
    return sqlite3_column_type(m_stmt, column) == SQLITE_NULL;
}

std::string Statement::text(int column) const {
    const auto* p = sqlite3_column_text(m_stmt, column);
    if (p == nullptr) return {};
    return std::string(reinterpret_cast<const char*>(p),
                       static_cast<std::size_t>(sqlite3_column_bytes(m_stmt, column)));
}

double Statement::real(int column) const {
    return sqlite3_column_double(m_stmt, column);
}

std::int64_t Statement::integer(int column) const {
    return sqlite3_column_int64(m_stmt, column);
}

std::optional<std::string> Statement::opt_text(int column) const {
    if (is_null(column)) return std::nullopt;
    return text(column);
}

std::optional<double> Statement::opt_real(int column) const {
    if (is_null(column)) return std::nullopt;
    return real(column);
}

std::optional<std::int64_t> Statement::opt_integer(int column) const {
    if (is_null(column)) return std::nullopt;
    return integer(column);
}

const void* Statement::blob(int column) const {
    return sqlite3_column_blob(m_stmt, column);
}

std::size_t Statement::bytes(int column) const {
    return static_cast<std::size_t>(sqlite3_column_bytes(m_stmt, column));
}

Transaction::Transaction(sqlite3* db) : m_db(db) {
    exec(db, "BEGIN IMMEDIATE", "begin transaction");
}

Transaction::~Transaction() {
    if (!m_done) sqlite3_exec(m_db, "ROLLBACK", nullptr, nullptr, nullptr);
}

void Transaction::commit() {
    exec(m_db, "COMMIT", "commit");
    m_done = true;
}

}  // namespace joulebench::sqlite
