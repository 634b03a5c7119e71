// Reads named groups of values from a tidy CSV, on the project's RFC 4180 record reader
// (src/common/csv_reader.hpp), adding what a tidy table needs: a header, a fixed field count,
// numeric values, and errors that name the file and line.

#include <charconv>
#include <cmath>
#include <fstream>
#include <sstream>
#include <system_error>
#include <unordered_map>

#include "analysis/csv_groups.hpp"
#include "common/csv_reader.hpp"
#include "common/strings.hpp"
#include "joulebench/error.hpp"

namespace joulebench::analysis {

using stats::NamedGroup;

namespace {

using Record = CsvRecord;

std::size_t find_column(const Record& header, std::string_view name, const std::string& file) {
    for (std::size_t i = 0; i < header.fields.size(); ++i) {
        if (trim(header.fields[i]) == name) return i;
    }
    std::string known;
    for (const auto& f : header.fields) known += (known.empty() ? "'" : ", '") + f + "'";
    throw Error(ErrorCategory::kInvalidArgument,
                "csv: read " + file + ": no column '" + std::string(name) + "' in the header",
                "columns are: " + known);
}

}  // namespace

std::vector<NamedGroup> read_groups_csv(const std::filesystem::path& path,
                                        std::string_view group_column,
                                        std::string_view value_column) {
    const std::string file = path.string();
    std::ifstream in(path, std::ios::binary);
    if (!in) {
        std::error_code ec;
        const bool exists = std::filesystem::exists(path, ec);
        throw Error(exists ? ErrorCategory::kIo : ErrorCategory::kNotFound,
                    "csv: open " + file + ": " + (exists ? "cannot read it" : "no such file"));
    }
    std::ostringstream buffer;
    buffer << in.rdbuf();
    const std::string text = buffer.str();
    CsvReader reader(strip_bom(text), ',', file);
    Record header;
    if (!reader.next(header)) {
        throw Error(ErrorCategory::kInvalidArgument, "csv: read " + file + ": the file is empty",
                    "the first line must name the columns");
    }
    const std::size_t gcol = find_column(header, group_column, file);
    const std::size_t vcol = find_column(header, value_column, file);

    std::vector<NamedGroup> groups;
    std::unordered_map<std::string, std::size_t> index;
    Record rec;
    while (reader.next(rec)) {
        const std::string where = "csv: read " + file + " line " + std::to_string(rec.line) + ": ";
        if (rec.fields.size() != header.fields.size()) {
            throw Error(ErrorCategory::kInvalidArgument,
                        where + "expected " + std::to_string(header.fields.size()) +
                            " fields as in the header, found " + std::to_string(rec.fields.size()));
        }
        const std::string name = trim(rec.fields[gcol]);
        const std::string value_text = trim(rec.fields[vcol]);
        if (name.empty()) {
            throw Error(ErrorCategory::kInvalidArgument,
                        where + "empty group name in column '" + std::string(group_column) + "'");
        }
        double value = 0.0;
        const char* begin = value_text.data();
        const char* end = value_text.data() + value_text.size();
        if (!value_text.empty() && *begin == '+') ++begin;  // from_chars rejects a leading '+'
        const auto [ptr, ec] = std::from_chars(begin, end, value);
        if (value_text.empty() || ec != std::errc() || ptr != end) {
            throw Error(ErrorCategory::kInvalidArgument,
                        where + "value '" + value_text + "' in column '" +
                            std::string(value_column) + "' is not a number");
        }
        if (!std::isfinite(value)) {
            throw Error(ErrorCategory::kInvalidArgument,
                        where + "value '" + value_text + "' in column '" +
                            std::string(value_column) + "' is not finite");
        }
        const auto [it, inserted] = index.try_emplace(name, groups.size());
        if (inserted) groups.push_back(NamedGroup{name, {}});
        groups[it->second].values.push_back(value);
    }
    if (groups.empty()) {
        throw Error(ErrorCategory::kInvalidArgument, "csv: read " + file + ": no data rows",
                    "the file has a header but no values");
    }
    return groups;
}

}  // namespace joulebench::analysis
