// `joulebench tune --caps FROM:TO:STEP --metric energy|edp|ed2p|energy-within-slowdown
// [--max-slowdown PCT] [--method search|online] [--budget RUNS] [--confidence 0.95] [--gpus ...]
// [--db DB] [--json FILE] [--seed N] -- CMD ARGS...`: the best GPU power cap for a metric, for a
// fraction of a sweep's runs (docs/tune.md). `search` runs CMD at chosen caps through the same
// runner as `sweep` (src/tune/driver); `online` changes the cap while one run of CMD works
// (src/tune/online).

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "commands.hpp"
#include "grid_options.hpp"
#include "common/atomic_file.hpp"
#include "common/shell_words.hpp"
#include "joulebench/error.hpp"
#include "model/measure_json.hpp"
#include "model/sweep.hpp"
#include "option_checks.hpp"
#include "report/measure_summary.hpp"
#include "scratch_folder.hpp"
#include "tune/driver.hpp"
#include "tune/online.hpp"
#include "tune/report.hpp"

namespace joulebench::cli {
namespace {

namespace fs = std::filesystem;

struct TuneCliOptions : GridOptions {
    std::string metric = "edp";
    std::optional<double> max_slowdown_pct;
    std::string method = "search";
    std::size_t budget = 0;
    double confidence = 0.95;
    unsigned max_runs_per_cap = 3;
    // --method online (docs/tune.md, "The online method").
    std::string progress_regex;
    double settle_s = 1.0;
    double segment_s = 5.0;
    double progress_timeout_s = 60.0;
    unsigned passes = 2;
    std::vector<std::string> command;
};

Error usage_error(const std::string& message, const std::string& hint) {
    Error e(ErrorCategory::kInvalidArgument, message, hint);
    e.set_exit_code(2);
    return e;
}

tune::SearchOptions search_options(const TuneCliOptions& opts) {
    const auto metric = tune::parse_metric(opts.metric);
    if (!metric) {
        throw usage_error(fmt::format("tune: --metric {}: not a metric", opts.metric),
                          "give --metric energy, edp, ed2p or energy-within-slowdown");
    }
    if (opts.max_slowdown_pct && *metric != tune::Metric::kEnergyWithinSlowdown) {
        throw usage_error("tune: --max-slowdown applies to --metric energy-within-slowdown only",
                          "drop --max-slowdown, or give --metric energy-within-slowdown");
    }
    tune::SearchOptions o;
    o.caps_w = parse_sweep_caps(opts.caps);
    o.metric = *metric;
    o.max_slowdown = opts.max_slowdown_pct.value_or(10.0) / 100.0;
    o.budget = opts.budget;
    o.confidence = opts.confidence;
    o.max_runs_per_cap = opts.max_runs_per_cap;
    return o;
}

std::string command_line(const TuneCliOptions& opts) {
    std::string line = fmt::format("joulebench tune --caps {} --metric {}", opts.caps, opts.metric);
    if (opts.max_slowdown_pct) line += fmt::format(" --max-slowdown {:g}", *opts.max_slowdown_pct);
    if (opts.budget > 0) line += fmt::format(" --budget {}", opts.budget);
    if (!opts.gpus.empty()) line += " --gpus " + opts.gpus;
    if (!opts.db.empty()) line += " --db " + shell_word(opts.db);
    return line + " -- " + shell_line(opts.command);
}

// Prints the report (on stderr when the JSON goes to standard output) and writes the JSON.
void report(const TuneCliOptions& opts, const tune::TuneReport& r) {
    std::FILE* text_out = opts.json == "-" ? stderr : stdout;
    std::fflush(stdout);
    std::fputs(tune::render_text(r).c_str(), text_out);
    std::fflush(text_out);
    if (!opts.json.empty()) write_output(opts.json, tune::to_json(r).dump(2) + "\n");
}

std::chrono::milliseconds milliseconds_of(double seconds) {
    return std::chrono::milliseconds(std::llround(seconds * 1000.0));
}

// --method online: one run of the command, the cap changed while it works (src/tune/online). The
// command's output is passed through on standard output, so the report goes to standard error.
void tune_online(const TuneCliOptions& opts, CommandContext& ctx) {
    if (!opts.db.empty() || opts.budget > 0) {
        throw usage_error("tune: --db and --budget apply to --method search only",
                          "the online method makes one run and keeps no store");
    }
    const tune::SearchOptions search = search_options(opts);
    tune::OnlineOptions o;
    o.command = opts.command;
    o.caps_w = search.caps_w;
    o.progress_regex = opts.progress_regex;
    o.settle = milliseconds_of(opts.settle_s);
    o.segment = milliseconds_of(opts.segment_s);
    o.progress_timeout = milliseconds_of(opts.progress_timeout_s);
    o.gpus = opts.gpus;
    o.interval = std::chrono::milliseconds(opts.interval_ms);
    o.passes = opts.passes;
    o.metric = search.metric;
    o.max_slowdown = search.max_slowdown;
    o.confidence = search.confidence;
    if (!opts.json.empty()) check_output(opts.json);  // before the run, not after

    // The command's output is on standard output: no dashboard, metrics only when asked.
    LiveViews live(opts, "tune-online");
    tune::OnlineDependencies deps = tune::production_online_dependencies();
    deps.live = live.state();
    const tune::OnlineOutcome out = tune::run_online(o, deps);
    tune::TuneReport r;
    r.method = "online";
    r.options = search;
    r.command = opts.command;
    r.result = out.result;
    r.runs_attempted = 1;
    r.runs_failed = out.exit_code != 0 ? 1 : 0;
    r.full_sweep_runs = 3 * search.caps_w.size();
    // A sweep's run lasts about as long as this one (the same command, run to its end).
    r.full_sweep_time_s = static_cast<double>(r.full_sweep_runs) * out.wall_s;
    r.machine_time_s = out.wall_s;
    r.energy_spent_j = out.energy_j;
    r.notes = out.warnings;
    std::fflush(stdout);
    std::fputs(tune::render_text(r).c_str(), stderr);
    for (const auto& p : out.phases) fmt::print(stderr, "  {}\n", report::phase_line(p));
    std::fflush(stderr);
    if (!opts.json.empty()) {
        nlohmann::json j = tune::to_json(r);
        j["segments"] = nlohmann::json::array();
        for (const auto& s : out.segments) {
            j["segments"].push_back({{"cap_w", s.cap_w},
                                     {"pass", s.pass},
                                     {"seconds", s.seconds},
                                     {"energy_j", s.energy_j},
                                     {"units", s.units}});
        }
        j["phases"] = phases_to_json(out.phases);
        j["units"] = out.units;
        j["exit_code"] = out.exit_code;
        j["gpus"] = out.gpus;
        write_output(opts.json, j.dump(2) + "\n");
    }
    ctx.exit_code = out.result.best_cap_w && out.exit_code == 0 ? 0 : 1;
    if (out.exit_code != 0) {
        fmt::print(stderr, "joulebench tune: the command ended with exit status {}\n",
                   out.exit_code);
    }
    if (out.stopped_by) ctx.exit_code = 128 + *out.stopped_by;
    live.finish();
}

void tune_command(const TuneCliOptions& opts, CommandContext& ctx) {
    if (opts.command.empty()) {
        throw usage_error("tune: no command given",
                          "usage: joulebench tune --caps 150:450:50 --metric edp -- CMD [ARGS...]");
    }
    if (opts.method == "online") {
        tune_online(opts, ctx);
        return;
    }
    if (opts.method != "search") {
        throw usage_error(fmt::format("tune: --method {}: not a method", opts.method),
                          "give --method search or online");
    }
    if (!opts.progress_regex.empty()) {
        throw usage_error("tune: --progress-regex applies to --method online only",
                          "give --method online, or drop --progress-regex");
    }
    tune::SearchRequest request;
    request.command = opts.command;
    request.options = search_options(opts);
    request.gpus = opts.gpus;
    request.seed = opts.seed;
    request.interval = std::chrono::milliseconds(opts.interval_ms);
    request.command_line = command_line(opts);
    if (!opts.json.empty()) check_output(opts.json);  // before the runs, not after
    LiveViews live(opts, "run");
    request.live = live.state();
    request.plain = opts.plain;

    const bool temporary_store = opts.db.empty();
    std::optional<ScratchFolder> scratch;
    if (temporary_store) scratch.emplace("tune");
    request.db = temporary_store ? scratch->path() / "tune.db" : fs::path(opts.db);

    tune::SearchOutcome outcome;
    try {
        outcome = tune::run_search(request, stderr);
    } catch (...) {
        if (scratch && fs::exists(request.db)) {
            scratch->keep();
            fmt::print(stderr, "joulebench tune: the runs are kept in {}\n", request.db.string());
        }
        throw;
    }
    live.finish();
    report(opts, outcome.report);

    ctx.exit_code = runs_exit_code(outcome.report.result.best_cap_w ? 0 : 1,
                                   outcome.stopped_by_signal, outcome.caps_restored);
    if (temporary_store && ctx.exit_code != 0) {
        scratch->keep();
        fmt::print(stderr,
                   "joulebench tune: the search did not end; its runs are kept in {}: the same "
                   "command with --db {} resumes it\n",
                   request.db.string(), shell_word(request.db.string()));
    }
}

}  // namespace

void add_tune_command(CLI::App& app, CommandContext& ctx) {
    auto opts = std::make_shared<TuneCliOptions>();
    auto* sub = app.add_subcommand(
        "tune",
        "Find the GPU power cap that minimises energy, EDP, ED2P or energy within a slowdown "
        "budget, with a fraction of a sweep's runs");
    add_grid_options(*sub, *opts, "search");
    sub->add_option("--metric", opts->metric,
                    "What to minimise: energy, edp, ed2p, or energy-within-slowdown (default edp)");
    sub->add_option("--max-slowdown", opts->max_slowdown_pct,
                    "energy-within-slowdown: the most a cap may slow the command, in percent of "
                    "its time at the highest cap (default 10)")
        ->check(number_range(0.0, 1000.0));
    sub->add_option("--method", opts->method,
                    "search: separate runs at chosen caps (default); online: one run, the cap "
                    "changed while it works");
    sub->add_option("--budget", opts->budget,
                    "search: the most runs in all (default: a quarter of a 3-repetition sweep's "
                    "runs, at least 10)")
        ->check(number_range(2U, 1'000'000U));
    sub->add_option("--confidence", opts->confidence,
                    "Confidence of each comparison and of the interval (default 0.95)")
        ->check(number_range(0.51, 0.999));
    sub->add_option("--max-runs-per-cap", opts->max_runs_per_cap,
                    "search: the most runs a comparison takes at one cap before it calls the "
                    "two caps a tie (default 3)")
        ->check(number_range(2U, 100U));
    sub->add_option("--progress-regex", opts->progress_regex,
                    "online: a regex (ECMAScript) matching the line CMD prints on standard "
                    "output per unit of work, e.g. '^step [0-9]+'");
    sub->add_option("--settle", opts->settle_s,
                    "online: seconds after each cap change that are not measured (default 1)")
        ->check(number_range(0.0, 3600.0));
    sub->add_option("--segment", opts->segment_s,
                    "online: seconds measured per cap and pass, at least (default 5)")
        ->check(number_range(0.001, 36000.0));
    sub->add_option("--progress-timeout", opts->progress_timeout_s,
                    "online: stop when no unit of work ends within this many seconds while the "
                    "caps are profiled (default 60)")
        ->check(number_range(0.001, 86400.0));
    sub->add_option("--passes", opts->passes,
                    "online: passes over the caps, up then down (default 2; 1 gives no interval)")
        ->check(number_range(1U, 100U));
    sub->add_option("command", opts->command,
                    "The command and its arguments: options end at its first word (`--` before "
                    "it also works)");
    sub->positionals_at_end(true);
    sub->footer(
        "Usage: joulebench tune --caps FROM:TO:STEP [OPTIONS] [--] CMD [ARGS]...\n"
        "       joulebench tune --method online --caps FROM:TO:STEP --progress-regex REGEX "
        "[OPTIONS] [--] CMD [ARGS]...");
    sub->callback([opts, &ctx] { tune_command(*opts, ctx); });
}

}  // namespace joulebench::cli
