#pragma once
// A real single-node Slurm cluster of its own for the tests of `submit --slurm` and `status`
// (and of what joulebench does inside an allocation): munged (as the munge user, with a
// generated key), slurmctld and slurmd in the foreground, each with its own socket, pid, log
// and state files in a private folder under /tmp (reachable by the munge user even when the
// test's own temporary folder is not), free TCP ports chosen at start, a unique ClusterName,
// and two GPUs as generic resources (gres.conf points at two character devices it creates,
// nvidia0 and nvidia1, which Slurm needs to hand a job CUDA_VISIBLE_DEVICES / SLURM_JOB_GPUS).
// There is no slurmdbd: sacct answers "accounting storage is disabled", and job states come
// from scontrol (MinJobAge keeps finished jobs for an hour). Client commands read the cluster
// through SLURM_CONF (env()), and batch jobs inherit the environment of sbatch.
//
// Stopping (the destructor, also after a failed test): every job cancelled, then slurmd,
// slurmctld and munged ended (SIGTERM, then SIGKILL) and the folder removed.

#include <atomic>
#include <chrono>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "fakes/test_support.hpp"

namespace joulebench::testing {

class SlurmCluster {
public:
    /// Why no cluster can be started here (not root, a Slurm or munge program missing), or
    /// nullopt when one can. Tests GTEST_SKIP() with it.
    static std::optional<std::string> unavailable_reason();

    /// Starts munged, slurmctld and slurmd and waits (up to a minute) for the node to be idle.
    /// Throws std::runtime_error with the daemons' log tails when it does not come up.
    explicit SlurmCluster(unsigned gpus = 2);
    SlurmCluster(const SlurmCluster&) = delete;
    SlurmCluster& operator=(const SlurmCluster&) = delete;
    ~SlurmCluster();

    /// The variables a Slurm client (sbatch, squeue, joulebench submit/status) needs: SLURM_CONF,
    /// with the variables of an outer Slurm job (SLURM_JOB_ID ...) unset.
    [[nodiscard]] std::vector<std::pair<std::string, std::optional<std::string>>> env() const;
    [[nodiscard]] const std::filesystem::path& dir() const { return m_dir; }
    [[nodiscard]] std::string node_name() const { return m_node; }

    /// Runs a Slurm client command (sbatch, squeue, scancel, ...) against this cluster.
    test::ProcessResult client(const std::vector<std::string>& argv,
                               std::chrono::seconds timeout = std::chrono::seconds(60)) const;

    /// Runs `argv` as a batch job holding `gpus` of the node's GPUs (sbatch --wait
    /// --gres=gpu:N --wrap, as the shards of `submit` run) and returns its exit status and what
    /// it printed (out: the job's standard output; err: sbatch's and the job's standard error).
    /// `extra_env` is set for sbatch and so in the job too (--export=ALL, Slurm's default).
    test::ProcessResult run_in_job(
        const std::vector<std::string>& argv, unsigned gpus,
        const std::vector<std::pair<std::string, std::optional<std::string>>>& extra_env = {},
        std::chrono::seconds timeout = std::chrono::seconds(120)) const;

    /// Job ids squeue lists (pending, running, completing).
    [[nodiscard]] std::vector<std::string> queued_jobs() const;
    /// Waits until squeue lists no job; false at the time-out.
    bool wait_until_queue_empty(std::chrono::seconds timeout) const;
    /// Cancels every job and waits for the queue to empty.
    void cancel_all() const;

    /// The last lines of slurmctld's, slurmd's and munged's logs (for failure messages).
    [[nodiscard]] std::string log_tails() const;

private:
    void write_config(unsigned gpus);
    void start_munge();
    void start_slurm();
    bool node_idle() const;
    void stop() noexcept;

    std::filesystem::path m_dir;
    std::string m_node;
    std::string m_cluster_name;
    std::unique_ptr<test::ChildProcess> m_munged;
    std::unique_ptr<test::ChildProcess> m_slurmctld;
    std::unique_ptr<test::ChildProcess> m_slurmd;
    mutable std::atomic<unsigned> m_jobs_run{0};
};

}  // namespace joulebench::testing
