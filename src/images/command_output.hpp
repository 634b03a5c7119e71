#pragma once
// Running a short auxiliary command (a container engine's `image inspect`, `history`, a probe
// container) to completion and capturing what it prints. argv only, never a shell; standard
// input is /dev/null; a deadline kills it. Not for measured workloads (src/environments).

#include <chrono>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "common/strings.hpp"

namespace joulebench::images {

struct CommandOutput {
    int exit_code = -1;         ///< exit status, or 128+N when signal N ended it
    std::optional<int> signal;  ///< the signal that ended it
    bool timed_out = false;     ///< killed (SIGKILL) at the deadline
    std::string out;            ///< standard output (at most `max_output` bytes kept)
    std::string err;            ///< standard error (idem)
};

struct CommandOptions {
    std::chrono::milliseconds timeout{std::chrono::seconds(60)};
    /// Bytes kept of each stream; the rest is read and dropped so the child never blocks.
    std::size_t max_output = std::size_t{64} << 20;
    /// Variables set in the child on top of the inherited environment.
    std::vector<std::pair<std::string, std::string>> set_env;
    /// SIGKILL the command's whole process group (it runs in its own), not the command alone:
    /// at the deadline, and whatever of the group is still alive after it ended (e.g. what an
    /// ssh ProxyCommand started).
    bool kill_group = false;
    /// Set: the command's exit is watched while its output is read, and once it has exited its
    /// output is read for at most this long (something it started may hold the pipes open);
    /// a command that closes its output and runs on still ends at the deadline. Unset: the
    /// output is read until both pipes close, then the command is waited for.
    std::optional<std::chrono::milliseconds> drain_after_exit;
};

/// Runs `argv` (argv[0] searched on PATH) and waits for it, up to the timeout. Throws Error
/// kNotFound (exit code 127) when argv[0] cannot be found, kIo when it cannot be started. A
/// command that fails or times out is a result, not an exception.
CommandOutput run_command(const std::vector<std::string>& argv, const CommandOptions& options = {});

/// The last non-empty line of a tool's output, trimmed (for error messages quoting its stderr):
/// common/strings.hpp.
using joulebench::last_line;

}  // namespace joulebench::images
