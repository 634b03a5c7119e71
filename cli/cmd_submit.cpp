// `joulebench submit FILE --slurm [...]` and `joulebench submit --resume DIR`: an experiment run
// as Slurm jobs, one array task per shard plus a merge job (docs/slurm.md). Parsing and printing
// only; the scripts, sbatch and the manifest are src/cluster/.

#include <fmt/core.h>

#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <sstream>

#include "cluster/batch_scripts.hpp"
#include "cluster/submission.hpp"
#include "commands.hpp"
#include "common/shell_words.hpp"
#include "option_checks.hpp"
#include "common/strings.hpp"
#include "joulebench/error.hpp"
#include "slurm_runner.hpp"

namespace joulebench::cli {

namespace {

namespace fs = std::filesystem;

struct SubmitCliOptions {
    std::string file;
    bool slurm = false;
    unsigned shards = 1;
    cluster::SlurmOptions slurm_options;
    std::string out;
    std::string resume;
    bool dry_run = false;
};

fs::path self_binary() {
    std::error_code ec;
    fs::path self = fs::read_symlink("/proc/self/exe", ec);
    if (ec) throw system_error("submit: find joulebench's own binary (/proc/self/exe)", ec.value());
    return self;
}

void print_scripts(const cluster::SubmitOutcome& outcome) {
    for (const auto& script : outcome.scripts) {
        std::ifstream in(script, std::ios::binary);
        std::ostringstream text;
        text << in.rdbuf();
        fmt::print("==> {} <==\n{}\n", script.string(), text.str());
    }
}

void print_submitted(const cluster::SubmitOutcome& outcome, const fs::path& dir) {
    for (const auto& job : outcome.submitted) {
        if (job.kind == "shards") {
            fmt::print("submitted shards {} of {} as array job {} ({})\n",
                       cluster::format_task_ids(job.tasks), outcome.manifest.options.shards,
                       job.job_id, job.script);
        } else {
            fmt::print("submitted the merge job {} (after {}): writes {} and {}\n", job.job_id,
                       join(job.after, ", "), (dir / cluster::kResultsName).string(),
                       (dir / cluster::kReportName).string());
        }
    }
    fmt::print("jobs recorded in {}\nfollow it: joulebench status {}\n",
               cluster::manifest_path(dir).string(), shell_word(dir.string()));
}

void run_new(const SubmitCliOptions& o) {
    if (o.file.empty())
        throw CLI::ValidationError("submit", "give an experiment FILE, or --resume DIR");
    if (!o.slurm) {
        throw CLI::ValidationError(
            "submit", "--slurm is required: Slurm is the only backend of submit today");
    }
    cluster::SubmitRequest request;
    request.experiment_file = o.file;
    request.dir = o.out.empty() ? cluster::default_submission_dir(o.file) : fs::path(o.out);
    request.joulebench = self_binary();
    request.options = o.slurm_options;
    request.options.shards = o.shards;
    request.dry_run = o.dry_run;
    const auto outcome = cluster::submit_new(request, slurm_command_runner());
    const fs::path dir = fs::absolute(request.dir).lexically_normal();
    if (o.dry_run) {
        print_scripts(outcome);
        fmt::print("dry run: wrote {} scripts into {}, submitted nothing\n", outcome.scripts.size(),
                   dir.string());
        return;
    }
    print_submitted(outcome, dir);
}

void run_resume(const SubmitCliOptions& o, bool shards_given) {
    if (!o.file.empty()) {
        throw CLI::ValidationError("submit", "--resume DIR takes no FILE: the submission names it");
    }
    const auto& s = o.slurm_options;
    if (!s.partition.empty() || !s.account.empty() || !s.time.empty() || s.gpus_per_shard > 0 ||
        !s.sbatch_args.empty() || !o.out.empty()) {
        throw CLI::ValidationError(
            "submit",
            "--resume keeps the submission's options (DIR/submission.json): leave out "
            "--partition, --account, --time, --gpus-per-shard, --sbatch-arg and --out");
    }
    cluster::ResumeRequest request;
    request.dir = o.resume;
    if (shards_given) request.shards = o.shards;
    request.dry_run = o.dry_run;
    const auto outcome = cluster::submit_resume(request, slurm_command_runner());
    const fs::path dir = fs::absolute(request.dir).lexically_normal();
    if (!outcome.resubmitted_shards.empty()) {
        fmt::print("unfinished shards, in no active job: {}\n",
                   cluster::format_task_ids(outcome.resubmitted_shards));
    }
    if (outcome.submitted.empty() && outcome.scripts.empty()) {
        fmt::print("nothing to submit: {}\n", outcome.summary);
        return;
    }
    if (o.dry_run) {
        print_scripts(outcome);
        fmt::print("dry run: submitted nothing\n");
        return;
    }
    print_submitted(outcome, dir);
}

}  // namespace

void add_submit_command(CLI::App& app, CommandContext& ctx) {
    auto o = std::make_shared<SubmitCliOptions>();
    auto* sub = app.add_subcommand(
        "submit",
        "Run an experiment as Slurm jobs: one array task per shard, then a merge job "
        "(docs/slurm.md)");
    sub->add_option("file", o->file, "The experiment file (TOML)");
    sub->add_flag("--slurm", o->slurm, "Submit to Slurm with sbatch (required: the only backend)");
    auto* shards = sub->add_option("--shards", o->shards, "Number of shards (array tasks)")
                       ->check(number_range(1U, 10000U));
    sub->add_option("--partition", o->slurm_options.partition, "Slurm partition (-p)");
    sub->add_option("--account", o->slurm_options.account, "Slurm account (-A)");
    sub->add_option("--time", o->slurm_options.time,
                    "Time limit of each shard's job (Slurm's syntax)");
    sub->add_option("--gpus-per-shard", o->slurm_options.gpus_per_shard,
                    "GPUs each shard holds (--gres=gpu:K)")
        ->check(number_range(0U, 1024U));
    sub->add_option("--sbatch-arg", o->slurm_options.sbatch_args,
                    "One more sbatch option, written as an #SBATCH line (repeatable), e.g. "
                    "--sbatch-arg=--qos=long")
        ->allow_extra_args(false);
    sub->add_option("--out", o->out,
                    "Folder for the scripts, the stores, the logs and submission.json (default: "
                    "FILE's stem + .slurm in the current folder)");
    sub->add_option("--resume", o->resume,
                    "Resubmit the unfinished shards of the submission in DIR, then its merge job");
    sub->add_flag("--dry-run", o->dry_run, "Write and print the scripts; submit nothing");
    sub->callback([o, shards, &ctx] {
        if (o->resume.empty()) {
            run_new(*o);
        } else {
            run_resume(*o, shards->count() > 0);
        }
        ctx.exit_code = 0;
    });
}

}  // namespace joulebench::cli
