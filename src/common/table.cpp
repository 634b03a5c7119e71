// The one table model's renderers (joulebench/table.hpp): text, Markdown, LaTeX booktabs, CSV.
// A pure serialiser: cells arrive formatted; only padding, escaping and layout happen here.

#include "joulebench/table.hpp"

#include <fmt/core.h>

#include <algorithm>
#include <cctype>
#include <cmath>

#include "common/text_escape.hpp"
#include "joulebench/error.hpp"

namespace joulebench {

namespace {

constexpr int kMaxHeadingLevel = 6;

void check(const Table& t) {
    if (t.headers.empty()) {
        throw Error(ErrorCategory::kInternal,
                    "table: write table '" + t.title + "': the table has no columns");
    }
    for (const auto& row : t.rows) {
        if (row.size() != t.headers.size()) {
            throw Error(ErrorCategory::kInternal,
                        fmt::format("table: write table '{}': a row has {} cells for {} columns",
                                    t.title, row.size(), t.headers.size()));
        }
    }
}

// Text is padded by code points, not bytes, so that "°C" or "µs" take one column each.
std::size_t width(std::string_view s) {
    return static_cast<std::size_t>(std::count_if(s.begin(), s.end(), [](char c) {
        return (static_cast<unsigned char>(c) & 0xC0U) != 0x80U;
    }));
}

std::string one_line(std::string_view s) {
    std::string o(s);
    std::replace_if(
        o.begin(), o.end(), [](char c) { return c == '\n' || c == '\r'; }, ' ');
    return o;
}

// A comment holds anything but a line break, so nothing in it needs escaping.
std::string tex_comment(std::string_view s) {
    return "% " + one_line(s) + "\n";
}

// LaTeX text mode: the ten special characters, plus < and > (which OT1 fonts print as other
// glyphs) and line breaks (which would end the row).
std::string tex_cell(const std::string& s) {
    std::string o;
    for (const char c : tex_escape(one_line(s))) {
        if (c == '<') {
            o += "\\textless{}";
        } else if (c == '>') {
            o += "\\textgreater{}";
        } else {
            o += c;
        }
    }
    return o;
}

std::string text_table(const Table& t, const std::vector<Align>& align) {
    std::string s = t.title.empty() ? std::string() : t.title + "\n";
    if (t.rows.empty()) return s + "(none)\n";
    std::vector<std::size_t> w(t.headers.size());
    for (std::size_t c = 0; c < w.size(); ++c) {
        w[c] = width(t.headers[c]);
        for (const auto& r : t.rows) w[c] = std::max(w[c], width(r[c]));
    }
    const auto line = [&](const std::vector<std::string>& cells) {
        std::string l;
        for (std::size_t c = 0; c < cells.size(); ++c) {
            const std::string pad(w[c] - width(cells[c]), ' ');
            if (c > 0) l += "  ";
            l += align[c] == Align::kRight ? pad + cells[c] : cells[c] + pad;
        }
        while (!l.empty() && l.back() == ' ') l.pop_back();
        return l + "\n";
    };
    s += line(t.headers);
    std::size_t total = 0;
    for (std::size_t c = 0; c < w.size(); ++c) total += w[c] + (c == 0 ? 0 : 2);
    s += std::string(total, '-') + "\n";
    for (const auto& r : t.rows) s += line(r);
    return s;
}

std::string md_table(const Table& t, const std::vector<Align>& align, const TableStyle& style) {
    std::string s;
    if (!t.title.empty()) {
        s += style.markdown_title == MarkdownTitle::kHeading ? "### " + md_escape(t.title)
                                                             : "**" + md_escape(t.title) + "**";
        s += "\n\n";
    }
    if (t.rows.empty()) return s + "(none)\n";
    const auto line = [](const std::vector<std::string>& cells) {
        std::string l = "|";
        for (const auto& cell : cells) l += " " + md_escape(cell) + " |";
        return l + "\n";
    };
    s += line(t.headers) + "|";
    for (const Align a : align) s += a == Align::kRight ? " ---: |" : " :--- |";
    s += "\n";
    for (const auto& r : t.rows) s += line(r);
    return s;
}

std::string tex_table(const Table& t, const std::vector<Align>& align) {
    std::string s = t.title.empty() ? std::string() : tex_comment(t.title);
    if (t.rows.empty()) return s + tex_comment("(none)");
    std::string spec;
    for (const Align a : align) {
        spec += a == Align::kRight ? "r" : (a == Align::kWrap ? "p{0.6\\linewidth}" : "l");
    }
    const auto line = [](const std::vector<std::string>& cells) {
        std::string l;
        for (std::size_t c = 0; c < cells.size(); ++c) l += (c ? " & " : "") + tex_cell(cells[c]);
        return l + " \\\\\n";
    };
    s += "\\begin{tabular}{" + spec + "}\n\\toprule\n" + line(t.headers) + "\\midrule\n";
    for (const auto& r : t.rows) s += line(r);
    return s + "\\bottomrule\n\\end{tabular}\n";
}

std::string csv_table(const Table& t) {
    // One block per table; the first column names the table on every row, so that blocks
    // concatenated in one file can be told apart.
    const std::string name = csv_field(t.csv_name.empty() ? t.title : t.csv_name);
    std::string s = "table";
    for (const auto& h : t.headers) s += "," + csv_field(h);
    s += "\n";
    for (const auto& r : t.rows) {
        s += name;
        for (const auto& cell : r) s += "," + csv_field(cell);
        s += "\n";
    }
    return s;
}

}  // namespace

bool number_like(std::string_view cell) {
    if (cell.empty() || cell == "n/a" || cell == "inf") return true;
    const char f = cell.front();
    if (f == '[') return true;
    if (!(std::isdigit(static_cast<unsigned char>(f)) || f == '+' || f == '-' || f == '.')) {
        return false;
    }
    return cell.find(' ') == std::string_view::npos;
}

std::vector<Align> column_alignment(const Table& t) {
    std::vector<Align> out(t.headers.size(), Align::kAuto);
    for (std::size_t c = 0; c < out.size() && c < t.align.size(); ++c) out[c] = t.align[c];
    for (std::size_t c = 0; c < out.size(); ++c) {
        if (out[c] != Align::kAuto) continue;
        const bool numbers = c > 0 && std::all_of(t.rows.begin(), t.rows.end(), [&](const auto& r) {
                                 return c >= r.size() || number_like(r[c]);
                             });
        out[c] = numbers ? Align::kRight : Align::kLeft;
    }
    return out;
}

std::string render_table(const Table& table, TableFormat format, const TableStyle& style) {
    check(table);
    const std::vector<Align> align = column_alignment(table);
    switch (format) {
        case TableFormat::kText:
            return text_table(table, align) + (table.note.empty() ? "" : table.note + "\n");
        case TableFormat::kMarkdown:
            return md_table(table, align, style) +
                   (table.note.empty() ? "" : "\n" + md_escape(table.note) + "\n");
        case TableFormat::kLatex:
            return tex_table(table, align) + (table.note.empty() ? "" : tex_comment(table.note));
        case TableFormat::kCsv:
            return csv_table(table);
    }
    return {};
}

std::string render_heading(std::string_view text, int level, TableFormat format) {
    if (level < 1 || level > kMaxHeadingLevel) {
        throw Error(ErrorCategory::kInternal,
                    fmt::format("table: write heading '{}': level {} is not 1 to 6", text, level));
    }
    const auto n = static_cast<std::size_t>(level);
    switch (format) {
        case TableFormat::kText:
            return "== " + std::string(text) + " ==\n\n";
        case TableFormat::kMarkdown:
            return std::string(n, '#') + " " + md_escape(std::string(text)) + "\n\n";
        case TableFormat::kLatex:
            return tex_comment(std::string(n, '=') + " " + std::string(text));
        case TableFormat::kCsv:
            return {};
    }
    return {};
}

std::string render_paragraph(std::string_view text, TableFormat format) {
    switch (format) {
        case TableFormat::kText:
            return std::string(text) + "\n\n";
        case TableFormat::kMarkdown:
            return md_escape(std::string(text)) + "\n\n";
        case TableFormat::kLatex:
            return tex_comment(text);
        case TableFormat::kCsv:
            return {};
    }
    return {};
}

std::string number_cell(double value) {
    if (std::isnan(value)) return "n/a";
    if (std::isinf(value)) return value > 0 ? "inf" : "-inf";
    return fmt::format("{:.6g}", value);
}

std::string percent_cell(double value) {
    if (!std::isfinite(value)) return "n/a";
    return fmt::format("{:+.2f}", value);
}

}  // namespace joulebench
