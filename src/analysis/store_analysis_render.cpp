// `analyze DB --format text|md|tex|csv`: the blocks' tables (stats::render), the cap tables and
// the warnings.

#include <fmt/core.h>

#include <algorithm>
#include <cmath>

#include "analysis/store_analysis.hpp"
#include "common/text_escape.hpp"
#include "joulebench/units.hpp"

namespace joulebench::analysis {

using stats::TableFormat;

namespace {

// The cap tables in the four formats. render.cpp's table writers are private to it (and owned
// with the CSV mode); these few lines follow the same layout for the tables only this mode has.
struct CapTableText {
    std::string title;
    std::vector<std::string> headers;
    std::vector<std::vector<std::string>> rows;
};

std::string num(double v) {
    if (!std::isfinite(v)) return "n/a";
    return fmt::format("{:.6g}", v);
}

std::string pct(double v) {
    if (!std::isfinite(v)) return "n/a";
    return fmt::format("{:+.2f}", v);
}

std::vector<CapTableText> cap_tables(const StoreCapTable& t) {
    std::string ctx = t.domain == "gpu" ? "GPU caps" : "CPU caps";
    if (t.other_varies) {
        ctx +=
            fmt::format(", {} cap {}", t.domain == "gpu" ? "CPU" : "GPU", cap_label(t.other_cap_w));
    }
    std::vector<CapTableText> out;
    CapTableText opt{"Caps minimising E, EDP and ED2P (" + ctx + "; medians over runs)",
                     {"environment", "workload", "cap min E (W)", "E (J)", "cap min EDP (W)",
                      "EDP (J s)", "cap min ED2P (W)", "ED2P (J s2)"},
                     {}};
    for (const auto& o : t.caps.optima) {
        opt.rows.push_back({o.environment, o.workload, num(o.cap_min_energy_w), num(o.min_energy_j),
                            num(o.cap_min_edp_w), num(o.min_edp_js), num(o.cap_min_ed2p_w),
                            num(o.min_ed2p_js2)});
    }
    out.push_back(std::move(opt));
    if (t.baseline.empty()) return out;
    CapTableText per{"Overheads against '" + t.baseline + "' per cap (" + ctx + "; % of medians)",
                     {"environment", "workload", "cap (W)", "T %", "E %", "EDP %"},
                     {}};
    for (const auto& o : t.caps.overheads) {
        per.rows.push_back({o.environment, o.workload, num(o.cap_w), pct(o.time_pct),
                            pct(o.energy_pct), pct(o.edp_pct)});
    }
    out.push_back(std::move(per));
    CapTableText sum{"Overheads against '" + t.baseline + "' over caps (" + ctx + "; %)",
                     {"environment", "workload", "caps", "T avg", "T max", "E avg", "E max",
                      "EDP avg", "EDP max"},
                     {}};
    for (const auto& s : t.caps.summary) {
        sum.rows.push_back({s.environment, s.workload, std::to_string(s.caps), pct(s.time_avg_pct),
                            pct(s.time_max_pct), pct(s.energy_avg_pct), pct(s.energy_max_pct),
                            pct(s.edp_avg_pct), pct(s.edp_max_pct)});
    }
    out.push_back(std::move(sum));
    return out;
}

std::string render_table(const CapTableText& t, TableFormat format, const std::string& csv_name) {
    std::string s;
    switch (format) {
        case TableFormat::kText: {
            std::vector<std::size_t> w(t.headers.size());
            for (std::size_t c = 0; c < t.headers.size(); ++c) {
                w[c] = t.headers[c].size();
                for (const auto& r : t.rows) w[c] = std::max(w[c], r[c].size());
            }
            s += t.title + "\n";
            const auto line = [&](const std::vector<std::string>& cells) {
                std::string l;
                for (std::size_t c = 0; c < cells.size(); ++c) {
                    l += (c == 0 ? "" : "  ") + cells[c] + std::string(w[c] - cells[c].size(), ' ');
                }
                while (!l.empty() && l.back() == ' ') l.pop_back();
                return l + "\n";
            };
            s += line(t.headers);
            std::vector<std::string> rule;
            for (auto n : w) rule.emplace_back(n, '-');
            s += line(rule);
            for (const auto& r : t.rows) s += line(r);
            break;
        }
        case TableFormat::kMarkdown: {
            s += "**" + md_escape(t.title) + "**\n\n|";
            for (const auto& h : t.headers) s += " " + md_escape(h) + " |";
            s += "\n|";
            for (std::size_t c = 0; c < t.headers.size(); ++c) s += "---|";
            s += "\n";
            for (const auto& r : t.rows) {
                s += "|";
                for (const auto& cell : r) s += " " + md_escape(cell) + " |";
                s += "\n";
            }
            break;
        }
        case TableFormat::kLatex: {
            s += "% " + t.title + "\n\\begin{tabular}{" + std::string(t.headers.size(), 'l') +
                 "}\n\\toprule\n";
            const auto row = [&](const std::vector<std::string>& cells) {
                std::string l;
                for (std::size_t c = 0; c < cells.size(); ++c) {
                    l += (c == 0 ? "" : " & ") + tex_escape(cells[c]);
                }
                return l + " \\\\\n";
            };
            s += row(t.headers) + "\\midrule\n";
            for (const auto& r : t.rows) s += row(r);
            s += "\\bottomrule\n\\end{tabular}\n";
            break;
        }
        case TableFormat::kCsv: {
            s += "table";
            for (const auto& h : t.headers) s += "," + csv_field(h);
            s += "\n";
            for (const auto& r : t.rows) {
                s += csv_field(csv_name);
                for (const auto& cell : r) s += "," + csv_field(cell);
                s += "\n";
            }
            break;
        }
    }
    return s;
}

std::string heading(const std::string& text, TableFormat format) {
    switch (format) {
        case TableFormat::kText:
            return "== " + text + " ==\n\n";
        case TableFormat::kMarkdown:
            return "### " + md_escape(text) + "\n\n";
        case TableFormat::kLatex:
            return "% === " + text + "\n";
        case TableFormat::kCsv:
            return {};
    }
    return {};
}

}  // namespace

std::string render(const StoreAnalysis& a, TableFormat format) {
    std::string s;
    const std::string by = std::string(to_string(a.by));
    const std::string intro = fmt::format(
        "{} by {} in {} ({}{}): {} done runs used of {}; one analysis block per {}", a.metric, by,
        a.db.empty() ? "(runs)" : a.db, a.experiment.empty() ? "no experiment" : a.experiment,
        a.baseline ? ", baseline '" + *a.baseline + "'" : "", a.runs.used, a.runs.status.total(),
        a.by == StoreFactor::kEnvironment ? "workload and power cap"
                                          : "combination of the other factors");
    if (format == TableFormat::kText) s += intro + "\n\n";
    if (format == TableFormat::kMarkdown) s += md_escape(intro) + "\n\n";
    if (format == TableFormat::kLatex) s += "% " + intro + "\n";
    bool first = true;
    for (const auto& b : a.blocks) {
        if (!first) s += "\n";
        first = false;
        const std::string title = "Block: " + b.title;
        s += heading(title, format);
        if (format == TableFormat::kCsv) {
            // A one-row table naming the block, so every CSV block can be traced to it.
            s += "table,workload,environment,power_cap_w,cpu_power_cap_w\nblock," +
                 csv_field(b.workload.value_or("")) + "," + csv_field(b.environment.value_or("")) +
                 "," + (b.gpu_cap_w ? format_watts(*b.gpu_cap_w) : "") + "," +
                 (b.cpu_cap_w ? format_watts(*b.cpu_cap_w) : "") + "\n\n";
        }
        s += render(b.analysis, format);
    }
    for (const auto& c : a.caps) {
        for (const auto& t : cap_tables(c)) {
            s += "\n" + render_table(t, format, "caps_" + c.domain);
        }
    }
    if (!a.warnings.empty()) {
        if (format == TableFormat::kText) {
            s += "\nWarnings (store):\n";
            for (const auto& w : a.warnings) s += "- " + w + "\n";
        } else if (format == TableFormat::kMarkdown) {
            s += "\n**Warnings (store)**\n\n";
            for (const auto& w : a.warnings) s += "- " + md_escape(w) + "\n";
        } else if (format == TableFormat::kLatex) {
            for (const auto& w : a.warnings) s += "% warning: " + w + "\n";
        }
    }
    return s;
}

}  // namespace joulebench::analysis
