#pragma once
// The Slurm job this process runs in, read from the environment Slurm gives a job's processes
// (docs/slurm.md, "Inside an allocation"). Outside Slurm (no SLURM_JOB_ID) there is none.

#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace joulebench {

struct SlurmJob {
    std::string job_id;                        ///< SLURM_JOB_ID
    std::optional<std::string> array_job_id;   ///< SLURM_ARRAY_JOB_ID
    std::optional<std::string> array_task_id;  ///< SLURM_ARRAY_TASK_ID
    std::optional<std::string> step_id;        ///< SLURM_STEP_ID (inside srun)
    std::string node;                          ///< SLURMD_NODENAME
    /// The GPUs the job (or, inside a step, the step) holds, as the minor numbers of their
    /// device files (/dev/nvidiaN): SLURM_STEP_GPUS, else SLURM_JOB_GPUS. Unset when neither is
    /// set; empty when set to nothing.
    std::optional<std::vector<unsigned>> gpu_minors;
    /// Which variable gave gpu_minors, as "SLURM_JOB_GPUS=0,2".
    std::string gpu_source;
    /// CUDA_VISIBLE_DEVICES, split at commas (indices, or UUIDs "GPU-..."/"MIG-..."); unset when
    /// the variable is not set.
    std::optional<std::vector<std::string>> visible_devices;
    /// CPUs of this job on this node (SLURM_CPUS_ON_NODE), when Slurm says.
    std::optional<unsigned> cpus_on_node;

    /// "Slurm job 1234" or "Slurm job 1234 (array task 1230_4)".
    [[nodiscard]] std::string label() const;
    /// The SLURM_JOB_ID as Slurm writes it in squeue/sacct: "ARRAY_TASK" for an array task.
    [[nodiscard]] std::string display_id() const;
};

/// Reads a job from `getenv` (a function like std::getenv). None when SLURM_JOB_ID is unset or
/// empty. Malformed GPU lists (not numbers separated by commas) are treated as unknown: gpu_minors
/// stays unset and `gpu_source` says why.
[[nodiscard]] std::optional<SlurmJob> slurm_job_from(
    const std::function<const char*(const char*)>& getenv);

/// The job of this process (std::getenv); none outside Slurm.
[[nodiscard]] std::optional<SlurmJob> current_slurm_job();

}  // namespace joulebench
