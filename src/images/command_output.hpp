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
};

/// Runs `argv` (argv[0] searched on PATH) and waits for it, up to the timeout. Throws Error
/// kNotFound (exit code 127) when argv[0] cannot be found, kIo when it cannot be started. A
/// command that fails or times out is a result, not an exception.
CommandOutput run_command(const std::vector<std::string>& argv, const CommandOptions& options = {});

/// The last non-empty line of a tool's output, trimmed (for error messages quoting its stderr):
/// common/strings.hpp.
using joulebench::last_line;

}  // namespace joulebench::images
