#pragma once
// A small RFC 4180 CSV record reader, written here because Debian 12 packages no C++ CSV library
// (and the project takes dependencies from Debian only). It handles what EnergiBridge and
// spreadsheet round-trips produce: a configurable separator, quoted fields with "" escapes and
// separators or line breaks inside quotes, LF and CRLF line endings, a UTF-8 byte-order mark,
// and a last record without a line break.

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace joulebench {

/// One CSV record: its fields and where it was in the file.
struct CsvRecord {
    std::vector<std::string> fields;
    std::size_t line = 0;           ///< 1-based line number where the record starts.
    bool terminated = true;         ///< False when the file ended without a line break after it.
};

/// Reads records one by one from a text held in memory (the text must outlive the reader).
class CsvReader {
public:
    /// `source` names the text in error messages (usually the file path).
    CsvReader(std::string_view text, char separator, std::string source);

    /// Reads the next record into `record`; false at end of text. Blank lines are skipped.
    /// Throws joulebench::Error (invalid argument) on an unterminated quoted field or text after a
    /// closing quote, naming source and line.
    bool next(CsvRecord& record);

private:
    std::string_view m_text;
    char m_separator;
    std::string m_source;
    std::size_t m_pos = 0;
    std::size_t m_line = 1;
};

/// The text without a leading UTF-8 byte-order mark.
[[nodiscard]] std::string_view strip_bom(std::string_view text);

}  // namespace joulebench
