#pragma once
// A table of a store read as stored, for readers of a table this version does not model (the
// Python package's open_store reads `phases` so, docs/python.md).

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "joulebench/store.hpp"

namespace joulebench {

struct StoreTable {
    /// NULL, an integer, a real or text (a blob is read as its bytes in a string).
    using Cell = std::variant<std::monostate, std::int64_t, double, std::string>;
    std::vector<std::string> columns;
    std::vector<std::vector<Cell>> rows;  ///< in rowid order
};

/// The table `name` of `store` (every column, rows in rowid order), or nullopt when the store
/// has no table of that name. Throws Error (kIo) when SQLite fails. Not for a Store other threads
/// write through at the same time.
[[nodiscard]] std::optional<StoreTable> read_store_table(const Store& store, std::string_view name);

}  // namespace joulebench
