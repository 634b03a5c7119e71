// joulebench: what deployment choices cost in time and energy.
// main stays thin: it builds the command line, runs one sub-command and turns errors into
// `error:`/`hint:` lines and exit statuses (1 for errors, 2 for bad usage; `measure` passes the
// measured command's own status through).

#include <CLI/CLI.hpp>
#include <fmt/core.h>
#include <fmt/format.h>

#include <cmath>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <string>
#include <string_view>
#include <vector>

#include "commands.hpp"
#include "model/did_you_mean.hpp"
#include "joulebench/error.hpp"

namespace {

// What CLI11's conversions let through but means nothing here: an empty value, and for a number
// NaN, an infinity or a negative value. Checked here once for every option of every command, so
// that no command forgets it (`--cpu-power-cap nan` was accepted).
std::string check_value(std::string& value, bool numeric) {
    if (value.empty()) return "the value is empty";
    if (!numeric) return {};
    char* end = nullptr;
    const double x = std::strtod(value.c_str(), &end);
    if (end == value.c_str()) return {};  // not a number: CLI11's own conversion says so
    if (!std::isfinite(x)) return "must be a finite number, not " + value;
    if (x < 0) return "must not be negative, not " + value;
    return {};
}

void check_option_values(CLI::App& app) {
    for (CLI::Option* o : app.get_options()) {
        if (o->get_expected_min() == 0 || o->get_positional()) continue;  // flags; argv of commands
        // "FLOAT", or "FLOAT:POSITIVE" with a validator's description.
        const std::string type = o->get_type_name().substr(0, o->get_type_name().find(':'));
        const bool numeric = type == "FLOAT" || type == "INT" || type == "UINT";
        o->check(CLI::Validator([numeric](std::string& v) { return check_value(v, numeric); }, ""));
    }
    for (CLI::App* sub : app.get_subcommands({})) check_option_values(*sub);
}

// A first word that is no sub-command (`joulebench mesure`): CLI11 would say only "A subcommand
// is required". Names the word and the nearest sub-command, as experiment files do.
bool unknown_command(CLI::App& app, int argc, char** argv) {
    if (argc < 2 || argv[1][0] == '-' || argv[1][0] == '\0') return false;
    std::vector<std::string> names;
    for (const CLI::App* sub : app.get_subcommands([](CLI::App*) { return true; })) {
        if (sub->check_name(argv[1])) return false;
        names.push_back(sub->get_name());
    }
    const std::vector<std::string_view> allowed(names.begin(), names.end());
    fmt::print(stderr, "error: '{}' is not a joulebench command\nhint: {}\n", argv[1],
               joulebench::did_you_mean(argv[1], allowed,
                                        "the commands are " + fmt::format("{}", fmt::join(names, ", "))));
    return true;
}

}  // namespace

int main(int argc, char** argv) {
    // Started with SIGCHLD ignored (inherited from a parent that set SIG_IGN), the kernel would
    // reap joulebench's children itself and every wait for a workload would fail with ECHILD.
    std::signal(SIGCHLD, SIG_DFL);
    CLI::App app{"joulebench: measure what deployment choices cost in time and energy"};
    app.set_version_flag("--version", [] { return joulebench::cli::version_text(); });
    app.require_subcommand(1);
    app.fallthrough(false);

    joulebench::cli::CommandContext ctx;
    joulebench::cli::add_sensors_command(app, ctx);
    joulebench::cli::add_measure_command(app, ctx);
    joulebench::cli::add_import_command(app, ctx);
    joulebench::cli::add_analyze_command(app, ctx);
    joulebench::cli::add_burn_command(app, ctx);
    joulebench::cli::add_plan_command(app, ctx);
    joulebench::cli::add_export_command(app, ctx);
    joulebench::cli::add_merge_command(app, ctx);
    joulebench::cli::add_verify_command(app, ctx);
    joulebench::cli::add_caps_command(app, ctx);
    joulebench::cli::add_run_command(app, ctx);
    joulebench::cli::add_sweep_command(app, ctx);
    joulebench::cli::add_tune_command(app, ctx);
    joulebench::cli::add_report_command(app, ctx);
    joulebench::cli::add_image_command(app, ctx);
    joulebench::cli::add_submit_command(app, ctx);
    joulebench::cli::add_status_command(app, ctx);
    joulebench::cli::add_examples_command(app, ctx);
    joulebench::cli::add_exporter_command(app, ctx);
    joulebench::cli::add_top_command(app, ctx);
    joulebench::cli::add_completions_command(app, ctx);

    check_option_values(app);
    if (unknown_command(app, argc, argv)) return 2;

    try {
        app.parse(argc, argv);
    } catch (const CLI::CallForHelp& e) {
        return app.exit(e);
    } catch (const CLI::CallForAllHelp& e) {
        return app.exit(e);
    } catch (const CLI::CallForVersion& e) {
        return app.exit(e);
    } catch (const CLI::ParseError& e) {
        app.exit(e);
        return 2;
    } catch (const joulebench::Error& e) {
        return joulebench::report_error(e);
    } catch (const std::exception& e) {
        std::fflush(stdout);
        fmt::print(stderr, "error: internal: {}\n", e.what());
        return 1;
    }
    return ctx.exit_code;
}
