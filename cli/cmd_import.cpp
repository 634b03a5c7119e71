// `joulebench import FORMAT ...`: read traces written by other tools. A command group so that
// more formats can join `energibridge` later, each as its own sub-command.

#include <fmt/core.h>

#include <algorithm>
#include <cstdio>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "commands.hpp"
#include "option_checks.hpp"
#include "common/atomic_file.hpp"
#include "joulebench/energibridge.hpp"
#include "joulebench/error.hpp"

namespace joulebench::cli {

namespace {

void add_energibridge(CLI::App& group, CommandContext& ctx) {
    struct Options {
        std::vector<std::string> files;
        std::string json_out;
        double wrap_j = energibridge::kDefaultWrapJ;
    };
    auto opts = std::make_shared<Options>();
    auto* sub = group.add_subcommand(
        "energibridge",
        "Read EnergiBridge CSV traces: unwrapped RAPL energy, GPU energy and what EnergiBridge "
        "itself would have reported");
    sub->add_option("files", opts->files, "EnergiBridge CSV files")->required();
    sub->add_option("--json", opts->json_out, "Write the results as JSON to this file (- = stdout)");
    sub->add_option("--wrap-j", opts->wrap_j,
                    "Range of the RAPL energy counters in joules (2^32 x energy unit)")
        ->check(positive_number())
        ->capture_default_str();
    sub->callback([opts, &ctx] {
        energibridge::ImportOptions options;
        options.wrap = Joules(opts->wrap_j);
        const auto results = energibridge::import_traces(opts->files, options);
        const std::string table = energibridge::format_table(results);
        // The table goes to stderr when the JSON takes stdout, so both can be used at once.
        std::fputs(table.c_str(), opts->json_out == "-" ? stderr : stdout);
        std::fflush(stdout);
        if (!opts->json_out.empty()) {
            // Column names come from the trace as they are, maybe not UTF-8: U+FFFD in place of
            // a bad byte, where a strict dump threw (found by fuzz/fuzz_energibridge).
            write_output(opts->json_out,
                         energibridge::to_json(results).dump(2, ' ', false, nlohmann::json::error_handler_t::replace) +
                             "\n");
        }
        const bool any_failed = std::any_of(results.begin(), results.end(),
                                            [](const auto& r) { return !r.summary.has_value(); });
        ctx.exit_code = any_failed ? 1 : 0;
    });
}

}  // namespace

void add_import_command(CLI::App& app, CommandContext& ctx) {
    auto* group = app.add_subcommand("import", "Import traces written by other measurement tools");
    group->require_subcommand(1);
    add_energibridge(*group, ctx);
}

}  // namespace joulebench::cli
