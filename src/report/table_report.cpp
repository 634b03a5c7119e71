// `joulebench report --format md|tex`: the report's tables for a README or a paper, all written by
// the one table model (joulebench/table.hpp), titles as bold captions under the report's
// headings. The statistics tables are stats::render's (those of `analyze DB --format md|tex`);
// the context, best-cap, overhead and warning tables are the model's.

#include <fmt/core.h>

#include "common/text_escape.hpp"
#include "joulebench/error.hpp"
#include "report/report_data.hpp"

namespace joulebench::report {

namespace {

constexpr TableStyle kReportStyle{MarkdownTitle::kBold};

// A table and the blank line after it.
std::string table(const Table& t, TableFormat f) {
    return render_table(t, f, kReportStyle) + "\n";
}

Table warnings_table(const ReportModel& m) {
    // The heading names it already; the warning column holds long text.
    Table t{.headers = {"source", "code", "count", "warning"},
            .align = {Align::kAuto, Align::kLeft, Align::kAuto, Align::kWrap}};
    for (const auto& w : m.warnings) {
        t.rows.push_back({w.source, w.code, std::to_string(w.count), w.text});
    }
    return t;
}

std::string statistics(const StatisticsBlock& b, TableFormat f) {
    std::string s = render_heading("Statistics, " + b.title + ": " + metric_name(b.metric), 3, f);
    s += stats::render(b.analysis, f, kReportStyle);
    if (!b.verdicts.empty()) {
        if (f == TableFormat::kMarkdown) {
            s += "\n**Verdicts**\n\n";
            for (const auto& v : b.verdicts) s += "- " + md_escape(v) + "\n";
        } else {
            for (const auto& v : b.verdicts) s += render_paragraph("verdict: " + v, f);
        }
    }
    return s + "\n";
}

}  // namespace

std::string render_tables(const ReportModel& m, TableFormat f) {
    if (f != TableFormat::kMarkdown && f != TableFormat::kLatex) {
        throw Error(ErrorCategory::kInvalidArgument,
                    "report: write tables: only md and tex are table formats",
                    "use --format html, md or tex");
    }
    std::string s = render_heading(
        "joulebench report: " + (m.experiment.name.empty() ? m.db : m.experiment.name), 1, f);
    s += render_paragraph(
        fmt::format("Store {}, generated {} by joulebench {}. Medians over done runs with "
                    "bootstrap 95% intervals; overheads in % of the baseline's median{}.",
                    m.db, m.generated_at, m.joulebench_version,
                    m.baseline ? " ('" + *m.baseline + "')" : " (no baseline)"),
        f);

    s += render_heading("Methodology warnings", 2, f);
    if (m.warnings.empty()) {
        s += f == TableFormat::kMarkdown ? "None.\n\n" : render_paragraph("none", f);
    } else {
        s += table(warnings_table(m), f);
    }

    for (const auto& w : m.workloads) {
        s += render_heading("Workload '" + w.name + "'", 2, f);
        s += table(w.best_caps, f);
        s += table(w.overhead_summary, f);
        if (!w.gpu_spread.rows.empty()) s += table(w.gpu_spread, f);
        for (const auto& b : w.statistics) s += statistics(b, f);
    }

    s += render_heading("Context", 2, f);
    for (const auto& t : m.context) s += table(t, f);
    s += table(m.idle_baselines, f);
    return s;
}

}  // namespace joulebench::report
