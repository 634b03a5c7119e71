#pragma once
// The CommandRunner the cluster part runs Slurm's commands with (sbatch, sacct, scontrol): the
// auxiliary-command helper of images (argv, no shell, stdin /dev/null, a deadline). The cluster
// part sits beside images, not above it, so the CLI, which sees both, joins them here.

#include <chrono>

#include "cluster/slurm_commands.hpp"
#include "images/command_output.hpp"
#include "joulebench/error.hpp"

namespace joulebench::cli {

inline cluster::CommandRunner slurm_command_runner() {
    return [](const std::vector<std::string>& argv) {
        images::CommandOptions options;
        // A busy controller answers slowly (Slurm's own client time-out is 60 s by default).
        options.timeout = std::chrono::seconds(180);
        images::CommandOutput out;
        try {
            out = images::run_command(argv, options);
        } catch (const Error& e) {
            // Say it in Slurm's words, not the image helper's; the category (kNotFound) stays,
            // status falls back from sacct to scontrol on it.
            Error error(e.category(),
                        "slurm: run " + argv.front() + ": " +
                            (e.category() == ErrorCategory::kNotFound ? "not found on PATH"
                                                                      : std::string(e.what())),
                        "run joulebench on a machine with Slurm's client commands (a login "
                        "node), with Slurm's bin folder on PATH");
            error.set_exit_code(1);
            throw error;
        }
        cluster::CommandResult r{out.exit_code, out.out, out.err};
        if (out.timed_out) {
            r.exit_code = r.exit_code == 0 ? 124 : r.exit_code;
            r.err += "\n" + argv.front() + ": no answer within 180 s (killed)";
        }
        return r;
    };
}

}  // namespace joulebench::cli
