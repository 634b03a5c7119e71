#include "cluster/batch_scripts.hpp"

#include <fmt/core.h>

#include <algorithm>
#include <cctype>

#include "cluster/slurm_commands.hpp"
#include "common/shell_words.hpp"
#include "common/strings.hpp"
#include "joulebench/error.hpp"

namespace joulebench::cluster {

namespace fs = std::filesystem;

namespace {

Error bad_option(const std::string& option, const std::string& value, const std::string& why) {
    return Error(ErrorCategory::kInvalidArgument,
                 fmt::format("submit: {} \"{}\": {}", option, value, why));
}

bool has_any(std::string_view text, std::string_view chars) {
    return text.find_first_of(chars) != std::string_view::npos;
}

// A job name Slurm shows in squeue: the experiment's name with anything odd made '_'.
std::string job_name(const Manifest& m, std::string_view suffix) {
    std::string name = "joulebench-" + m.experiment_name;
    for (char& c : name) {
        const auto u = static_cast<unsigned char>(c);
        if (std::isalnum(u) == 0 && c != '-' && c != '_' && c != '.') c = '_';
    }
    return name + std::string(suffix);
}

// The #SBATCH lines every job of the submission shares (partition, account, time, the user's).
std::string common_directives(const Manifest& m) {
    std::string s;
    if (!m.options.partition.empty()) s += "#SBATCH --partition=" + m.options.partition + "\n";
    if (!m.options.account.empty()) s += "#SBATCH --account=" + m.options.account + "\n";
    if (!m.options.time.empty()) s += "#SBATCH --time=" + m.options.time + "\n";
    if (!m.options.sbatch_args.empty()) s += "# --sbatch-arg, as given:\n";
    for (const auto& arg : m.options.sbatch_args) s += "#SBATCH " + sbatch_line(arg) + "\n";
    return s;
}

std::string header(const Manifest& m, const fs::path& dir, std::string_view what) {
    return fmt::format(
        "#!/bin/sh\n"
        "# Written by `joulebench submit --slurm` (docs/slurm.md): {}\n"
        "#   experiment: {} (name \"{}\", SHA-256 {})\n"
        "#   joulebench: {}\n"
        "#   folder:     {} (submission.json there records every job id)\n"
        "# joulebench submits it with `sbatch --parsable --chdir=FOLDER` (so the output files\n"
        "# below are in the folder); by hand: cd FOLDER && sbatch THIS-SCRIPT.\n",
        what, m.experiment_file.string(), m.experiment_name, m.experiment_sha256,
        m.joulebench.string(), dir.string());
}

}  // namespace

std::string shard_store_name(unsigned index) {
    return fmt::format("shard-{}.db", index);
}

std::string shard_script_name(std::size_t submission) {
    return submission <= 1 ? "shards.sbatch" : fmt::format("shards-{}.sbatch", submission);
}

void validate_options(const SlurmOptions& o) {
    if (o.shards < 1) throw bad_option("--shards", std::to_string(o.shards), "must be at least 1");
    const std::vector<std::pair<std::string, const std::string*>> words{
        {"--partition", &o.partition}, {"--account", &o.account}, {"--time", &o.time}};
    for (const auto& [name, value] : words) {
        if (has_any(*value, " \t\r\n\"'\\")) {
            throw bad_option(name, *value, "must not hold spaces, quotes or line breaks");
        }
    }
    for (const auto& arg : o.sbatch_args) {
        if (arg.size() < 2 || arg.front() != '-') {
            throw bad_option("--sbatch-arg", arg,
                             "must be one sbatch option, e.g. --sbatch-arg=--qos=normal");
        }
        if (has_any(arg, "\r\n")) throw bad_option("--sbatch-arg", arg, "holds a line break");
        if (has_any(arg, " \t") && (arg.find('=') == std::string::npos || has_any(arg, "\""))) {
            throw bad_option("--sbatch-arg", arg,
                             "an option with spaces must read --NAME=VALUE, without '\"'");
        }
    }
}

std::string sbatch_line(const std::string& arg) {
    if (!has_any(arg, " \t")) return arg;
    const auto eq = arg.find('=');
    return arg.substr(0, eq + 1) + "\"" + arg.substr(eq + 1) + "\"";
}

std::string shard_array_script(const Manifest& m, const fs::path& dir,
                               const std::vector<unsigned>& tasks) {
    const unsigned n = m.options.shards;
    std::string s = header(m, dir, fmt::format("the shards, one array task each"));
    s += fmt::format(
        "# Array task I runs shard I of {} into shard-I.db. A store that exists already (a\n"
        "# resubmitted shard, a job Slurm requeued after a preemption or a node failure) is\n"
        "# resumed by `joulebench run` itself: done runs are kept, the others run.\n",
        n);
    s += "#SBATCH --job-name=" + job_name(m, "") + "\n";
    s += "#SBATCH --array=" + format_task_ids(tasks) + "\n";
    s += "#SBATCH --output=shard-%a.out\n#SBATCH --open-mode=append\n";
    if (m.options.gpus_per_shard > 0) {
        s += fmt::format("#SBATCH --gres=gpu:{}\n", m.options.gpus_per_shard);
    }
    s += common_directives(m);
    s += "\nset -eu\n";
    s += "shard=\"${SLURM_ARRAY_TASK_ID:?not started as a Slurm array task}\"\n";
    s += "dir=" + shell_quote(dir.string()) + "\n";
    s +=
        fmt::format("exec {} run {} --shard \"$shard/{}\" --db \"$dir/shard-$shard.db\"\n",
                    shell_quote(m.joulebench.string()), shell_quote(m.experiment_file.string()), n);
    return s;
}

std::string merge_script(const Manifest& m, const fs::path& dir) {
    std::string s = header(m, dir, "the merge job");
    s += "# Runs after the shards' jobs have ended, however they ended (sbatch gets\n"
         "# --dependency=afterany:JOBS on its command line): merges the shard stores that exist\n"
         "# into results.db (an older results.db is replaced only once the new merge succeeded),\n"
         "# then writes report.html.\n";
    s += "#SBATCH --job-name=" + job_name(m, "-merge") + "\n";
    s += "#SBATCH --output=merge.out\n#SBATCH --open-mode=append\n";
    s += common_directives(m);
    s += "\nset -eu\n";
    s += "dir=" + shell_quote(dir.string()) + "\n";
    s += "jb=" + shell_quote(m.joulebench.string()) + "\n";
    s += fmt::format(
        "set --\n"
        "i=1\n"
        "while [ \"$i\" -le {} ]; do\n"
        "    if [ -f \"$dir/shard-$i.db\" ]; then set -- \"$@\" \"$dir/shard-$i.db\"; fi\n"
        "    i=$((i + 1))\n"
        "done\n",
        m.options.shards);
    s +=
        "if [ \"$#\" -eq 0 ]; then\n"
        "    echo \"joulebench merge job: no shard store in $dir, nothing to merge\" >&2\n"
        "    exit 1\n"
        "fi\n"
        "tmp=\"$dir/results.db.merging-${SLURM_JOB_ID:-$$}\"\n"
        "rm -f \"$tmp\" \"$tmp-wal\" \"$tmp-shm\"\n"
        "if [ \"$#\" -eq 1 ]; then\n"
        "    # `joulebench merge` joins two or more stores; one is copied (with its log, if any).\n"
        "    cp \"$1\" \"$tmp\"\n"
        "    if [ -f \"$1-wal\" ]; then cp \"$1-wal\" \"$tmp-wal\"; fi\n"
        "else\n"
        "    \"$jb\" merge \"$@\" -o \"$tmp\"\n"
        "fi\n"
        "rm -f \"$dir/results.db-wal\" \"$dir/results.db-shm\"\n"
        "if [ -f \"$tmp-wal\" ]; then mv -f \"$tmp-wal\" \"$dir/results.db-wal\"; fi\n"
        "mv -f \"$tmp\" \"$dir/results.db\"\n"
        "\"$jb\" report \"$dir/results.db\" -o \"$dir/report.html\"\n";
    return s;
}

std::vector<std::string> sbatch_arguments(const fs::path& dir,
                                          const std::vector<std::string>& after) {
    std::vector<std::string> args{"--chdir=" + dir.string()};
    if (!after.empty()) args.push_back("--dependency=afterany:" + join(after, ":"));
    return args;
}

}  // namespace joulebench::cluster
