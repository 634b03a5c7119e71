#pragma once
// DIR/submission.json, the record of a `joulebench submit --slurm`: which experiment file (its
// absolute path and SHA-256), which joulebench binary, how many shards, the Slurm options, and
// every job submitted for it, oldest first (a resume adds jobs, never removes any). Written
// atomically (common/atomic_file.hpp) after each sbatch that succeeded, so the file never names
// a job that was not submitted nor misses one that was.

#include <filesystem>
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <string>
#include <vector>

namespace joulebench::cluster {

/// What `submit` asks of Slurm for every shard.
struct SlurmOptions {
    unsigned shards = 1;
    std::string partition;  ///< "" for the cluster's default
    std::string account;
    std::string time;             ///< Slurm's time-limit syntax, per shard job ("" for the default)
    unsigned gpus_per_shard = 0;  ///< 0: no --gres line
    /// Each written into the scripts as `#SBATCH ARG`, as given.
    std::vector<std::string> sbatch_args;
};

/// One sbatch that succeeded.
struct SubmittedJob {
    std::string kind;  ///< "shards" (an array job, one task per shard) or "merge"
    std::string job_id;
    std::vector<unsigned> tasks;     ///< shards: the array's task ids (= shard indices)
    std::vector<std::string> after;  ///< merge: the jobs it waits for (afterany)
    std::string script;              ///< the script's file name in DIR
    std::string submitted_at;        ///< UTC, ISO 8601
};

struct Manifest {
    static constexpr int kVersion = 1;
    std::filesystem::path experiment_file;  ///< absolute
    std::string experiment_sha256;
    std::string experiment_name;
    std::filesystem::path joulebench;  ///< the binary the jobs run (absolute)
    SlurmOptions options;
    std::vector<SubmittedJob> jobs;

    /// The latest array job that holds shard `index`, or nullptr.
    [[nodiscard]] const SubmittedJob* latest_shard_job(unsigned index) const;
    /// The latest merge job, or nullptr.
    [[nodiscard]] const SubmittedJob* latest_merge_job() const;
};

/// DIR/submission.json.
[[nodiscard]] std::filesystem::path manifest_path(const std::filesystem::path& dir);

[[nodiscard]] nlohmann::json to_json(const Manifest& manifest);
/// Throws Error (kInvalidArgument) naming `source` and the key for a document that is not a
/// manifest of this version.
[[nodiscard]] Manifest manifest_from_json(const nlohmann::json& json, const std::string& source);

/// Reads DIR/submission.json. Throws Error: kNotFound (with a hint) when DIR holds no
/// submission, kInvalidArgument for a file that is not one.
[[nodiscard]] Manifest read_manifest(const std::filesystem::path& dir);
/// Replaces DIR/submission.json atomically.
void write_manifest(const std::filesystem::path& dir, const Manifest& manifest);

/// Checks that the experiment file still is the one submitted (same SHA-256) and, when
/// `shards` is given, that the shard count matches. Throws Error (kInvalidArgument) saying what
/// differs and what to do.
void check_matches(const Manifest& manifest, const std::string& experiment_sha256,
                   std::optional<unsigned> shards = std::nullopt);

/// The current UTC time as "YYYY-mm-ddTHH:MM:SSZ".
[[nodiscard]] std::string utc_now();

}  // namespace joulebench::cluster
