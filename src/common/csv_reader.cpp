#include "common/csv_reader.hpp"

#include <fmt/core.h>

#include "joulebench/error.hpp"

namespace joulebench {

std::string_view strip_bom(std::string_view text) {
    constexpr std::string_view kBom = "\xEF\xBB\xBF";
    if (text.substr(0, kBom.size()) == kBom) text.remove_prefix(kBom.size());
    return text;
}

CsvReader::CsvReader(std::string_view text, char separator, std::string source)
    : m_text(text), m_separator(separator), m_source(std::move(source)) {}

bool CsvReader::next(CsvRecord& record) {
    // Skip blank lines (empty or only a carriage return) between records.
    while (m_pos < m_text.size()) {
        if (m_text[m_pos] == '\n') {
            ++m_pos;
            ++m_line;
        } else if (m_text[m_pos] == '\r' &&
                   (m_pos + 1 == m_text.size() || m_text[m_pos + 1] == '\n')) {
            ++m_pos;
        } else {
            break;
        }
    }
    if (m_pos >= m_text.size()) return false;

    record.line = m_line;
    record.terminated = false;
    // Fields are written into the record's existing strings so that reading many records with
    // one CsvRecord allocates only for the first (the import reads millions of fields).
    std::size_t count = 0;
    auto next_field = [&record, &count]() -> std::string& {
        if (count == record.fields.size()) {
            record.fields.emplace_back();
        } else {
            record.fields[count].clear();
        }
        return record.fields[count++];
    };
    std::string* field = &next_field();
    bool in_quotes = false;
    bool was_quoted = false;
    while (m_pos < m_text.size()) {
        const char c = m_text[m_pos];
        if (in_quotes) {
            if (c == '"') {
                if (m_pos + 1 < m_text.size() && m_text[m_pos + 1] == '"') {
                    field->push_back('"');
                    m_pos += 2;
                    continue;
                }
                in_quotes = false;
                ++m_pos;
                continue;
            }
            if (c == '\n') ++m_line;
            field->push_back(c);
            ++m_pos;
            continue;
        }
        if (c == '"' && field->empty() && !was_quoted) {
            in_quotes = true;
            was_quoted = true;
            ++m_pos;
            continue;
        }
        if (c == m_separator) {
            field = &next_field();
            was_quoted = false;
            ++m_pos;
            continue;
        }
        if (c == '\n' || (c == '\r' && m_pos + 1 < m_text.size() && m_text[m_pos + 1] == '\n')) {
            m_pos += (c == '\r') ? 2 : 1;
            ++m_line;
            record.terminated = true;
            break;
        }
        if (c == '\r' && m_pos + 1 == m_text.size()) {  // lone CR at the very end
            ++m_pos;
            record.terminated = true;
            break;
        }
        if (was_quoted) {
            throw Error(ErrorCategory::kInvalidArgument,
                        fmt::format("csv: read {} line {}: text after the closing quote of field {}",
                                    m_source, m_line, count));
        }
        field->push_back(c);
        ++m_pos;
    }
    if (in_quotes) {
        throw Error(ErrorCategory::kInvalidArgument,
                    fmt::format("csv: read {} line {}: quoted field {} is never closed", m_source,
                                record.line, count),
                    "a quote (\") opens a field that must end with another quote");
    }
    record.fields.resize(count);
    return true;
}

}  // namespace joulebench
