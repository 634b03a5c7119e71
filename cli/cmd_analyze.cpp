// `joulebench analyze --csv FILE --group COL --value COL`: the statistics of issue 5 on any tidy
// table. Parsing and validation only; the analysis is stats::analyse_groups, which a results store
// will feed the same way (named groups of values) once `analyze DB` lands.

#include <fmt/core.h>

#include <cstdio>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>

#include "commands.hpp"
#include "joulebench/error.hpp"
#include "joulebench/stats.hpp"

namespace joulebench::cli {

void add_analyze_command(CLI::App& app, CommandContext& ctx) {
    struct Options {
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
    sub->add_option("--csv", opts->csv, "Tidy CSV table to read (one row per measurement)")
        ->required();
    sub->add_option("--group", opts->group, "Column naming the group of each row")->required();
    sub->add_option("--value", opts->value, "Numeric column to analyse (e.g. energy in J)")
        ->required();
    sub->add_option("--baseline", opts->baseline,
                    "Group to report median overheads (%) against, with a bootstrap CI");
    sub->add_option("--p-adjust", opts->p_adjust, "Adjustment of Dunn's p-values")
        ->check(CLI::IsMember({"bonferroni", "holm", "none"}));
    sub->add_option("--json", opts->json, "Also write the full analysis as JSON to this file");
    sub->add_option("--format", opts->format, "Output format of the tables")
        ->check(CLI::IsMember({"text", "md", "tex", "csv"}));
    sub->add_option("--alpha", opts->alpha, "Significance level (normality and verdicts)")
        ->check(CLI::Range(1e-9, 0.5));
    sub->add_option("--resamples", opts->resamples, "Bootstrap resamples for the CIs")
        ->check(CLI::Range(std::size_t{100}, std::size_t{1000000}));
    sub->add_option("--seed", opts->seed, "Bootstrap seed");
    sub->callback([opts, &ctx] {
        const std::vector<stats::NamedGroup> groups =
            stats::read_groups_csv(opts->csv, opts->group, opts->value);
        stats::AnalysisOptions options;
        options.p_adjust = stats::p_adjust_from_string(opts->p_adjust);
        if (!opts->baseline.empty()) options.baseline = opts->baseline;
        options.alpha = opts->alpha;
        options.metric = opts->value;
        options.bootstrap.resamples = opts->resamples;
        options.bootstrap.seed = opts->seed;
        const stats::Analysis analysis = stats::analyse_groups(groups, options);
        const stats::TableFormat format = stats::table_format_from_string(opts->format);
        if (!opts->json.empty()) {
            // Write to a temporary name first so a failed run never leaves half a file.
            const std::string tmp = opts->json + ".tmp";
            {
                std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
                if (!out) {
                    throw Error(ErrorCategory::kIo, "analyze: write " + opts->json +
                                                        ": cannot open " + tmp + " for writing");
                }
                out << stats::to_json(analysis).dump(2) << "\n";
                out.flush();
                if (!out) {
                    throw Error(ErrorCategory::kIo,
                                "analyze: write " + opts->json + ": write failed");
                }
            }
            if (std::rename(tmp.c_str(), opts->json.c_str()) != 0) {
                throw system_error("analyze: write " + opts->json + ": rename", errno);
            }
        }
        fmt::print("{}", stats::render(analysis, format));
        ctx.exit_code = 0;
    });
}

}  // namespace joulebench::cli
