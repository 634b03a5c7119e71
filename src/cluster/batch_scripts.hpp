#pragma once
// The batch scripts `joulebench submit --slurm` writes into DIR and submits: one array job whose
// task I runs shard I of N into DIR/shard-I.db, and one merge job that joins the shard stores
// into DIR/results.db and writes DIR/report.html. They are kept, with comments, so that a reader
// (or an administrator) sees exactly what ran. Every path in a command is shell-quoted; Slurm's
// options are `#SBATCH` lines. Paths are not: sbatch runs with --chdir=DIR, and the output files
// are named relative to it.

#include <filesystem>
#include <string>
#include <vector>

#include "cluster/manifest.hpp"

namespace joulebench::cluster {

/// File names in DIR.
[[nodiscard]] std::string shard_store_name(unsigned index);  ///< "shard-I.db"
[[nodiscard]] std::string shard_script_name(
    std::size_t submission);  ///< "shards.sbatch", "shards-2.sbatch"
inline constexpr const char* kMergeScriptName = "merge.sbatch";
inline constexpr const char* kResultsName = "results.db";
inline constexpr const char* kReportName = "report.html";

/// Checks the options before anything is written: no line break anywhere, no space in
/// partition, account or time, every --sbatch-arg an option ("-..."), shards >= 1. Throws Error
/// (kInvalidArgument) naming the option.
void validate_options(const SlurmOptions& options);

/// The `#SBATCH` line of an --sbatch-arg: as given, or with its value in double quotes when it
/// holds spaces ("--comment=a b" -> `--comment="a b"`, sbatch's own quoting).
[[nodiscard]] std::string sbatch_line(const std::string& arg);

/// The array job's script for shard indices `tasks` (all of 1..N at first, the unfinished ones
/// on a resume), run in `dir`.
[[nodiscard]] std::string shard_array_script(const Manifest& manifest,
                                             const std::filesystem::path& dir,
                                             const std::vector<unsigned>& tasks);

/// The merge job's script: merges the shard stores that exist, replaces DIR/results.db, then
/// writes DIR/report.html.
[[nodiscard]] std::string merge_script(const Manifest& manifest, const std::filesystem::path& dir);

/// sbatch's arguments besides the script: --chdir=DIR, and for the merge job
/// --dependency=afterany:ID[:ID...] (not in the script: the ids exist only once submitted).
[[nodiscard]] std::vector<std::string> sbatch_arguments(const std::filesystem::path& dir,
                                                        const std::vector<std::string>& after);

}  // namespace joulebench::cluster
