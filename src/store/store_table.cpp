#include "store/store_table.hpp"

#include <sqlite3.h>

#include "store/sqlite.hpp"

namespace joulebench {

std::optional<StoreTable> read_store_table(const Store& store, std::string_view name) {
    sqlite3* db = store.handle();
    sqlite::Statement exists(db, "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?");
    exists.bind(1, name);
    if (!exists.step()) return std::nullopt;
    // The name is one of the file's own tables (checked above), quoted as an identifier.
    std::string quoted = "\"";
    for (const char c : name) quoted += c == '"' ? std::string("\"\"") : std::string(1, c);
    quoted += '"';
    sqlite::Statement select(db, "SELECT * FROM " + quoted + " ORDER BY rowid");
    StoreTable table;
    const int n = sqlite3_column_count(select.raw());
    for (int i = 0; i < n; ++i) table.columns.emplace_back(sqlite3_column_name(select.raw(), i));
    while (select.step()) {
        auto& row = table.rows.emplace_back();
        for (int i = 0; i < n; ++i) {
            switch (sqlite3_column_type(select.raw(), i)) {
                case SQLITE_NULL: row.emplace_back(std::monostate{}); break;
                case SQLITE_INTEGER: row.emplace_back(select.integer(i)); break;
                case SQLITE_FLOAT: row.emplace_back(select.real(i)); break;
                case SQLITE_BLOB:
                    row.emplace_back(std::string(static_cast<const char*>(select.blob(i)), select.bytes(i)));
                    break;
                default: row.emplace_back(select.text(i)); break;
            }
        }
    }
    return table;
}

}  // namespace joulebench
