#pragma once
// Slurm's client commands as joulebench uses them: sbatch to submit a batch script, sacct (with
// accounting) or scontrol (without: live jobs and jobs finished within MinJobAge) to read the
// state of each array task. The commands themselves are run by a CommandRunner the caller
// provides (the CLI runs real programs; the unit tests answer with canned output), so this part
// needs no process code of its own.

#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "cluster/job_state.hpp"

namespace joulebench::cluster {

/// What a finished command left.
struct CommandResult {
    int exit_code = 0;
    std::string out;
    std::string err;
};

/// Runs argv (argv[0] searched on PATH) to completion. Throws Error (kNotFound) when the program
/// cannot be found; a command that fails is a result.
using CommandRunner = std::function<CommandResult(const std::vector<std::string>& argv)>;

/// The state of one job, or of one task of an array job.
struct TaskState {
    std::string job_id;            ///< the array's job id (or the plain job's)
    std::optional<unsigned> task;  ///< the array task id; nullopt for a job that is no array
    JobState state = JobState::kUnknown;
    std::string slurm_text;  ///< Slurm's own word(s), e.g. "CANCELLED by 0"
};

/// Task ids of an array expression: "3", "1-4", "1,3,5-7", "1-7:2", with an optional "%LIMIT"
/// suffix (ignored). Throws Error (kInvalidArgument) for anything else.
[[nodiscard]] std::vector<unsigned> parse_task_ids(std::string_view text);

/// The same set written back as short as it goes: {1,2,3,5} -> "1-3,5".
[[nodiscard]] std::string format_task_ids(std::vector<unsigned> tasks);

/// Parses `sacct --parsable2 --noheader --allocations --format=JobID,State` output: lines
/// "ID|STATE", "ID_TASK|STATE" or "ID_[RANGES]|STATE" (pending tasks not split off yet). Step
/// lines ("ID.batch") and lines it cannot read are skipped.
[[nodiscard]] std::vector<TaskState> parse_sacct(std::string_view text);

/// Parses `scontrol show job -o` output: one line per job with JobId=, ArrayJobId=,
/// ArrayTaskId= (a task or, while pending, a range) and JobState=.
[[nodiscard]] std::vector<TaskState> parse_scontrol(std::string_view text);

/// The job id in `sbatch --parsable` output ("ID" or "ID;CLUSTER"). Throws Error (kIo) when
/// there is none.
[[nodiscard]] std::string parse_sbatch_job_id(std::string_view out);

/// Submits `script` with `sbatch --parsable ARGS... SCRIPT` and returns the job id. Throws Error
/// (kNotFound: no sbatch; kIo: sbatch failed, with Slurm's own message).
std::string submit_batch(const CommandRunner& run, const std::filesystem::path& script,
                         const std::vector<std::string>& args);

/// States of every task of the jobs, and where they came from.
struct StateQuery {
    std::vector<TaskState> tasks;
    /// "sacct", "scontrol" or "sacct+scontrol".
    std::string source;
    /// Why a source was not used (sacct's message when accounting is off), for the user.
    std::vector<std::string> notes;
};

/// Reads the states of `job_ids` from sacct; a job sacct does not know (no accounting, or not
/// recorded yet) is asked of `scontrol show job`. A job neither knows is left out (the caller
/// reads it as unknown). Throws Error (kNotFound) only when neither sacct nor scontrol exists.
[[nodiscard]] StateQuery query_states(const CommandRunner& run,
                                      const std::vector<std::string>& job_ids);

/// The state of task `task` of job `job_id` (an array's pending range counts), else unknown.
[[nodiscard]] TaskState find_task(const std::vector<TaskState>& tasks, std::string_view job_id,
                                  std::optional<unsigned> task);

}  // namespace joulebench::cluster
