// `joulebench plan FILE [--shard I/N] [--json]`: validates an experiment file and prints the
// expanded, ordered plan (the dry run before a multi-day experiment). Nothing is run or written.

#include <fmt/core.h>

#include <cstdio>
#include <memory>
#include <nlohmann/json.hpp>

#include "commands.hpp"
#include "common/json_number.hpp"
#include "joulebench/error.hpp"
#include "joulebench/experiment.hpp"

namespace joulebench::cli {
namespace {

std::string cap_text(const std::optional<double>& w) {
    return w ? format_watts(*w) + " W" : "-";
}

std::string list_text(const std::vector<double>& values) {
    std::string out;
    for (const double v : values) out += (out.empty() ? "" : ", ") + format_watts(v);
    return out;
}

}  // namespace

void add_plan_command(CLI::App& app, CommandContext& ctx) {
    struct Options {
        std::string file;
        std::string shard;
        bool json = false;
    };
    auto opts = std::make_shared<Options>();
    auto* sub = app.add_subcommand(
        "plan", "Validate an experiment file and print its ordered plan (dry run)");
    sub->add_option("file", opts->file, "Experiment file (TOML)")->required();
    sub->add_option("--shard", opts->shard, "Only part I of N of the plan, e.g. 2/4");
    sub->add_flag("--json", opts->json, "Print the plan as JSON on stdout");
    sub->callback([opts, &ctx] {
        const ExperimentSpec spec = parse_experiment_file(opts->file);
        std::optional<Shard> shard;
        if (!opts->shard.empty()) shard = parse_shard(opts->shard);
        const Plan plan = make_plan(spec, shard);
        for (const auto& warning : plan.warnings) fmt::print(stderr, "warning: {}\n", warning);

        if (opts->json) {
            nlohmann::ordered_json doc;
            doc["experiment"] = {{"name", spec.name},
                                 {"file", spec.source_name},
                                 {"sha256", spec.source_sha256},
                                 {"repetitions", spec.repetitions},
                                 {"order", std::string(to_string(spec.order))},
                                 {"seed", spec.seed},
                                 {"seed_given", spec.seed_given}};
            doc["variants"] = plan.variants;
            doc["total_runs"] = plan.total_runs;
            doc["shard"] =
                shard ? nlohmann::ordered_json({{"index", shard->index}, {"count", shard->count}})
                      : nlohmann::ordered_json(nullptr);
            doc["warnings"] = plan.warnings;
            nlohmann::ordered_json runs = nlohmann::ordered_json::array();
            for (const auto& run : plan.runs) {
                runs.push_back({{"run_id", run.run_id},
                                {"plan_index", run.plan_index},
                                {"workload", run.workload},
                                {"environment", run.environment},
                                {"power_cap_w", json_number<nlohmann::ordered_json>(run.gpu_cap_w)},
                                {"cpu_power_cap_w", json_number<nlohmann::ordered_json>(run.cpu_cap_w)},
                                {"repetition", run.repetition}});
            }
            doc["runs"] = std::move(runs);
            fmt::print("{}\n", doc.dump(2));
            ctx.exit_code = 0;
            return;
        }

        fmt::print("experiment '{}' ({}, sha256 {})\n", spec.name, spec.source_name,
                   spec.source_sha256.substr(0, 12));
        // "2 workloads x 2 environments x 3 GPU caps = 12 variants, 10 repetitions: 120 runs"
        const auto factor = [](std::size_t n, const char* one, const char* many) {
            return fmt::format("{} {}", n, n == 1 ? one : many);
        };
        std::string factors = factor(spec.workloads.size(), "workload", "workloads") + " x " +
                              factor(spec.environments.size(), "environment", "environments");
        if (!spec.power_caps.gpu_w.empty()) {
            factors += " x " + factor(spec.power_caps.gpu_w.size(), "GPU cap", "GPU caps");
        }
        if (!spec.power_caps.cpu_w.empty()) {
            factors += " x " + factor(spec.power_caps.cpu_w.size(), "CPU cap", "CPU caps");
        }
        fmt::print("  {} = {} variants, {} repetitions: {} runs\n", factors, plan.variants,
                   spec.repetitions, plan.total_runs);
        fmt::print(
            "  order {}, seed {}{}\n", to_string(spec.order), spec.seed,
            spec.seed_given ? "" : " (derived from the experiment name; set `seed` to choose)");
        if (!spec.power_caps.gpu_w.empty())
            fmt::print("  GPU caps (W): {}\n", list_text(spec.power_caps.gpu_w));
        if (!spec.power_caps.cpu_w.empty())
            fmt::print("  CPU caps (W): {}\n", list_text(spec.power_caps.cpu_w));
        std::string warmup = "none";
        if (spec.warmup.kind == WarmupSpec::Kind::kDuration)
            warmup = format_duration_ms(spec.warmup.duration);
        if (spec.warmup.kind == WarmupSpec::Kind::kCommand)
            warmup = "command " + spec.warmup.command.front();
        std::string rest = "none";
        if (spec.rest.kind == RestSpec::Kind::kDuration)
            rest = format_duration_ms(spec.rest.duration);
        if (spec.rest.kind == RestSpec::Kind::kBaseline) rest = "until back near the idle baseline";
        std::string gpus = "none (one run at a time)";
        if (spec.gpus) {
            if (spec.gpus->all) {
                gpus = "all";
            } else {
                gpus.clear();
                for (const int g : spec.gpus->devices)
                    gpus += (gpus.empty() ? "" : ", ") + std::to_string(g);
            }
            if (spec.gpus->mode == GpuMode::kGang) gpus += " (gang: every run on every slot at once)";
        }
        fmt::print("  warmup {}; rest {}; GPU slots {}\n", warmup, rest, gpus);
        if (shard) {
            fmt::print("  shard {}/{}: {} of {} runs\n", shard->index, shard->count,
                       plan.runs.size(), plan.total_runs);
        }
        std::size_t workload_width = 8;
        std::size_t environment_width = 11;
        for (const auto& run : plan.runs) {
            workload_width = std::max(workload_width, run.workload.size());
            environment_width = std::max(environment_width, run.environment.size());
        }
        fmt::print("\n{:>6}  {:<16}  {:<{}}  {:<{}}  {:>8}  {:>8}  {:>4}\n", "#", "run id",
                   "workload", workload_width, "environment", environment_width, "GPU cap",
                   "CPU cap", "rep");
        for (const auto& run : plan.runs) {
            fmt::print("{:>6}  {:<16}  {:<{}}  {:<{}}  {:>8}  {:>8}  {:>4}\n", run.plan_index,
                       run.run_id, run.workload, workload_width, run.environment, environment_width,
                       cap_text(run.gpu_cap_w), cap_text(run.cpu_cap_w), run.repetition);
        }
        ctx.exit_code = 0;
    });
}

}  // namespace joulebench::cli
