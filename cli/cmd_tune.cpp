// `joulebench tune --method online --caps 150:450:50 --progress-regex REGEX -- CMD`: the online
// method of the cap tuner (src/tune/online.hpp, docs/tune.md): one long run of CMD, the GPU cap
// changed every few seconds while it runs, energy and time per unit of work for every cap.
//
// This file holds the online path only; the separate-runs search (`--method search`) is added
// beside it.

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <cmath>
#include <cstdio>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "commands.hpp"
#include "common/atomic_file.hpp"
#include "joulebench/error.hpp"
#include "joulebench/table.hpp"
#include "model/sweep.hpp"
#include "option_checks.hpp"
#include "tune/online.hpp"

namespace joulebench::cli {
namespace {

struct Options {
    std::string method = "search";
    std::string caps;
    std::string metric = "edp";
    double max_slowdown_pct = 10.0;
    double confidence = 0.95;
    std::string gpus;
    unsigned interval_ms = 100;
    std::string json;
    std::string progress_regex;
    double settle_s = 1.0;
    double segment_s = 5.0;
    double progress_timeout_s = 60.0;
    unsigned passes = 2;
    std::vector<std::string> command;
};

// The metric's words (the same as search.hpp's metric_name / parse_metric).
std::optional<tune::Metric> metric_of(const std::string& text) {
    if (text == "energy") return tune::Metric::kEnergy;
    if (text == "edp") return tune::Metric::kEdp;
    if (text == "ed2p") return tune::Metric::kEd2p;
    if (text == "energy-within-slowdown") return tune::Metric::kEnergyWithinSlowdown;
    return std::nullopt;
}

std::chrono::milliseconds milliseconds_of(double seconds) {
    return std::chrono::milliseconds(std::llround(seconds * 1000.0));
}

tune::OnlineOptions online_options(const Options& opts) {
    tune::OnlineOptions o;
    o.command = opts.command;
    try {
        o.caps_w = parse_sweep_caps(opts.caps);
    } catch (const Error& e) {
        std::string message = e.what();
        if (message.rfind("sweep: ", 0) == 0) message.replace(0, 7, "tune: ");
        throw Error(e.category(), message, e.hint());
    }
    o.progress_regex = opts.progress_regex;
    o.settle = milliseconds_of(opts.settle_s);
    o.segment = milliseconds_of(opts.segment_s);
    o.progress_timeout = milliseconds_of(opts.progress_timeout_s);
    o.gpus = opts.gpus;
    o.interval = std::chrono::milliseconds(opts.interval_ms);
    o.passes = opts.passes;
    const auto metric = metric_of(opts.metric);
    if (!metric) {
        throw Error(ErrorCategory::kInvalidArgument,
                    fmt::format("tune: --metric {}: not a metric", opts.metric),
                    "energy, edp, ed2p or energy-within-slowdown");
    }
    o.metric = *metric;
    o.max_slowdown = opts.max_slowdown_pct / 100.0;
    o.confidence = opts.confidence;
    return o;
}

Table cap_table(const tune::OnlineOutcome& out) {
    Table t{
        .title = "per unit of work, medians over each cap's segments",
        .headers = {"cap W", "segments", "s/unit", "J/unit", "EDP J s", "ED2P J s2", "slowdown %"}};
    for (const auto& e : out.result.evaluated) {
        t.rows.push_back({fmt::format("{:g}", e.cap_w), std::to_string(e.runs),
                          number_cell(e.median_time_s), number_cell(e.median_energy_j),
                          number_cell(e.median_edp_js), number_cell(e.median_ed2p_js2),
                          percent_cell(e.slowdown * 100.0) + (e.allowed ? "" : " (over)")});
    }
    return t;
}

void print_summary(const Options& opts, const tune::OnlineOutcome& out, std::FILE* to) {
    const auto& r = out.result;
    std::string text = fmt::format("joulebench tune (online, {}): {}\n", opts.metric,
                                   fmt::join(opts.command, " "));
    text += render_table(cap_table(out), TableFormat::kText);
    if (r.best_cap_w) {
        text += fmt::format("best cap: {:g} W, {} per unit {}", *r.best_cap_w, opts.metric,
                            number_cell(r.best_metric));
        if (r.ci_low && r.ci_high) {
            text += fmt::format(" ({:g}% interval {} to {})", opts.confidence * 100.0,
                                number_cell(*r.ci_low), number_cell(*r.ci_high));
        }
        text += "\n";
        text += r.indistinguishable_caps_w.empty()
                    ? std::string("no other cap is within the noise of it\n")
                    : fmt::format("cannot be told apart from it: {} W\n",
                                  fmt::join(r.indistinguishable_caps_w, " W, "));
    } else {
        text += "best cap: none\n";
    }
    text += fmt::format("runs used: {}; machine time {:.1f} s, GPU energy {:.1f} J; {} units\n",
                        r.runs_used, out.wall_s, out.energy_j, out.units);
    for (const auto& n : r.notes) text += "note: " + n + "\n";
    for (const auto& w : out.warnings) text += "warning: " + w + "\n";
    std::fflush(stdout);
    std::fputs(text.c_str(), to);
    std::fflush(to);
}

nlohmann::ordered_json to_json(const Options& opts, const tune::OnlineOutcome& out) {
    const auto& r = out.result;
    nlohmann::ordered_json j;
    j["method"] = "online";
    j["metric"] = opts.metric;
    j["command"] = opts.command;
    j["best_cap_w"] = r.best_cap_w ? nlohmann::ordered_json(*r.best_cap_w) : nullptr;
    j["best_metric"] = r.best_metric;
    j["ci"] = r.ci_low && r.ci_high ? nlohmann::ordered_json({*r.ci_low, *r.ci_high}) : nullptr;
    j["confidence"] = opts.confidence;
    j["indistinguishable_caps_w"] = r.indistinguishable_caps_w;
    j["runs_used"] = r.runs_used;
    j["confident"] = r.confident;
    j["machine_time_s"] = out.wall_s;
    j["machine_energy_j"] = out.energy_j;
    j["units"] = out.units;
    j["exit_code"] = out.exit_code;
    auto& caps = j["caps"] = nlohmann::ordered_json::array();
    for (const auto& e : r.evaluated) {
        caps.push_back({{"cap_w", e.cap_w},
                        {"segments", e.runs},
                        {"time_per_unit_s", e.median_time_s},
                        {"energy_per_unit_j", e.median_energy_j},
                        {"edp_js", e.median_edp_js},
                        {"ed2p_js2", e.median_ed2p_js2},
                        {"metric", e.metric},
                        {"allowed", e.allowed},
                        {"slowdown", e.slowdown}});
    }
    auto& segments = j["segments"] = nlohmann::ordered_json::array();
    for (const auto& s : out.segments) {
        segments.push_back({{"cap_w", s.cap_w},
                            {"pass", s.pass},
                            {"seconds", s.seconds},
                            {"energy_j", s.energy_j},
                            {"units", s.units}});
    }
    j["notes"] = r.notes;
    j["warnings"] = out.warnings;
    return j;
}

void tune_command(const Options& opts, CommandContext& ctx) {
    if (opts.method != "online") {
        throw Error(ErrorCategory::kInvalidArgument,
                    fmt::format("tune: --method {}: not available in this build", opts.method),
                    "use --method online");
    }
    const tune::OnlineOptions o = online_options(opts);
    if (!opts.json.empty()) check_output(opts.json);
    tune::OnlineDependencies deps = tune::production_online_dependencies();
    const tune::OnlineOutcome out = tune::run_online(o, deps);
    // The command's output is on standard output: the summary goes to stderr.
    print_summary(opts, out, stderr);
    if (!opts.json.empty()) {
        write_output(opts.json,
                     to_json(opts, out).dump(2, ' ', false,
                                             nlohmann::ordered_json::error_handler_t::replace) +
                         "\n");
    }
    ctx.exit_code = out.exit_code == 0 ? 0 : 1;
    if (out.exit_code != 0) {
        fmt::print(stderr, "joulebench tune: the command ended with exit status {}\n",
                   out.exit_code);
    }
    if (out.stopped_by) ctx.exit_code = 128 + *out.stopped_by;
}

}  // namespace

void add_tune_command(CLI::App& app, CommandContext& ctx) {
    auto opts = std::make_shared<Options>();
    auto* sub = app.add_subcommand(
        "tune", "Find the GPU power cap that minimises energy, EDP or ED2P of a command");
    sub->add_option("--method", opts->method,
                    "online: one run, the cap changed while it works (needs --progress-regex)");
    sub->add_option("--caps", opts->caps,
                    "GPU power caps in watts: FROM:TO:STEP or a comma list 150,200,250")
        ->required();
    sub->add_option("--metric", opts->metric,
                    "energy, edp, ed2p or energy-within-slowdown (default edp)");
    sub->add_option("--max-slowdown", opts->max_slowdown_pct,
                    "energy-within-slowdown: the most a cap may slow the command, in percent of "
                    "its time at the highest cap (default 10)")
        ->check(number_range(0.0, 1000.0));
    sub->add_option("--confidence", opts->confidence,
                    "Of the interval and of \"cannot be told apart\" (default 0.95)")
        ->check(number_range(0.51, 0.999));
    sub->add_option("--gpus", opts->gpus,
                    "GPUs to cap: indices in PCI bus order (0,1); default all");
    sub->add_option("--interval", opts->interval_ms,
                    "Read the energy counters at least this often, milliseconds (default 100)")
        ->check(number_range(1U, 60'000U));
    sub->add_option("--json", opts->json, "Write the result as JSON to this file (- for stdout)");
    sub->add_option("--progress-regex", opts->progress_regex,
                    "online: a regex (ECMAScript) matching the line CMD prints per unit of work");
    sub->add_option("--settle", opts->settle_s,
                    "online: seconds after each cap change that are not measured (default 1)")
        ->check(number_range(0.0, 3600.0));
    sub->add_option("--segment", opts->segment_s,
                    "online: seconds measured per cap and pass, at least (default 5)")
        ->check(number_range(0.001, 36000.0));
    sub->add_option("--progress-timeout", opts->progress_timeout_s,
                    "online: stop when no unit of work ends within this many seconds (default 60)")
        ->check(number_range(0.001, 86400.0));
    sub->add_option("--passes", opts->passes,
                    "online: passes over the caps, up then down (default 2; 1 gives no interval)")
        ->check(number_range(1U, 100U));
    sub->add_option("command", opts->command,
                    "The command and its arguments: options end at its first word (`--` before it "
                    "also works)");
    sub->positionals_at_end(true);
    sub->footer(
        "Usage: joulebench tune --method online --caps FROM:TO:STEP --progress-regex REGEX "
        "[OPTIONS] [--] CMD [ARGS]...");
    sub->callback([opts, &ctx] { tune_command(*opts, ctx); });
}

}  // namespace joulebench::cli
