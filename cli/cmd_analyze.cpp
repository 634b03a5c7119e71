// `joulebench analyze --csv FILE --group COL --value COL`: the statistics of issue 5 on any tidy
// table; `joulebench analyze DB`: the same analysis (stats::analyse_groups) per block of a results
// store, plus the power-cap table (stats::analyse_caps). Parsing and validation only.

#include <fmt/core.h>

#include <cstdio>
#include <memory>
#include <nlohmann/json.hpp>

#include "commands.hpp"
#include "option_checks.hpp"
#include "common/atomic_file.hpp"
#include "joulebench/error.hpp"
#include "joulebench/stats.hpp"
#include "joulebench/store.hpp"
#include "analysis/csv_groups.hpp"
#include "analysis/store_analysis.hpp"

namespace joulebench::cli {

namespace {

void write_json(const std::string& path, const nlohmann::json& doc) {
    // Group names come from the CSV as they are, maybe not UTF-8 (a Latin-1 file): written
    // with U+FFFD in place of a bad byte, where a strict dump threw (found by
    // fuzz/fuzz_analyze_csv, docs/fuzzing.md).
    if (!path.empty()) {
        write_output(path, doc.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n");
    }
}

// The tables go to standard error when the JSON takes standard output, so both can be used.
void print_tables(const std::string& json_path, const std::string& tables) {
    std::fputs(tables.c_str(), json_path == "-" ? stderr : stdout);
}

}  // namespace

void add_analyze_command(CLI::App& app, CommandContext& ctx) {
    struct Options {
        std::string db;
        std::string metric = "energy_j";
        std::string phase;
        std::string by;  // empty: what the experiment varies
        std::string csv;
        std::string group;
        std::string value;
        std::string baseline;
        std::string p_adjust = "bonferroni";
        std::string json;
        std::string format = "text";
        std::size_t resamples = 10000;
        std::uint64_t seed = stats::BootstrapOptions{}.seed;
        double alpha = 0.05;
    };
    auto opts = std::make_shared<Options>();
    auto* sub = app.add_subcommand(
        "analyze", "Compare groups: Shapiro-Wilk, Kruskal-Wallis, Dunn, Cliff's delta, overheads");
    auto* db_opt = sub->add_option(
        "DB", opts->db, "Results store to analyse (per workload and power cap); or use --csv");
    auto* csv_opt =
        sub->add_option("--csv", opts->csv, "Tidy CSV table to read (one row per measurement)");
    db_opt->excludes(csv_opt);
    auto* group_opt =
        sub->add_option("--group", opts->group, "With --csv: column naming the group of each row");
    auto* value_opt = sub->add_option("--value", opts->value,
                                      "With --csv: numeric column to analyse (e.g. energy in J)");
    group_opt->needs(csv_opt);
    value_opt->needs(csv_opt);
    auto* metric_opt = sub->add_option("--metric", opts->metric, "With DB: per-run metric")
                           ->check(CLI::IsMember(analysis::store_metrics()));
    auto* by_opt = sub->add_option("--by", opts->by,
                                   "With DB: factor that forms the groups (default: the first of "
                                   "environment, workload, gpu_cap, cpu_cap that varies)")
                       ->check(CLI::IsMember({"environment", "workload", "gpu_cap", "cpu_cap"}));
    auto* phase_opt = sub->add_option(
        "--phase", opts->phase,
        "With DB: the metric of this phase the workloads marked (JOULEBENCH_MARK begin NAME), "
        "not of the whole run; runs that did not mark it are left out");
    metric_opt->needs(db_opt);
    by_opt->needs(db_opt);
    phase_opt->needs(db_opt);
    sub->add_option("--baseline", opts->baseline,
                    "Group to report median overheads (%) against, with a bootstrap CI (DB with "
                    "--by environment: default the first bare environment)");
    sub->add_option("--p-adjust", opts->p_adjust, "Adjustment of Dunn's p-values")
        ->check(CLI::IsMember({"bonferroni", "holm", "none"}));
    sub->add_option("--json", opts->json,
                    "Also write the full analysis as JSON to this file (- for standard output; "
                    "the tables then go to standard error)");
    sub->add_option("--format", opts->format, "Output format of the tables")
        ->check(CLI::IsMember({"text", "md", "tex", "csv"}));
    sub->add_option("--alpha", opts->alpha, "Significance level (normality and verdicts)")
        ->check(number_range(1e-9, 0.5));
    sub->add_option("--resamples", opts->resamples, "Bootstrap resamples for the CIs")
        ->check(number_range(std::size_t{100}, std::size_t{1000000}));
    sub->add_option("--seed", opts->seed, "Bootstrap seed");
    sub->callback([opts, &ctx] {
        if (opts->db.empty() && opts->csv.empty()) {
            throw CLI::ValidationError("analyze", "give a results store DB or --csv FILE");
        }
        if (!opts->csv.empty() && (opts->group.empty() || opts->value.empty())) {
            throw CLI::ValidationError("analyze", "--csv needs --group COL and --value COL");
        }
        stats::AnalysisOptions options;
        options.p_adjust = stats::p_adjust_from_string(opts->p_adjust);
        options.alpha = opts->alpha;
        options.bootstrap.resamples = opts->resamples;
        options.bootstrap.seed = opts->seed;
        const stats::TableFormat format = stats::table_format_from_string(opts->format);
        if (!opts->db.empty()) {
            const Store store(opts->db, Store::Mode::kReadUpgrade);
            analysis::StoreAnalysisOptions store_options;
            store_options.metric = opts->metric;
            if (!opts->phase.empty()) store_options.phase = opts->phase;
            if (opts->by.empty()) {
                store_options.by_what_varies = true;
            } else {
                store_options.by = analysis::store_factor_from_string(opts->by);
            }
            if (!opts->baseline.empty()) store_options.baseline = opts->baseline;
            store_options.analysis = options;
            const analysis::StoreAnalysis result = analysis::analyse_store(store, store_options);
            write_json(opts->json, analysis::to_json(result));
            print_tables(opts->json, analysis::render(result, format));
            // Text and Markdown list the warnings with the tables; CSV and LaTeX have no place
            // for them that a reader would see.
            if (format == stats::TableFormat::kCsv || format == stats::TableFormat::kLatex) {
                for (const auto& w : result.warnings) fmt::print(stderr, "warning: {}\n", w);
            }
            ctx.exit_code = 0;
            return;
        }
        const std::vector<stats::NamedGroup> groups =
            analysis::read_groups_csv(opts->csv, opts->group, opts->value);
        if (!opts->baseline.empty()) options.baseline = opts->baseline;
        options.metric = opts->value;
        const stats::Analysis analysis = stats::analyse_groups(groups, options);
        write_json(opts->json, stats::to_json(analysis));
        print_tables(opts->json, stats::render(analysis, format));
        ctx.exit_code = 0;
    });
}

}  // namespace joulebench::cli
