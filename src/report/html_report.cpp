// `joulebench report --format html`: one self-contained page. The tables, the warnings box and
// the statistics are written here as static HTML (readable even with scripts off); the charts are
// drawn by report.js from the embedded data with Vega-Lite through vega-embed, all inlined.
// A Content-Security-Policy forbids the page any request (no network, fonts or frames).

#include <fmt/core.h>

#include "report/report_assets.hpp"
#include "report/report_data.hpp"

namespace joulebench::report {

namespace {

// The page may run its own inline scripts (and Vega's compiled expressions: 'unsafe-eval'),
// use inline styles and data:/blob: images (the PNG/SVG export); every fetch, font, frame,
// form or other resource is refused, so nothing leaves the page even by mistake.
constexpr const char* kContentSecurityPolicy =
    "default-src 'none'; script-src 'unsafe-inline' 'unsafe-eval'; style-src 'unsafe-inline'; "
    "img-src data: blob:; connect-src 'none'; font-src 'none'; frame-src 'none'; "
    "form-action 'none'; base-uri 'none'";

std::string esc(std::string_view s) {
    std::string o;
    o.reserve(s.size());
    for (const char c : s) {
        switch (c) {
            case '&':
                o += "&amp;";
                break;
            case '<':
                o += "&lt;";
                break;
            case '>':
                o += "&gt;";
                break;
            case '"':
                o += "&quot;";
                break;
            case '\'':
                o += "&#39;";
                break;
            default:
                o += c;
        }
    }
    return o;
}

std::string table_html(const Table& t, bool key_value = false) {
    std::string s;
    if (t.rows.empty()) {
        s += "<p class=\"caption\">" + esc(t.title) + ": none.</p>";
    } else {
        s += key_value ? "<table class=\"kv\">" : "<table>";
        s += "<caption>" + esc(t.title) + "</caption>";
        s += "<thead><tr>";
        for (const auto& h : t.headers) s += "<th>" + esc(h) + "</th>";
        s += "</tr></thead><tbody>";
        for (const auto& r : t.rows) {
            s += "<tr>";
            for (const auto& c : r) s += "<td>" + esc(c) + "</td>";
            s += "</tr>";
        }
        s += "</tbody></table>";
    }
    if (!t.note.empty()) s += "<p class=\"note\">" + esc(t.note) + "</p>";
    return s + "\n";
}

std::string chart(std::string_view kind, std::optional<std::size_t> workload = std::nullopt) {
    std::string s = "<div class=\"chart\" data-chart=\"" + std::string(kind) + "\"";
    if (workload) s += fmt::format(" data-workload=\"{}\"", *workload);
    return s + "></div>\n";
}

std::string warnings_box(const ReportModel& m) {
    if (m.warnings.empty()) {
        return "<section id=\"warnings\" class=\"warnings none\"><h2>Methodology warnings</h2>"
               "<p>None: every planned run is done, no run reported a warning, and the analysis "
               "found nothing to flag.</p></section>\n";
    }
    std::size_t total = 0;
    for (const auto& w : m.warnings) total += w.count;
    std::string s = fmt::format(
        "<section id=\"warnings\" class=\"warnings\"><h2>Methodology warnings ({})</h2><ul>",
        total);
    for (const auto& w : m.warnings) {
        s += "<li><span class=\"source\">" + esc(w.source) + "</span>";
        if (!w.code.empty()) s += "<code class=\"code\">" + esc(w.code) + "</code> ";
        s += w.count > 1 ? fmt::format("<span class=\"count\">&times;{}</span> ", w.count)
                         : std::string("<span class=\"count\"></span> ");
        s += esc(w.text) + "</li>";
    }
    return s + "</ul></section>\n";
}

}  // namespace

std::string render_html(const ReportModel& m) {
    const std::string name = m.experiment.name.empty() ? m.db : m.experiment.name;
    std::string s;
    s.reserve(2 << 20);
    s += "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n";
    s += std::string("<meta http-equiv=\"Content-Security-Policy\" content=\"") +
         kContentSecurityPolicy + "\">\n";
    s += "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n";
    s += "<meta name=\"generator\" content=\"joulebench " + esc(m.joulebench_version) + "\">\n";
    s += "<title>joulebench report: " + esc(name) + "</title>\n";
    s += "<style>\n" + asset_report_css() + "\n</style>\n</head>\n<body>\n";

    s += "<header><h1>joulebench report: " + esc(name) + "</h1>\n";
    s += "<p class=\"meta\">Store " + esc(m.db) + ", generated " + esc(m.generated_at) +
         " by joulebench " + esc(m.joulebench_version) + ". " + to_string(m.status) + "." +
         " Points are medians over done runs, bands and bars their bootstrap 95% intervals" +
         (m.baseline ? "; overheads are in % of the median of '" + esc(*m.baseline) + "'"
                     : std::string("; no baseline environment, so no overheads")) +
         ". Every chart's menu (&hellip;) exports SVG or PNG.</p>\n";
    s += "<nav>";
    for (std::size_t i = 0; i < m.workloads.size(); ++i) {
        s += fmt::format("<a href=\"#workload-{}\">", i) + esc(m.workloads[i].name) + "</a>";
    }
    s +=
        "<a href=\"#trace\">power over time</a><a href=\"#context\">context</a></nav>\n</header>\n";

    s += warnings_box(m);

    for (std::size_t i = 0; i < m.workloads.size(); ++i) {
        const WorkloadReport& w = m.workloads[i];
        s += fmt::format("<section id=\"workload-{}\">", i);
        s += "<h2>Workload '" + esc(w.name) + "'</h2>\n";
        s += "<h3>Time, energy and EDP against the power cap</h3>\n";
        s += "<p class=\"note\">Median per environment and cap level; the band (or bar) is the "
             "bootstrap 95% interval of the median.</p>\n";
        s += chart("curves", i);
        if (m.baseline && !w.overheads.empty()) {
            s += "<h3>Overhead against '" + esc(*m.baseline) + "'</h3>\n";
            s += "<p class=\"note\">100 (median of the environment &minus; median of the "
                 "baseline) / median of the baseline, at each cap level, with its bootstrap 95% "
                 "interval.</p>\n";
            s += chart("overheads", i);
        }
        s += "<h3>Distributions of energy and time</h3>\n";
        s += "<p class=\"note\">Box: quartiles and median, whiskers to the minimum and "
             "maximum (the numbers of the statistics below); every done run is a point, spread "
             "sideways by a fixed offset so that equal values stay visible.</p>\n";
        s += chart("distributions", i);
        s += "<h3>Best caps and overheads</h3>\n";
        s += table_html(w.best_caps);
        s += table_html(w.overhead_summary);
        if (!w.gpu_spread.rows.empty()) {
            s += "<h3>Spread between GPUs</h3>\n";
            s += table_html(w.gpu_spread);
        }
        s += "<h3>Statistics</h3>\n";
        s += "<p class=\"note\">As <code>joulebench analyze DB</code> computes them per block: "
             "Shapiro-Wilk, Kruskal-Wallis (ANOVA when every group is normal), Dunn's test with "
             "adjusted p, Cliff's delta, Mann-Whitney U for two groups, overheads against the "
             "baseline.</p>\n";
        for (const auto& b : w.statistics) {
            s += std::string("<details") + (b.metric == "energy_j" ? " open" : "") + "><summary>" +
                 esc(b.title) + ": " + esc(metric_name(b.metric)) + "</summary>\n";
            if (!b.verdicts.empty()) {
                s += "<ul class=\"verdicts\">";
                for (const auto& v : b.verdicts) s += "<li>" + esc(v) + "</li>";
                s += "</ul>\n";
            }
            s +=
                "<pre>" + esc(stats::render(b.analysis, TableFormat::kText)) + "</pre></details>\n";
        }
        s += "</section>\n";
    }

    s += "<section id=\"trace\"><h2>Power over time</h2>\n";
    if (!m.trace.run_id.empty()) {
        s += "<p>" + esc(m.trace.title) +
             (m.trace.chosen_by_user ? " (chosen with --trace-run)"
                                     : " (the done run of median energy; choose another with "
                                       "--trace-run RUN_ID)") +
             ". The dashed line is the run's idle power (total), when measured.</p>\n";
    }
    if (!m.trace.note.empty()) s += "<p class=\"note\">" + esc(m.trace.note) + "</p>\n";
    s += chart("trace");
    s += "<h3>Idle baselines</h3>\n" + table_html(m.idle_baselines);
    s += "</section>\n";

    s += "<section id=\"context\"><h2>Context</h2>\n";
    for (const auto& t : m.context) s += table_html(t, t.headers.size() == 2);
    s += "<h3>Order of runs over time</h3>\n";
    s += "<p class=\"note\">Start time of each run against its place in the plan, coloured by "
         "variant: a shuffled plan shows the variants mixed over the whole time; blocks of one "
         "colour mean that drift over time is confounded with the variant.</p>\n";
    s += chart("order");
    s += "</section>\n";

    s += "<script type=\"application/json\" id=\"report-data\">" + json_for_script(to_json(m)) +
         "</script>\n";
    s += "<script>" + asset_vega() + "\n</script>\n";
    s += "<script>" + asset_vega_lite() + "\n</script>\n";
    s += "<script>" + asset_vega_embed() + "\n</script>\n";
    s += "<script>" + asset_report_js() + "\n</script>\n";
    s += "</body>\n</html>\n";
    return s;
}

}  // namespace joulebench::report
