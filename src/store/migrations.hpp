#pragma once
// The store's numbered migrations: entry i takes the schema from version i to i + 1, in one
// transaction with the version change. Never edit one that has shipped; add a new one.

#include <sqlite3.h>

#include <vector>

namespace joulebench::store_detail {

struct Migration {
    const char* sql;  ///< the schema change
    /// The data change after `sql` (reading what older versions kept only as text), or null.
    /// Throws Error.
    void (*upgrade)(sqlite3* db) = nullptr;
};

[[nodiscard]] const std::vector<Migration>& migrations();

}  // namespace joulebench::store_detail
