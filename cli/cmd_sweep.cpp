// `joulebench sweep --caps 150:450:50 [--repetitions N] [--gpus ...] [--db DB] [--json OUT] -- CMD`:
// the StEP-style shortcut. One workload in the bare environment with GPU power caps swept: its
// experiment is built in memory (model/sweep) and run by the same Runner as `joulebench run`
// (every cap checked against every GPU's range before the first run, every run recorded in a
// store, the caps restored), then summarised per cap (analysis/sweep_summary): median T, E, EDP
// and ED2P, and the best cap for each of E, EDP and ED2P.

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <cstdio>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "analysis/sweep_summary.hpp"
#include "commands.hpp"
#include "grid_options.hpp"
#include "common/shell_words.hpp"
#include "option_checks.hpp"
#include "scratch_folder.hpp"
#include "common/atomic_file.hpp"
#include "joulebench/error.hpp"
#include "joulebench/store.hpp"
#include "joulebench/table.hpp"
#include "model/sweep.hpp"
#include "runner/runner.hpp"

namespace joulebench::cli {
namespace {

namespace fs = std::filesystem;

/// The runner speaks as `run`; here the user ran `sweep`.
Error sweep_error(const Error& e) {
    std::string message = e.what();
    if (message.rfind("run: ", 0) == 0) message.replace(0, 5, "sweep: ");
    Error out(e.category(), message, e.hint());
    out.set_exit_code(e.exit_code());
    return out;
}

struct SweepCliOptions : GridOptions {
    unsigned repetitions = 3;
    std::vector<std::string> command;
};

// Prints the table (on stderr when the JSON goes to standard output) and writes the JSON.
void report(const SweepCliOptions& opts, const analysis::SweepSummary& summary) {
    std::FILE* table_out = opts.json == "-" ? stderr : stdout;
    const std::string title = fmt::format("joulebench sweep: {} ({} repetitions per cap)",
                                          fmt::join(opts.command, " "), opts.repetitions);
    const std::string text =
        render_table(analysis::sweep_table(summary, title), TableFormat::kText) +
        analysis::sweep_footer(summary);
    std::fflush(stdout);
    std::fputs(text.c_str(), table_out);
    std::fflush(table_out);
    if (opts.json.empty()) return;
    write_output(opts.json, analysis::to_json(summary, opts.command).dump(2) + "\n");
}

void sweep(const SweepCliOptions& opts, CommandContext& ctx) {
    if (opts.command.empty()) {
        throw Error(ErrorCategory::kInvalidArgument, "sweep: no command given",
                    "usage: joulebench sweep --caps 150:450:50 -- CMD [ARGS...]");
    }
    SweepRequest request{opts.command, parse_sweep_caps(opts.caps), opts.repetitions, opts.seed,
                         opts.gpus};
    // Fail before the runs if the JSON cannot be written later.
    if (!opts.json.empty()) check_output(opts.json);
    ExperimentSpec spec = sweep_experiment(request);
    const bool temporary_store = opts.db.empty();
    std::optional<ScratchFolder> scratch;
    if (temporary_store) scratch.emplace("sweep");
    const fs::path db = temporary_store ? scratch->path() / "sweep.db" : fs::path(opts.db);

    LiveViews live(opts, "run");
    runner::RunnerOptions o;
    o.live = live.state();
    o.plain = opts.plain;
    o.experiment_file = std::string(kSweepSourceName);
    o.db = db;
    o.interval = std::chrono::milliseconds(opts.interval_ms);
    o.command_line = fmt::format("joulebench sweep --caps {} --repetitions {}{}{} -- {}", opts.caps,
                                 opts.repetitions, opts.gpus.empty() ? "" : " --gpus " + opts.gpus,
                                 temporary_store ? "" : " --db " + opts.db,
                                 fmt::join(opts.command, " "));
    runner::RunnerSummary summary;
    try {
        summary = runner::Runner(std::move(spec), o, runner::production_dependencies()).run();
    } catch (const Error& e) {
        throw sweep_error(e);
    }
    live.finish();
    report(opts, analysis::summarise_sweep(Store(db, Store::Mode::kReadOnly).observations(),
                                           request.caps_w));

    const auto& c = summary.counts;
    ctx.exit_code = runs_exit_code(
        (c.failed + c.timeout + c.interrupted + c.planned + c.running) > 0 ? 1 : 0,
        summary.stopped_by_signal, summary.caps_restored);
    if (temporary_store && ctx.exit_code != 0) {
        scratch->keep();
        fmt::print(stderr,
                   "joulebench sweep: not every run finished; the runs are kept in {} (logs in "
                   "{}.logs; `joulebench export {} --format csv` lists them)\n",
                   db.string(), db.string(), shell_word(db.string()));
    }
}

}  // namespace

void add_sweep_command(CLI::App& app, CommandContext& ctx) {
    auto opts = std::make_shared<SweepCliOptions>();
    auto* sub = app.add_subcommand(
        "sweep",
        "Run one command bare under a sweep of GPU power caps; print median T, E, EDP, ED2P per "
        "cap and the best cap for each");
    add_grid_options(*sub, *opts, "sweep");
    sub->add_option("--repetitions", opts->repetitions, "Runs per cap (default 3)")
        ->check(number_range(1U, 10000U));
    sub->add_option("command", opts->command,
                    "The command and its arguments: options end at its first word, as for env and "
                    "timeout (`--` before it also works)");
    // `measure echo --interval 5` runs `echo --interval 5`: nothing after the command's first
    // word is read as joulebench's own option (issue 22, item 7).
    sub->positionals_at_end(true);
    sub->footer("Usage: joulebench sweep [OPTIONS] [--] CMD [ARGS]...");
    sub->callback([opts, &ctx] { sweep(*opts, ctx); });
}

}  // namespace joulebench::cli
