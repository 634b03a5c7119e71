#pragma once
// Escaping of cell text for the table formats joulebench writes (CSV, Markdown, LaTeX), shared
// by `analyze`, the cap tables, `export` and `report` so that they quote alike.

#include <string>

namespace joulebench {

/// A CSV field (RFC 4180): unchanged unless it holds a comma, quote or line break; then
/// quoted, with quotes doubled.
[[nodiscard]] std::string csv_field(const std::string& s);

/// Markdown text inside a table cell, a heading or a list item: the characters that would start
/// markup or end the cell (\ | * _ ` [ ] < > #) backslash-escaped, line breaks made spaces.
[[nodiscard]] std::string md_escape(const std::string& s);

/// LaTeX text mode: the ten special characters (\ & % $ # _ { } ~ ^) made literal.
[[nodiscard]] std::string tex_escape(const std::string& s);

}  // namespace joulebench
