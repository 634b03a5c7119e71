// The online method's command (online.hpp, OnlineWorkload): started with posix_spawn (no shell)
// like `measure`'s, but with its standard output on a pipe that joulebench reads line by line,
// and in a process group of its own, so that stopping it (no progress, a signal) ends the whole
// tree it started.

#include <fcntl.h>
#include <fmt/format.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <string>

#include "common/child_env.hpp"
#include "common/unique_fd.hpp"
#include "joulebench/error.hpp"
#include "measure/process.hpp"
#include "tune/online.hpp"

namespace joulebench::tune {

namespace {

// A line longer than this is cut (counted as one line): a workload that prints no newline must
// not grow joulebench's memory without bound.
constexpr std::size_t kMaxLine = 1U << 20;

class SpawnedWorkload final : public OnlineWorkload {
public:
    SpawnedWorkload(pid_t pid, int out_fd) : m_pid(pid), m_out(out_fd) {}
    SpawnedWorkload(const SpawnedWorkload&) = delete;
    SpawnedWorkload& operator=(const SpawnedWorkload&) = delete;
    ~SpawnedWorkload() override {
        if (!m_waited) {
            terminate(std::chrono::milliseconds(2000));
            std::optional<int> signal;
            try {
                (void)wait(signal);
            } catch (...) {
            }
        }
    }

    std::vector<std::string> read_lines(Clock::time_point deadline) override {
        std::vector<std::string> lines;
        if (m_closed) return lines;
        const auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - Clock::now());
        pollfd p{m_out.get(), POLLIN, 0};
        const int n = ::poll(&p, 1, static_cast<int>(std::max<long long>(left.count(), 0)));
        if (n < 0 && errno != EINTR) throw system_error("tune: read the command's output", errno);
        if (n <= 0) return lines;
        char buf[65536];
        const ssize_t got = ::read(m_out.get(), buf, sizeof buf);
        if (got < 0) {
            if (errno == EINTR || errno == EAGAIN) return lines;
            throw system_error("tune: read the command's output", errno);
        }
        if (got == 0) {
            m_closed = true;
            if (!m_partial.empty()) lines.push_back(std::move(m_partial));
            m_partial.clear();
            return lines;
        }
        for (ssize_t i = 0; i < got; ++i) {
            if (buf[i] == '\n') {
                lines.push_back(std::move(m_partial));
                m_partial.clear();
            } else if (m_partial.size() < kMaxLine) {
                m_partial.push_back(buf[i]);
            }
        }
        return lines;
    }

    [[nodiscard]] bool output_closed() const override { return m_closed; }

    void terminate(std::chrono::milliseconds grace) noexcept override {
        if (m_waited) return;
        ::kill(-m_pid, SIGTERM);
        ::kill(m_pid, SIGTERM);
        if (!process::ends_within(m_pid, grace)) {
            ::kill(-m_pid, SIGKILL);
            ::kill(m_pid, SIGKILL);
        }
    }

    int wait(std::optional<int>& signal) override {
        if (m_waited) {
            signal = m_signal;
            return m_exit_code;
        }
        int status = 0;
        while (::waitpid(m_pid, &status, 0) < 0) {
            if (errno != EINTR) throw system_error("tune: wait for the command", errno);
        }
        m_waited = true;
        if (WIFSIGNALED(status)) {
            m_signal = WTERMSIG(status);
            m_exit_code = 128 + *m_signal;
        } else {
            m_exit_code = WEXITSTATUS(status);
        }
        // Whatever the command left running in its group ends with it.
        ::kill(-m_pid, SIGKILL);
        signal = m_signal;
        return m_exit_code;
    }

private:
    pid_t m_pid;
    UniqueFd m_out;
    std::string m_partial;
    bool m_closed = false;
    bool m_waited = false;
    int m_exit_code = 0;
    std::optional<int> m_signal;
};

}  // namespace

std::unique_ptr<OnlineWorkload> start_online_workload(
    const std::vector<std::string>& argv,
    const std::vector<std::pair<std::string, std::string>>& set_env) {
    const std::string program = process::resolve_command(argv.at(0));
    std::vector<char*> args;
    args.reserve(argv.size() + 1);
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    std::vector<std::string> env_storage = child_environment(set_env);
    const std::vector<char*> envp = environment_pointers(env_storage);

    int pipe_fds[2] = {-1, -1};
    if (::pipe2(pipe_fds, O_CLOEXEC) != 0) throw system_error("tune: create a pipe", errno);
    UniqueFd read_end(pipe_fds[0]);
    UniqueFd write_end(pipe_fds[1]);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, write_end.get(), STDOUT_FILENO);
    const process::ChildSpawnAttributes attr(/*own_group=*/true);
    pid_t pid = -1;
    const int rc =
        ::posix_spawn(&pid, program.c_str(), &actions, attr.get(), args.data(), envp.data());
    posix_spawn_file_actions_destroy(&actions);
    if (rc != 0) {
        Error e(rc == ENOENT ? ErrorCategory::kNotFound : ErrorCategory::kIo,
                fmt::format("tune: start {}: {}", program, process::spawn_error_text(program, rc)));
        e.set_exit_code(process::spawn_error_exit_code(rc));
        throw e;
    }
    return std::make_unique<SpawnedWorkload>(pid, read_end.release());
}

}  // namespace joulebench::tune
