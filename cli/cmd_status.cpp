// `joulebench status DIR [--json]`: where a Slurm submission stands (docs/slurm.md): per shard,
// Slurm's state beside its store's runs done and planned; the merge job; the total and an ETA.

#include <fmt/core.h>

#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>

#include "cluster/cluster_status.hpp"
#include "cluster/manifest.hpp"
#include "commands.hpp"
#include "joulebench/error.hpp"
#include "joulebench/experiment.hpp"
#include "slurm_runner.hpp"

namespace joulebench::cli {

namespace {

std::string merge_line(const cluster::ClusterStatus& s) {
    const auto& m = s.merge;
    std::string line = m.slurm.job_id.empty() ? std::string("merge job: none submitted")
                                              : fmt::format("merge job {}: {}", m.slurm.job_id,
                                                            to_string(m.slurm.state));
    if (!m.results_exist) return line + "; results.db not written yet";
    return line + (m.results_stale ? "; results.db is older than a shard store"
                                   : "; results.db is up to date");
}

}  // namespace

void add_status_command(CLI::App& app, CommandContext& ctx) {
    struct Options {
        std::string dir;
        bool json = false;
    };
    auto opts = std::make_shared<Options>();
    auto* sub = app.add_subcommand(
        "status",
        "Show where a Slurm submission stands: each shard's job and runs, the merge, an ETA");
    sub->add_option("DIR", opts->dir, "The folder of `joulebench submit --slurm --out DIR`")
        ->required();
    sub->add_flag("--json", opts->json, "Print it as JSON on stdout");
    sub->callback([opts, &ctx] {
        const std::filesystem::path dir = std::filesystem::absolute(opts->dir).lexically_normal();
        const cluster::Manifest manifest = cluster::read_manifest(dir);
        const ExperimentSpec spec = parse_experiment_file(manifest.experiment_file);
        cluster::check_matches(manifest, spec.source_sha256);
        const auto states =
            cluster::query_states(slurm_command_runner(), cluster::jobs_to_query(manifest));
        const auto status = cluster::compute_status(manifest, dir, spec, states);
        if (opts->json) {
            fmt::print("{}\n", cluster::status_json(status).dump(2));
        } else {
            fmt::print("{} ({}), {} shards, states from {}\n", manifest.experiment_name,
                       manifest.experiment_file.string(), manifest.options.shards,
                       status.state_source.empty() ? "nowhere" : status.state_source);
            for (const auto& note : status.notes) fmt::print("note: {}\n", note);
            fmt::print("{}", render_table(cluster::status_table(status), TableFormat::kText));
            fmt::print("{}\n", merge_line(status));
        }
        ctx.exit_code = 0;
    });
}

}  // namespace joulebench::cli
