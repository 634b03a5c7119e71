// Placeholder until the sub-command lands (this session); replaced by its implementation.
#include "commands.hpp"
#include "joulebench/error.hpp"

namespace joulebench::cli {
void add_measure_command(CLI::App& app, CommandContext& /*ctx*/) {
    auto* sub = app.add_subcommand("measure", "(not built yet)");
    sub->callback([] { throw Error(ErrorCategory::kNotSupported, "measure: not built yet"); });
}
}  // namespace joulebench::cli
