// `joulebench run FILE --db DB`: run an experiment's plan, recording every run in the store.

#include <fmt/format.h>

#include <cstdio>
#include <string>
#include <vector>

#include "commands.hpp"
#include "live_options.hpp"
#include "common/shell_words.hpp"
#include "option_checks.hpp"
#include "joulebench/error.hpp"
#include "runner/runner.hpp"

namespace joulebench::cli {

void add_run_command(CLI::App& app, CommandContext& ctx) {
    struct Options : LiveOptions {
        std::string file;
        std::string db;
        bool new_store = false;
        unsigned retries = 0;
        std::string shard;
        bool dry_run = false;
        unsigned interval_ms = 100;
        double idle_baseline_s = 5.0;
        double rest_timeout_s = 300.0;
    };
    auto opts = std::make_shared<Options>();
    auto* sub =
        app.add_subcommand("run",
                           "Run an experiment file (workloads x environments x caps x repetitions) "
                           "and record every run in a SQLite store; run again to resume");
    sub->add_option("file", opts->file, "The experiment file (TOML, see docs/experiment.md)")
        ->required();
    sub->add_option("--db", opts->db,
                    "The results store (SQLite); created when missing, resumed when present")
        ->required();
    sub->add_flag("--new", opts->new_store,
                  "Move an existing store aside (DB.replaced-TIME) and start again, e.g. after the "
                  "file changed");
    sub->add_option("--retries", opts->retries,
                    "Re-run failed and timed-out runs up to N more times")
        ->check(number_range(0U, 100U));
    sub->add_option("--shard", opts->shard, "Run only part I of N of the plan (1-based, e.g. 2/4)");
    sub->add_flag("--dry-run", opts->dry_run,
                  "Check everything and print the plan; run and write nothing");
    sub->add_option("--interval", opts->interval_ms, "Trace interval in milliseconds")
        ->check(number_range(1U, 3'600'000U));
    sub->add_option("--idle-baseline", opts->idle_baseline_s,
                    "rest = \"baseline\": seconds of idle measured on each GPU slot before the "
                    "first run (default 5)")
        ->check(number_range(0.1, 3600.0));
    sub->add_option("--rest-timeout", opts->rest_timeout_s,
                    "rest = \"baseline\": longest wait in seconds for a GPU to come back near idle "
                    "(default 300)")
        ->check(number_range(0.0, 86400.0));
    add_live_options(*sub, *opts);
    sub->callback([opts, &ctx] {
        runner::RunnerOptions o;
        o.experiment_file = opts->file;
        o.db = opts->db;
        o.new_store = opts->new_store;
        o.retries = opts->retries;
        if (!opts->shard.empty()) o.shard = parse_shard(opts->shard);
        o.dry_run = opts->dry_run;
        o.interval = std::chrono::milliseconds(opts->interval_ms);
        o.idle_baseline =
            std::chrono::milliseconds(static_cast<long long>(opts->idle_baseline_s * 1000.0));
        o.baseline_timeout =
            std::chrono::milliseconds(static_cast<long long>(opts->rest_timeout_s * 1000.0));
        // As the user would type it again (quoted where needed): shown in hints, kept per session.
        std::vector<std::string> line{"joulebench", "run", opts->file, "--db", opts->db};
        if (opts->new_store) line.emplace_back("--new");
        if (opts->retries > 0) line.insert(line.end(), {"--retries", std::to_string(opts->retries)});
        if (!opts->shard.empty()) line.insert(line.end(), {"--shard", opts->shard});
        o.command_line = shell_line(line);
        LiveViews live(*opts, "run");
        o.live = live.state();
        o.plain = opts->plain;
        const runner::RunnerSummary s = runner::run_experiment(o);
        live.finish();
        if (opts->dry_run) return;
        const auto& c = s.counts;
        std::fflush(stdout);
        fmt::print(stderr,
                   "joulebench run: {}: {} done, {} failed, {} timed out, {} interrupted, {} not "
                   "run yet ({} "
                   "run now)\n",
                   opts->db, c.done, c.failed, c.timeout, c.interrupted, c.planned, s.executed);
        if (s.stopped_by_signal) {
            fmt::print(
                stderr,
                "joulebench run: stopped by signal {}; run the same command again to resume\n",
                *s.stopped_by_signal);
        }
        ctx.exit_code = runs_exit_code(
            (c.failed + c.timeout + c.interrupted + c.planned + c.running) > 0 ? 1 : 0,
            s.stopped_by_signal, s.caps_restored);
    });
}

int runs_exit_code(int status, std::optional<int> stopped_by_signal, bool caps_restored) {
    if (stopped_by_signal) status = 128 + *stopped_by_signal;
    if (!caps_restored) {
        fmt::print(stderr,
                   "error: caps: a power cap could not be restored\nhint: fix the cause, then run "
                   "`joulebench caps restore`\n");
        status = 1;
    }
    return status;
}

}  // namespace joulebench::cli
