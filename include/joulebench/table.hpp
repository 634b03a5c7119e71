#pragma once
/// One model for every table joulebench prints (`analyze`, `analyze DB`'s cap tables, `report
/// --format md|tex`, `sweep`): a title, headers, rows of text cells already formatted, an
/// alignment per column and an optional note, written by one renderer per format. Where two
/// documents write tables differently, the difference is a property of the table (its alignment,
/// its CSV name) or of the document's TableStyle, never a writer of its own. The conventions are
/// documented in docs/statistics.md ("Table formats").

#include <string>
#include <string_view>
#include <vector>

namespace joulebench {

/// The formats a table is written in.
enum class TableFormat { kText, kMarkdown, kLatex, kCsv };

/// How the cells of a column are placed: padding in text, `:---`/`---:` in Markdown, the column
/// type in LaTeX (CSV has no alignment).
enum class Align {
    /// The first column left (names); any other right when every cell reads as a number
    /// (number_like), else left.
    kAuto,
    kLeft,
    kRight,
    /// Left, and in LaTeX a paragraph column `p{0.6\linewidth}` that wraps long text.
    kWrap,
};

// Every member has a default initializer, so that a table can be written with designated
// initializers naming only what it has (Table{.title = ..., .headers = ...}).
struct Table {
    std::string title{};  ///< "" for none
    std::vector<std::string> headers{};
    std::vector<std::vector<std::string>> rows{};  ///< each with as many cells as headers
    std::vector<Align> align{};  ///< per column; columns beyond its end are Align::kAuto
    std::string note{};          ///< a sentence written under the table ("" for none)
    /// The value of the first CSV column (`table`) on every row; "" for the title.
    std::string csv_name{};
};

/// How a Markdown document writes table titles: as `### title` headings (tables that stand
/// alone) or as `**title**` captions (tables under a heading of the document).
enum class MarkdownTitle { kHeading, kBold };

/// What differs between the documents that hold tables (only Markdown titles, so far).
struct TableStyle {
    MarkdownTitle markdown_title = MarkdownTitle::kHeading;
};

/// True for the text of a number cell: "", "n/a", "inf", or text that starts with a digit, '+',
/// '-' or '.' and holds no space, or an interval "[lo, hi]".
[[nodiscard]] bool number_like(std::string_view cell);

/// The alignment of each column of `table` with kAuto resolved (kLeft, kRight or kWrap).
[[nodiscard]] std::vector<Align> column_alignment(const Table& table);

/// The table in `format`, ending with a line break:
/// - text: the title line, the headers, a rule of '-', the rows, cells padded to the widest of
///   their column (in code points) and two spaces apart, no trailing spaces; then the note.
/// - Markdown: the title (style), a GitHub table with an alignment row, cells md_escape'd; then
///   the note as a paragraph.
/// - LaTeX: the title as a `%` comment, a booktabs `tabular` (\toprule, \midrule, \bottomrule),
///   cells escaped (tex_escape, plus `<` `>` as \textless{} \textgreater{}, line breaks as
///   spaces); then the note as a `%` comment.
/// - CSV: a header row `table,HEADERS...`, then every row led by csv_name (or the title),
///   RFC 4180 quoting; no note (CSV has no place for one).
/// A table without rows writes "(none)" where the rows would be (text, Markdown, a `% (none)`
/// comment in LaTeX) and only its header row in CSV. Throws Error (kInternal) for a table
/// without headers or with a row whose number of cells differs from the headers'.
[[nodiscard]] std::string render_table(const Table& table, TableFormat format,
                                       const TableStyle& style = {});

/// A heading of a document that holds tables, ending with a blank line where the format has
/// one: text `== TEXT ==`, Markdown `#` x level, LaTeX a comment `% ` + `=` x level, CSV
/// nothing. Throws Error (kInternal) for a level outside 1..6.
[[nodiscard]] std::string render_heading(std::string_view text, int level, TableFormat format);

/// A paragraph of prose between tables, ending with a blank line where the format has one: text
/// as is, Markdown md_escape'd, LaTeX a `%` comment (line breaks made spaces), CSV nothing.
[[nodiscard]] std::string render_paragraph(std::string_view text, TableFormat format);

/// A number for a cell: "n/a" when NaN, "inf" or "-inf", else 6 significant digits ("{:.6g}").
[[nodiscard]] std::string number_cell(double value);

/// A signed percentage for a cell: "+2.35" (two decimals), "n/a" when not finite.
[[nodiscard]] std::string percent_cell(double value);

}  // namespace joulebench
