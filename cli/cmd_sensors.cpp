// Placeholder until the sub-command lands (this session); replaced by its implementation.
#include "commands.hpp"
#include "joulebench/error.hpp"

namespace joulebench::cli {
void add_sensors_command(CLI::App& app, CommandContext& /*ctx*/) {
    auto* sub = app.add_subcommand("sensors", "(not built yet)");
    sub->callback([] { throw Error(ErrorCategory::kNotSupported, "sensors: not built yet"); });
}
}  // namespace joulebench::cli
