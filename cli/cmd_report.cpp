// `joulebench report DB -o FILE [--format html|md|tex]`: the study's figures and tables from a
// results store (docs/report.md). Parsing and validation only; the report is src/report/.

#include <fmt/core.h>

#include <memory>
#include <optional>

#include "commands.hpp"
#include "option_checks.hpp"
#include "common/atomic_file.hpp"
#include "joulebench/error.hpp"
#include "joulebench/store.hpp"
#include "report/report_data.hpp"

namespace joulebench::cli {

void add_report_command(CLI::App& app, CommandContext& ctx) {
    struct Options {
        std::string db;
        std::string output;
        std::string format = "html";
        std::string baseline;
        std::string trace_run;
        std::string p_adjust = "bonferroni";
        std::size_t resamples = 10000;
        std::uint64_t seed = stats::BootstrapOptions{}.seed;
        double alpha = 0.05;
    };
    auto opts = std::make_shared<Options>();
    auto* sub = app.add_subcommand(
        "report", "Write a report of a results store: an offline HTML page with charts, or tables");
    sub->add_option("DB", opts->db, "Results store (joulebench run ... --db DB)")->required();
    sub->add_option("-o,--output", opts->output,
                    "File to write (- for standard output; a regular file is replaced "
                    "atomically, a device or FIFO written to)")
        ->required();
    sub->add_option("--format", opts->format,
                    "html: one self-contained page with charts; md, tex: the tables")
        ->check(CLI::IsMember({"html", "md", "tex"}));
    sub->add_option("--baseline", opts->baseline,
                    "Environment the overheads are computed against (default: the first "
                    "environment of type bare in the experiment file; none without one)");
    sub->add_option("--trace-run", opts->trace_run,
                    "Run whose power over time is drawn (default: the done run of median energy)");
    sub->add_option("--p-adjust", opts->p_adjust, "Adjustment of Dunn's p-values")
        ->check(CLI::IsMember({"bonferroni", "holm", "none"}));
    sub->add_option("--alpha", opts->alpha, "Significance level (normality and verdicts)")
        ->check(number_range(1e-9, 0.5));
    sub->add_option("--resamples", opts->resamples, "Bootstrap resamples for the intervals")
        ->check(number_range(std::size_t{100}, std::size_t{1000000}));
    sub->add_option("--seed", opts->seed, "Bootstrap seed");
    sub->callback([opts, &ctx] {
        report::ReportOptions options;
        if (!opts->baseline.empty()) options.baseline = opts->baseline;
        if (!opts->trace_run.empty()) options.trace_run = opts->trace_run;
        options.analysis.p_adjust = stats::p_adjust_from_string(opts->p_adjust);
        options.analysis.alpha = opts->alpha;
        options.analysis.bootstrap.resamples = opts->resamples;
        options.analysis.bootstrap.seed = opts->seed;
        std::optional<Store> store;
        try {
            store.emplace(opts->db, Store::Mode::kReadUpgrade);
        } catch (const Error& e) {
            // Name the file: the store's own messages do not always (e.g. "not a joulebench
            // store").
            const std::string what = e.what();
            if (what.find(opts->db) != std::string::npos) throw;
            throw Error(e.category(), "report: open store " + opts->db + ": " + what, e.hint());
        }
        const report::ReportModel model = report::build_report(*store, options);
        std::string text;
        if (opts->format == "html") {
            text = report::render_html(model);
        } else {
            text = report::render_tables(model, stats::table_format_from_string(opts->format));
        }
        write_output(opts->output, text);
        std::size_t warnings = 0;
        for (const auto& w : model.warnings) warnings += w.count;
        fmt::print(stderr, "report: wrote {} ({} workload{}, {} done runs, {} warning{})\n",
                   opts->output == "-" ? "standard output" : opts->output,
                   model.workloads.size(), model.workloads.size() == 1 ? "" : "s",
                   model.status.done, warnings, warnings == 1 ? "" : "s");
        ctx.exit_code = 0;
    });
}

}  // namespace joulebench::cli
