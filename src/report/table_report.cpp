// `joulebench report --format md|tex`: the report's tables for a README or a paper. The statistics
// tables are stats::render's (the same as `analyze DB --format md|tex`); the context, best-cap,
// overhead and warning tables are the model's Table values written out here.

#include <fmt/core.h>

#include <cctype>

#include "common/text_escape.hpp"
#include "joulebench/error.hpp"
#include "report/report_data.hpp"

namespace joulebench::report {

namespace {

// LaTeX text mode: the ten special characters (joulebench::tex_escape, as `analyze` writes
// them), plus < and > (which OT1 fonts print as other glyphs) and line breaks.
std::string tex_escape(const std::string& s) {
    std::string o;
    for (const char c : joulebench::tex_escape(s)) {
        switch (c) {
            case '<':
                o += "\\textless{}";
                break;
            case '>':
                o += "\\textgreater{}";
                break;
            case '\n':
            case '\r':
                o += ' ';
                break;
            default:
                o += c;
        }
    }
    return o;
}

// A comment line in LaTeX: the text may hold anything but a line break.
std::string tex_comment(const std::string& s) {
    std::string o = "% ";
    for (const char c : s) o += (c == '\n' || c == '\r') ? ' ' : c;
    return o + "\n";
}

// A column is right-aligned when every cell is a number, a signed percentage, an interval or n/a.
bool numeric_column(const Table& t, std::size_t c) {
    for (const auto& r : t.rows) {
        const std::string& v = r[c];
        if (v.empty() || v == "n/a") continue;
        const char f = v.front();
        if (!(std::isdigit(static_cast<unsigned char>(f)) || f == '+' || f == '-' || f == '[')) {
            return false;
        }
        if (v.find(' ') != std::string::npos && f != '[') return false;
    }
    return true;
}

std::string md_table(const Table& t) {
    std::string s = t.title.empty() ? std::string() : "**" + md_escape(t.title) + "**\n\n";
    if (t.rows.empty()) {
        s += "(none)\n";
    } else {
        s += "|";
        for (const auto& h : t.headers) s += " " + md_escape(h) + " |";
        s += "\n|";
        for (std::size_t c = 0; c < t.headers.size(); ++c) {
            s += c > 0 && numeric_column(t, c) ? " ---: |" : " :--- |";
        }
        s += "\n";
        for (const auto& r : t.rows) {
            s += "|";
            for (const auto& cell : r) s += " " + md_escape(cell) + " |";
            s += "\n";
        }
    }
    if (!t.note.empty()) s += "\n" + md_escape(t.note) + "\n";
    return s + "\n";
}

std::string tex_table(const Table& t, bool wide_last = false) {
    std::string s = t.title.empty() ? std::string() : tex_comment(t.title);
    if (t.rows.empty()) {
        s += tex_comment("(none)");
    } else {
        std::string cols = "l";
        for (std::size_t c = 1; c < t.headers.size(); ++c) {
            if (wide_last && c + 1 == t.headers.size()) {
                cols += "p{0.6\\linewidth}";
            } else {
                cols += numeric_column(t, c) ? "r" : "l";
            }
        }
        s += "\\begin{tabular}{" + cols + "}\n\\toprule\n";
        const auto line = [](const std::vector<std::string>& cells) {
            std::string l;
            for (std::size_t c = 0; c < cells.size(); ++c) {
                l += (c == 0 ? "" : " & ") + tex_escape(cells[c]);
            }
            return l + " \\\\\n";
        };
        s += line(t.headers) + "\\midrule\n";
        for (const auto& r : t.rows) s += line(r);
        s += "\\bottomrule\n\\end{tabular}\n";
    }
    if (!t.note.empty()) s += tex_comment(t.note);
    return s + "\n";
}

std::string heading(const std::string& text, int level, stats::TableFormat f) {
    if (f == stats::TableFormat::kMarkdown) {
        return std::string(static_cast<std::size_t>(level), '#') + " " + md_escape(text) + "\n\n";
    }
    return tex_comment(std::string(static_cast<std::size_t>(level), '=') + " " + text);
}

Table warnings_table(const ReportModel& m) {
    // The heading names it already.
    Table t{.headers = {"source", "count", "warning"}};
    for (const auto& w : m.warnings) t.rows.push_back({w.source, std::to_string(w.count), w.text});
    return t;
}

}  // namespace

std::string render_tables(const ReportModel& m, stats::TableFormat f) {
    if (f != stats::TableFormat::kMarkdown && f != stats::TableFormat::kLatex) {
        throw Error(ErrorCategory::kInvalidArgument,
                    "report: write tables: only md and tex are table formats",
                    "use --format html, md or tex");
    }
    const bool md = f == stats::TableFormat::kMarkdown;
    const auto table = [&](const Table& t, bool wide_last = false) {
        return md ? md_table(t) : tex_table(t, wide_last);
    };
    std::string s;
    const std::string title =
        "joulebench report: " + (m.experiment.name.empty() ? m.db : m.experiment.name);
    s += heading(title, 1, f);
    const std::string intro = fmt::format(
        "Store {}, generated {} by joulebench {}. Medians over done runs with bootstrap 95% "
        "intervals; overheads in % of the baseline's median{}.",
        m.db, m.generated_at, m.joulebench_version,
        m.baseline ? " ('" + *m.baseline + "')" : " (no baseline)");
    s += md ? md_escape(intro) + "\n\n" : tex_comment(intro);

    s += heading("Methodology warnings", 2, f);
    if (m.warnings.empty()) {
        s += md ? "None.\n\n" : tex_comment("none");
    } else {
        s += table(warnings_table(m), true);
    }

    for (const auto& w : m.workloads) {
        s += heading("Workload '" + w.name + "'", 2, f);
        s += table(w.best_caps);
        s += table(w.overhead_summary);
        for (const auto& b : w.statistics) {
            s += heading("Statistics, " + b.title + ": " + metric_name(b.metric), 3, f);
            s += stats::render(b.analysis, f);
            if (!b.verdicts.empty()) {
                if (md) {
                    s += "\n**Verdicts**\n\n";
                    for (const auto& v : b.verdicts) s += "- " + md_escape(v) + "\n";
                } else {
                    for (const auto& v : b.verdicts) s += tex_comment("verdict: " + v);
                }
            }
            s += "\n";
        }
    }

    s += heading("Context", 2, f);
    for (const auto& t : m.context) s += table(t, t.headers.size() == 4);
    s += table(m.idle_baselines);
    return s;
}

}  // namespace joulebench::report
