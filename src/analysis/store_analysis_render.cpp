// `analyze DB --format text|md|tex|csv`: the blocks' tables (stats::tables), the cap tables and
// the warnings, all written by the one table model (joulebench/table.hpp).

#include <fmt/core.h>

#include "analysis/store_analysis.hpp"
#include "common/text_escape.hpp"
#include "joulebench/units.hpp"

namespace joulebench::analysis {

namespace {

// Block tables stand under the block's heading, so their Markdown titles are captions.
constexpr TableStyle kBlockStyle{MarkdownTitle::kBold};

std::string flag(bool on) {
    return on ? "true" : "false";
}

// A one-row table naming the block, so that every CSV block can be traced to it, with the CPU
// marks of its runs' energy.
Table block_key_table(const StoreBlock& b) {
    return Table{.title = "block",
                 .headers = {"workload", "environment", "power_cap_w", "cpu_power_cap_w",
                             "cpu_estimated", "cpu_attributed", "cpu_shared"},
                 .rows = {{b.workload.value_or(""), b.environment.value_or(""),
                           b.gpu_cap_w ? format_watts(*b.gpu_cap_w) : "",
                           b.cpu_cap_w ? format_watts(*b.cpu_cap_w) : "", flag(b.cpu.estimated),
                           flag(b.cpu.attributed), flag(b.cpu.shared)}}};
}

// Whether a metric is an energy with a CPU part (GPU energy has none, T is no energy).
bool has_cpu_energy(const std::string& metric) {
    return metric != "wall_s" && metric != "gpu_energy_j";
}

// Whether the tables show an energy with a CPU part: the blocks' metric, or the cap tables' E,
// EDP and ED2P.
bool shows_cpu_energy(const StoreAnalysis& a) {
    return has_cpu_energy(a.metric) || !a.caps.empty();
}

// A heading, with the CPU marks of the energies under it: "Cap tables (CPU estimated)".
std::string marked_heading(const std::string& text, const CpuEnergyMarks& marks,
                           TableFormat format) {
    const std::string words = describe(marks);
    return render_heading(words.empty() ? text : text + " (" + words + ")", 3, format);
}

// One note per CPU mark of the energies shown, under the opening line.
std::string cpu_notes(const StoreAnalysis& a, TableFormat format) {
    std::string s;
    if (!shows_cpu_energy(a)) return s;
    for (const auto& line : explain(a.cpu, "the energy of the runs under headings so marked")) {
        s += render_paragraph("Note: " + line + ".", format);
    }
    return s;
}

std::string warnings_list(const std::vector<std::string>& warnings, TableFormat format) {
    std::string s;
    if (warnings.empty()) return s;
    if (format == TableFormat::kText) {
        s += "\nWarnings (store):\n";
        for (const auto& w : warnings) s += "- " + w + "\n";
    } else if (format == TableFormat::kMarkdown) {
        s += "\n**Warnings (store)**\n\n";
        for (const auto& w : warnings) s += "- " + md_escape(w) + "\n";
    } else if (format == TableFormat::kLatex) {
        for (const auto& w : warnings) s += render_paragraph("warning: " + w, format);
    }
    return s;
}

}  // namespace

std::vector<Table> cap_tables(const StoreCapTable& t) {
    std::string ctx = t.domain == "gpu" ? "GPU caps" : "CPU caps";
    if (t.other_varies) {
        ctx +=
            fmt::format(", {} cap {}", t.domain == "gpu" ? "CPU" : "GPU", cap_label(t.other_cap_w));
    }
    const std::string csv_name = "caps_" + t.domain;
    std::vector<Table> out;
    Table opt{.title = "Caps minimising E, EDP and ED2P (" + ctx + "; medians over runs)",
              .headers = {"environment", "workload", "cap min E (W)", "E (J)", "cap min EDP (W)",
                          "EDP (J s)", "cap min ED2P (W)", "ED2P (J s2)"},
              .csv_name = csv_name};
    for (const auto& o : t.caps.optima) {
        opt.rows.push_back({o.environment, o.workload, number_cell(o.cap_min_energy_w),
                            number_cell(o.min_energy_j), number_cell(o.cap_min_edp_w),
                            number_cell(o.min_edp_js), number_cell(o.cap_min_ed2p_w),
                            number_cell(o.min_ed2p_js2)});
    }
    out.push_back(std::move(opt));
    if (t.baseline.empty()) return out;
    Table per{.title = "Overheads against '" + t.baseline + "' per cap (" + ctx + "; % of medians)",
              .headers = {"environment", "workload", "cap (W)", "T %", "E %", "EDP %"},
              .csv_name = csv_name};
    for (const auto& o : t.caps.overheads) {
        per.rows.push_back({o.environment, o.workload, number_cell(o.cap_w),
                            percent_cell(o.time_pct), percent_cell(o.energy_pct),
                            percent_cell(o.edp_pct)});
    }
    out.push_back(std::move(per));
    Table sum{.title = "Overheads against '" + t.baseline + "' over caps (" + ctx + "; %)",
              .headers = {"environment", "workload", "caps", "T avg", "T max", "E avg", "E max",
                          "EDP avg", "EDP max"},
              .csv_name = csv_name};
    for (const auto& s : t.caps.summary) {
        sum.rows.push_back({s.environment, s.workload, std::to_string(s.caps),
                            percent_cell(s.time_avg_pct), percent_cell(s.time_max_pct),
                            percent_cell(s.energy_avg_pct), percent_cell(s.energy_max_pct),
                            percent_cell(s.edp_avg_pct), percent_cell(s.edp_max_pct)});
    }
    out.push_back(std::move(sum));
    return out;
}

std::string render(const StoreAnalysis& a, TableFormat format) {
    const std::string intro = fmt::format(
        "{}{} by {} in {} ({}{}): {} done runs used of {}; one analysis block per {}", a.metric,
        a.phase ? " of the marked phase '" + *a.phase + "'" : "",
        to_string(a.by), a.db.empty() ? "(runs)" : a.db,
        a.experiment.empty() ? "no experiment" : a.experiment,
        a.baseline ? ", baseline '" + *a.baseline + "'" : "", a.runs.used, a.runs.status.total(),
        a.by == StoreFactor::kEnvironment ? "workload and power cap"
                                          : "combination of the other factors");
    std::string s = render_paragraph(intro, format) + cpu_notes(a, format);
    bool first = true;
    for (const auto& b : a.blocks) {
        if (!first) s += "\n";
        first = false;
        s += marked_heading("Block: " + b.title,
                            has_cpu_energy(a.metric) ? b.cpu : CpuEnergyMarks{}, format);
        if (format == TableFormat::kCsv) s += render_table(block_key_table(b), format) + "\n";
        s += stats::render(b.analysis, format, kBlockStyle);
    }
    if (!a.caps.empty()) s += "\n" + marked_heading("Cap tables", a.cpu, format);
    bool first_cap = true;
    for (const auto& c : a.caps) {
        for (const auto& t : cap_tables(c)) {
            if (!first_cap) s += "\n";
            first_cap = false;
            s += render_table(t, format, kBlockStyle);
        }
    }
    return s + warnings_list(a.warnings, format);
}

}  // namespace joulebench::analysis
