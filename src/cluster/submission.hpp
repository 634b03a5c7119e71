#pragma once
// `joulebench submit FILE --slurm` and `submit --resume DIR`: writing the batch scripts into DIR,
// submitting them with sbatch and recording every job in DIR/submission.json. The CLI prints;
// this part decides and submits.

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "cluster/cluster_status.hpp"
#include "cluster/manifest.hpp"
#include "cluster/slurm_commands.hpp"

namespace joulebench::cluster {

struct SubmitRequest {
    std::filesystem::path experiment_file;
    std::filesystem::path dir;         ///< created when missing; must hold no submission
    std::filesystem::path joulebench;  ///< the binary the jobs run (absolute)
    SlurmOptions options;
    bool dry_run = false;  ///< write the scripts, submit nothing, write no manifest
};

struct SubmitOutcome {
    Manifest manifest;
    std::vector<SubmittedJob> submitted;         ///< by this call, in order
    std::vector<std::filesystem::path> scripts;  ///< written by this call
    std::vector<unsigned> resubmitted_shards;    ///< resume: the shards submitted again
    std::optional<ClusterStatus> status;         ///< resume: what it was decided on
    /// Resume: every shard is finished and results.db is up to date: nothing was submitted.
    bool nothing_to_do = false;
    /// Resume: every shard is finished or still in an active job; only a merge job (if any).
    std::string summary;
};

/// The default --out folder: FILE's stem + ".slurm" beside the current directory.
[[nodiscard]] std::filesystem::path default_submission_dir(const std::filesystem::path& file);

/// A new submission. Throws Error: kInvalidArgument for bad options, a malformed experiment file
/// (FILE:LINE) or a DIR that holds a submission already; kNotFound without sbatch; kIo when
/// sbatch fails (Slurm's message; when the array job was submitted but the merge job was not,
/// the message names the array job, which the manifest records).
SubmitOutcome submit_new(const SubmitRequest& request, const CommandRunner& run);

struct ResumeRequest {
    std::filesystem::path dir;
    std::optional<unsigned> shards;  ///< when given, must match the submission's
    bool dry_run = false;
};

/// Resubmits the unfinished shards that are in no active job (one array job of those task ids),
/// then a merge job after every shard job still active; with every shard finished, only a merge
/// job when results.db is missing or older than a shard store. Adds the jobs to the manifest.
SubmitOutcome submit_resume(const ResumeRequest& request, const CommandRunner& run);

}  // namespace joulebench::cluster
