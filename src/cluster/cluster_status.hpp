#pragma once
// Where a submission stands (`joulebench status DIR`, and what `submit --resume` resubmits): per
// shard, Slurm's state of its latest array task beside its store's runs; the merge job's state;
// the totals and an estimate of the time left.

#include <filesystem>
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <string>
#include <vector>

#include "cluster/manifest.hpp"
#include "cluster/slurm_commands.hpp"
#include "joulebench/experiment.hpp"
#include "joulebench/table.hpp"

namespace joulebench::cluster {

/// One shard's store, read with the store API (read-only).
struct ShardProgress {
    bool exists = false;
    std::size_t planned = 0;  ///< the shard's runs in the plan (make_plan with its Shard)
    std::size_t done = 0;
    std::size_t failed = 0;   ///< failed or timed out (an end status: not run again by a resume)
    std::size_t ended = 0;    ///< done + failed
    double wall_sum_s = 0.0;  ///< over the done runs that have a wall time
    std::size_t wall_count = 0;
    std::string error;  ///< why the store could not be read ("" when it could)
};

struct ShardStatus {
    unsigned index = 1;
    TaskState slurm;  ///< of the latest array job holding this shard
    ShardProgress progress;
    /// Every run of its plan has ended (done, failed or timeout).
    [[nodiscard]] bool finished() const {
        return progress.planned > 0 && progress.ended >= progress.planned;
    }
};

struct MergeStatus {
    TaskState slurm;  ///< job_id "" when no merge job was submitted
    bool results_exist = false;
    /// results.db is older than a shard store (or missing): a merge is due.
    bool results_stale = true;
};

struct ClusterStatus {
    std::vector<ShardStatus> shards;
    MergeStatus merge;
    std::size_t planned = 0, done = 0, failed = 0;
    std::size_t running_shards = 0;
    std::optional<double> eta_s;
    std::string eta_note;      ///< how the ETA was estimated, or why there is none
    std::string state_source;  ///< "sacct", "scontrol", ...
    std::vector<std::string> notes;
};

/// Reads shard `index` of `count`'s store DIR/shard-I.db (missing: 0 done) against its plan.
[[nodiscard]] ShardProgress read_shard_progress(const std::filesystem::path& dir,
                                                const ExperimentSpec& spec, unsigned index,
                                                unsigned count);

/// Puts the submission's shards, their stores and Slurm's states together.
[[nodiscard]] ClusterStatus compute_status(const Manifest& manifest,
                                           const std::filesystem::path& dir,
                                           const ExperimentSpec& spec, const StateQuery& states);

/// The job ids whose states `compute_status` needs: each shard's latest array job and the
/// latest merge job.
[[nodiscard]] std::vector<std::string> jobs_to_query(const Manifest& manifest);

/// The shards a resume submits again: not finished per their plan and not in a job that is
/// still active (pending, running, ...), in index order.
[[nodiscard]] std::vector<unsigned> shards_to_resume(const ClusterStatus& status);

/// The table of `status`: shard, job, Slurm state, runs done/planned, failed, store.
[[nodiscard]] Table status_table(const ClusterStatus& status);
/// The same as JSON: {"shards": [...], "merge": {...}, "total": {...}, "eta": {...}}.
[[nodiscard]] nlohmann::json status_json(const ClusterStatus& status);

}  // namespace joulebench::cluster
