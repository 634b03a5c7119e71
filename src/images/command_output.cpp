#include "images/command_output.hpp"

#include <fcntl.h>
#include <fmt/core.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>

#include "common/child_env.hpp"
#include "common/unique_fd.hpp"
#include "joulebench/error.hpp"
#include "measure/process.hpp"

namespace joulebench::images {

namespace {

void append_limited(std::string& to, const char* data, std::size_t n, std::size_t limit) {
    if (to.size() < limit) to.append(data, std::min(n, limit - to.size()));
}

}  // namespace

CommandOutput run_command(const std::vector<std::string>& argv, const CommandOptions& options) {
    if (argv.empty()) throw Error(ErrorCategory::kInternal, "image: run a command: empty argv");
    std::string program;
    try {
        program = process::resolve_command(argv.front());
    } catch (const Error& e) {
        Error error(e.category(),
                    fmt::format("image: run {}: {}", argv.front(),
                                e.category() == ErrorCategory::kNotFound ? "not found on PATH"
                                                                         : "not executable"));
        error.set_exit_code(e.exit_code());
        throw error;
    }

    std::array<int, 2> out_pipe{-1, -1};
    std::array<int, 2> err_pipe{-1, -1};
    if (::pipe2(out_pipe.data(), O_CLOEXEC) != 0)
        throw system_error(fmt::format("image: run {}: create a pipe", argv.front()), errno);
    UniqueFd out_read(out_pipe[0]);
    UniqueFd out_write(out_pipe[1]);
    if (::pipe2(err_pipe.data(), O_CLOEXEC) != 0)
        throw system_error(fmt::format("image: run {}: create a pipe", argv.front()), errno);
    UniqueFd err_read(err_pipe[0]);
    UniqueFd err_write(err_pipe[1]);

    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    std::vector<std::string> env_storage = child_environment(options.set_env);
    const std::vector<char*> envp = environment_pointers(env_storage);

    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_adddup2(&actions, out_write.get(), 1);
    posix_spawn_file_actions_adddup2(&actions, err_write.get(), 2);
    // The caller may block or handle signals (the runner does); the tool gets the defaults. Its
    // own process group: a Ctrl-C at the terminal goes to joulebench, which ends a run in order
    // (the container's removal included), not straight to `docker create` or `rm`.
    const process::ChildSpawnAttributes attr(/*own_group=*/true);
    pid_t pid = -1;
    const int rc = ::posix_spawn(&pid, program.c_str(), &actions, attr.get(), args.data(), envp.data());
    posix_spawn_file_actions_destroy(&actions);
    if (rc != 0) throw system_error(fmt::format("image: run {}", argv.front()), rc);
    out_write.reset();
    err_write.reset();

    const auto kill_command = [&] { ::kill(options.kill_group ? -pid : pid, SIGKILL); };
    CommandOutput result;
    const auto deadline = std::chrono::steady_clock::now() + options.timeout;
    const bool watch_exit = options.drain_after_exit.has_value();
    bool reaped = false;
    int status = 0;
    std::optional<std::chrono::steady_clock::time_point> drain_until;  // once reaped
    std::array<char, 65536> buffer{};
    bool out_open = true;
    bool err_open = true;
    while (out_open || err_open || (watch_exit && !reaped)) {
        if (watch_exit && !reaped && ::waitpid(pid, &status, WNOHANG) == pid) {
            reaped = true;
            drain_until = std::chrono::steady_clock::now() + *options.drain_after_exit;
        }
        const auto now = std::chrono::steady_clock::now();
        if (reaped && (now >= *drain_until || (!out_open && !err_open))) break;
        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
            (reaped ? *drain_until : deadline) - now);
        if (!reaped && left.count() <= 0) {
            kill_command();
            result.timed_out = true;
            break;
        }
        std::array<pollfd, 2> fds{pollfd{out_open ? out_read.get() : -1, POLLIN, 0},
                                  pollfd{err_open ? err_read.get() : -1, POLLIN, 0}};
        // Watching the exit: short waits, so that it is seen soon after it happens.
        const int ready =
            ::poll(fds.data(), fds.size(),
                   static_cast<int>(std::min<long long>(left.count(), watch_exit ? 50 : 1000)));
        if (ready < 0) {
            if (errno == EINTR) continue;
            const int saved = errno;
            kill_command();
            if (!reaped) ::waitpid(pid, nullptr, 0);
            throw system_error(fmt::format("image: read the output of {}", argv.front()), saved);
        }
        for (std::size_t i = 0; i < fds.size(); ++i) {
            if (fds[i].fd < 0 || fds[i].revents == 0) continue;
            const ssize_t n = ::read(fds[i].fd, buffer.data(), buffer.size());
            if (n < 0 && errno == EINTR) continue;
            if (n <= 0) {
                (i == 0 ? out_open : err_open) = false;
                continue;
            }
            append_limited(i == 0 ? result.out : result.err, buffer.data(),
                           static_cast<std::size_t>(n), options.max_output);
        }
    }
    while (!reaped && ::waitpid(pid, &status, 0) < 0) {
        if (errno != EINTR) {
            throw system_error(fmt::format("image: wait for {}", argv.front()), errno);
        }
    }
    // What the command left in its group does not outlive it.
    if (options.kill_group && ::kill(-pid, 0) == 0) ::kill(-pid, SIGKILL);
    if (WIFEXITED(status)) {
        result.exit_code = WEXITSTATUS(status);
    } else if (WIFSIGNALED(status)) {
        result.signal = WTERMSIG(status);
        result.exit_code = 128 + *result.signal;
    }
    return result;
}

}  // namespace joulebench::images
