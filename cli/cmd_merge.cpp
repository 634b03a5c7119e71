// `joulebench merge A.db B.db [...] -o C.db`: joins stores of the same experiment (e.g. shards run
// on several machines) into a new store, without duplicates, saying which copy of each
// duplicated run was kept.

#include <fmt/core.h>

#include <memory>

#include "commands.hpp"
#include "joulebench/error.hpp"
#include "joulebench/store.hpp"

namespace joulebench::cli {

void add_merge_command(CLI::App& app, CommandContext& ctx) {
    struct Options {
        std::vector<std::string> inputs;
        std::string output;
    };
    auto opts = std::make_shared<Options>();
    auto* sub =
        app.add_subcommand("merge", "Join results stores of the same experiment into a new store");
    sub->add_option("stores", opts->inputs, "Stores to merge (two or more)")
        ->required()
        ->expected(2, -1);
    sub->add_option("-o,--output", opts->output, "The new store to write (must not exist)")
        ->required();
    sub->callback([opts, &ctx] {
        std::vector<std::filesystem::path> inputs(opts->inputs.begin(), opts->inputs.end());
        const MergeReport report = Store::merge(inputs, opts->output);
        fmt::print("merged {} stores into {}: {} runs", inputs.size(), opts->output, report.runs);
        if (report.duplicates == 0) {
            fmt::print(", no run in more than one store\n");
        } else {
            fmt::print(
                ", {} in more than one store (kept the done one, else the latest attempt):\n",
                report.duplicates);
            for (const auto& line : report.decisions) fmt::print("  {}\n", line);
        }
        ctx.exit_code = 0;
    });
}

}  // namespace joulebench::cli
