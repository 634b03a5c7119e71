#include "cluster/submission.hpp"

#include <fmt/core.h>

#include <algorithm>

#include "cluster/batch_scripts.hpp"
#include "common/atomic_file.hpp"
#include "common/strings.hpp"
#include "joulebench/error.hpp"
#include "joulebench/experiment.hpp"

namespace joulebench::cluster {

namespace fs = std::filesystem;

namespace {

fs::path write_script(const fs::path& dir, const std::string& name, const std::string& text) {
    const fs::path path = dir / name;
    write_output(path, text);
    return path;
}

std::size_t shard_submissions(const Manifest& m) {
    return static_cast<std::size_t>(std::count_if(
        m.jobs.begin(), m.jobs.end(), [](const SubmittedJob& j) { return j.kind == "shards"; }));
}

// Submits the merge job after `after`, records it; an sbatch failure names what was submitted.
void submit_merge(const fs::path& dir, const std::vector<std::string>& after,
                  SubmitOutcome& outcome, const CommandRunner& run) {
    Manifest& m = outcome.manifest;
    const fs::path script = write_script(dir, kMergeScriptName, merge_script(m, dir));
    outcome.scripts.push_back(script);
    std::string id;
    try {
        id = submit_batch(run, script, sbatch_arguments(dir, after));
    } catch (const Error& e) {
        if (outcome.submitted.empty()) throw;
        std::vector<std::string> ids;
        for (const auto& job : outcome.submitted) ids.push_back(job.job_id);
        throw Error(e.category(),
                    fmt::format("{}; the shards' array job {} WAS submitted (recorded in {}), the "
                                "merge job was not",
                                e.what(), join(ids, ", "), manifest_path(dir).string()),
                    fmt::format("`joulebench submit --resume {}` submits the merge job again; or "
                                "`scancel {}` to withdraw the shards",
                                dir.string(), join(ids, " ")));
    }
    SubmittedJob job{"merge", id, {}, after, kMergeScriptName, utc_now()};
    m.jobs.push_back(job);
    outcome.submitted.push_back(job);
    write_manifest(dir, m);
}

// Writes and submits the array job of `tasks`; records it.
std::string submit_shards(const fs::path& dir, const std::vector<unsigned>& tasks, bool dry_run,
                          SubmitOutcome& outcome, const CommandRunner& run) {
    Manifest& m = outcome.manifest;
    const std::string name = shard_script_name(shard_submissions(m) + 1);
    outcome.scripts.push_back(write_script(dir, name, shard_array_script(m, dir, tasks)));
    if (dry_run) return {};
    const std::string id = submit_batch(run, outcome.scripts.back(), sbatch_arguments(dir, {}));
    SubmittedJob job{"shards", id, tasks, {}, name, utc_now()};
    m.jobs.push_back(job);
    outcome.submitted.push_back(job);
    write_manifest(dir, m);
    return id;
}

ExperimentSpec parse_for_submission(const fs::path& file, unsigned shards) {
    ExperimentSpec spec = parse_experiment_file(file);
    const std::size_t total = make_plan(spec).total_runs;
    if (shards > total) {
        throw Error(ErrorCategory::kInvalidArgument,
                    fmt::format("submit: --shards {} is more than the {} runs of {}", shards, total,
                                file.string()),
                    "every shard needs at least one run: use --shards " + std::to_string(total) +
                        " or fewer");
    }
    return spec;
}

}  // namespace

fs::path default_submission_dir(const fs::path& file) {
    return fs::current_path() / (file.stem().string() + ".slurm");
}

SubmitOutcome submit_new(const SubmitRequest& request, const CommandRunner& run) {
    validate_options(request.options);
    const fs::path file = fs::absolute(request.experiment_file).lexically_normal();
    const ExperimentSpec spec = parse_for_submission(file, request.options.shards);
    const fs::path dir = fs::absolute(request.dir).lexically_normal();
    std::error_code ec;
    if (fs::exists(manifest_path(dir), ec)) {
        throw Error(ErrorCategory::kInvalidArgument,
                    fmt::format("submit: {} holds a submission already ({})", dir.string(),
                                manifest_path(dir).string()),
                    fmt::format("`joulebench submit --resume {}` continues it; `joulebench "
                                "status {}` shows it; or give another --out",
                                dir.string(), dir.string()));
    }
    fs::create_directories(dir, ec);
    if (ec) throw system_error("submit: create " + dir.string(), ec.value());

    SubmitOutcome outcome;
    Manifest& m = outcome.manifest;
    m.experiment_file = file;
    m.experiment_sha256 = spec.source_sha256;
    m.experiment_name = spec.name;
    m.joulebench = request.joulebench;
    m.options = request.options;
    std::vector<unsigned> tasks(request.options.shards);
    for (unsigned i = 0; i < request.options.shards; ++i) tasks[i] = i + 1;
    const std::string array_id = submit_shards(dir, tasks, request.dry_run, outcome, run);
    if (request.dry_run) {
        outcome.scripts.push_back(write_script(dir, kMergeScriptName, merge_script(m, dir)));
        return outcome;
    }
    submit_merge(dir, {array_id}, outcome, run);
    return outcome;
}

SubmitOutcome submit_resume(const ResumeRequest& request, const CommandRunner& run) {
    const fs::path dir = fs::absolute(request.dir).lexically_normal();
    SubmitOutcome outcome;
    outcome.manifest = read_manifest(dir);
    Manifest& m = outcome.manifest;
    const ExperimentSpec spec = parse_experiment_file(m.experiment_file);
    check_matches(m, spec.source_sha256, request.shards);
    const ClusterStatus status = compute_status(m, dir, spec, query_states(run, jobs_to_query(m)));
    outcome.status = status;
    outcome.resubmitted_shards = shards_to_resume(status);

    std::vector<std::string> after;  // the shard jobs still active, and the new one
    for (const auto& shard : status.shards) {
        if (is_active(shard.slurm.state) &&
            std::find(after.begin(), after.end(), shard.slurm.job_id) == after.end()) {
            after.push_back(shard.slurm.job_id);
        }
    }
    if (!outcome.resubmitted_shards.empty()) {
        const std::string id =
            submit_shards(dir, outcome.resubmitted_shards, request.dry_run, outcome, run);
        if (!id.empty()) after.push_back(id);
    }
    const bool merge_active = is_active(status.merge.slurm.state);
    const bool merge_due =
        !outcome.resubmitted_shards.empty() || (status.merge.results_stale && !merge_active);
    if (!merge_due) {
        outcome.nothing_to_do = outcome.resubmitted_shards.empty();
        outcome.summary = after.empty() ? "every shard is finished and results.db is up to date"
                                        : "the shards not finished are still in active jobs, and "
                                          "their merge job is waiting for them";
        return outcome;
    }
    if (request.dry_run) {
        outcome.scripts.push_back(write_script(dir, kMergeScriptName, merge_script(m, dir)));
        return outcome;
    }
    submit_merge(dir, after, outcome, run);
    return outcome;
}

}  // namespace joulebench::cluster
