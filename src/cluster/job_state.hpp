#pragma once
// The state of a Slurm job or array task, as joulebench reads it from sacct or scontrol: Slurm's
// many state words folded into the few that decide what `status` shows and what `submit
// --resume` resubmits.

#include <string>
#include <string_view>

namespace joulebench::cluster {

enum class JobState {
    kUnknown,  ///< Slurm has no record of it (no accounting and no longer in the controller)
    kPending,
    kRunning,     ///< also configuring, resizing, signaling
    kCompleting,  ///< also stage-out
    kSuspended,   ///< also stopped
    kRequeued,    ///< also requeue_hold, requeue_fed
    kCompleted,
    kFailed,     ///< also special_exit
    kCancelled,  ///< also revoked
    kTimeout,
    kPreempted,
    kNodeFail,
    kOutOfMemory,
    kBootFail,
    kDeadline,
};

/// The state of one of Slurm's state words, as sacct (`CANCELLED by 0`, a truncated
/// `CANCELLED+`) and scontrol (`JobState=COMPLETED`) print them; case-insensitive. A word Slurm
/// may add later reads kUnknown.
[[nodiscard]] JobState job_state_from_slurm(std::string_view text);

/// "pending", "running", ..., "node_fail", "out_of_memory", "unknown".
[[nodiscard]] std::string_view to_string(JobState state);

/// Still queued or on a node (pending, running, completing, suspended, requeued): a shard in
/// such a job is not submitted again.
[[nodiscard]] bool is_active(JobState state);

}  // namespace joulebench::cluster
