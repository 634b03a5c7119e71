#pragma once
// One function per sub-command: it adds the sub-command to the app and, when the sub-command runs,
// parses and validates its options, calls the library and stores the process exit status in
// `exit_code`. Library errors are thrown as joulebench::Error and printed by main.

#include <CLI/CLI.hpp>
#include <optional>
#include <string>

namespace joulebench::cli {

struct CommandContext {
    int exit_code = 0;
};

/// The exit status of a command that ran runs under caps (`run`, `sweep`, `tune`): `status`,
/// 128+N when signal N stopped them, 1 when a cap could not be restored (said on standard error,
/// with the hint to run `joulebench caps restore`). Defined in cmd_run.cpp.
int runs_exit_code(int status, std::optional<int> stopped_by_signal, bool caps_restored);

void add_sensors_command(CLI::App& app, CommandContext& ctx);
void add_measure_command(CLI::App& app, CommandContext& ctx);
void add_import_command(CLI::App& app, CommandContext& ctx);
void add_analyze_command(CLI::App& app, CommandContext& ctx);
void add_burn_command(CLI::App& app, CommandContext& ctx);
void add_plan_command(CLI::App& app, CommandContext& ctx);
void add_export_command(CLI::App& app, CommandContext& ctx);
void add_merge_command(CLI::App& app, CommandContext& ctx);
void add_caps_command(CLI::App& app, CommandContext& ctx);
void add_run_command(CLI::App& app, CommandContext& ctx);
void add_sweep_command(CLI::App& app, CommandContext& ctx);
void add_tune_command(CLI::App& app, CommandContext& ctx);
void add_report_command(CLI::App& app, CommandContext& ctx);
void add_image_command(CLI::App& app, CommandContext& ctx);
void add_submit_command(CLI::App& app, CommandContext& ctx);
void add_status_command(CLI::App& app, CommandContext& ctx);
void add_verify_command(CLI::App& app, CommandContext& ctx);
void add_examples_command(CLI::App& app, CommandContext& ctx);
void add_exporter_command(CLI::App& app, CommandContext& ctx);
void add_top_command(CLI::App& app, CommandContext& ctx);
/// `completions` and `manpage`: add them last, they describe every command added before.
void add_completions_command(CLI::App& app, CommandContext& ctx);

/// What `joulebench --version` prints: version, commit, the backends and whether each can be used
/// here (cmd_version.cpp).
std::string version_text();

}  // namespace joulebench::cli
