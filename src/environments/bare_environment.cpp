#include "environments/bare_environment.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "common/child_env.hpp"
#include "environments/instance_stop.hpp"
#include "joulebench/error.hpp"
#include "joulebench/units.hpp"
#include "measure/process.hpp"

namespace joulebench::environments {

namespace {

double seconds_of(const timeval& tv) {
    return static_cast<double>(tv.tv_sec) + static_cast<double>(tv.tv_usec) * 1e-6;
}

}  // namespace

void BareEnvironment::validate(const WorkloadSpec& workload) const {
    try {
        process::resolve_command(workload.command.at(0));
    } catch (const Error& e) {
        // "measure: run X: command not found" -> "run: FILE:LINE: workload W: command X: ..."
        std::string cause = e.what();
        if (const auto colon = cause.rfind(": "); colon != std::string::npos)
            cause = cause.substr(colon + 2);
        throw Error(e.category(),
                    fmt::format("run: {}workload '{}': command '{}': {}", to_string(workload.where),
                                workload.name, workload.command.at(0), cause),
                    e.hint());
    }
}

InstanceResult BareEnvironment::execute(const WorkloadInstance& instance,
                                        InstanceObserver* observer) {
    InstanceResult result;
    std::string program;
    try {
        program = process::resolve_command(instance.command.at(0));
    } catch (const Error& e) {
        result.end = InstanceResult::End::kNotStarted;
        result.start_error = e.what();
        result.exit_code = e.exit_code();
        result.start_time = result.end_time = Clock::now();
        result.started_at = unix_now();
        return result;
    }
    std::vector<char*> argv;
    for (const auto& a : instance.command) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    std::vector<std::string> env_storage = child_environment(instance.env);
    const std::vector<char*> envp = environment_pointers(env_storage);

    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&actions, 1, instance.stdout_file.c_str(),
                                     O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_addopen(&actions, 2, instance.stderr_file.c_str(),
                                     O_WRONLY | O_CREAT | O_TRUNC, 0644);
    // Its own process group: a timeout or an interruption ends the whole tree it started, and the
    // terminal's Ctrl-C reaches joulebench only, which ends the runs after its own bookkeeping.
    const process::ChildSpawnAttributes attr(/*own_group=*/true);
    pid_t pid = -1;
    result.start_time = Clock::now();
    result.started_at = unix_now();
    const int rc = ::posix_spawn(&pid, program.c_str(), &actions, attr.get(), argv.data(), envp.data());
    posix_spawn_file_actions_destroy(&actions);
    if (rc != 0) {
        result.end = InstanceResult::End::kNotStarted;
        result.start_error = fmt::format("run: start {}: {}", program, process::spawn_error_text(program, rc));
        result.exit_code = process::spawn_error_exit_code(rc);
        result.end_time = Clock::now();
        return result;
    }
    if (observer != nullptr) observer->started(pid);

    const int pidfd = process::open_pidfd(pid);  // -1: the wait loop falls back to short sleeps
    InstanceStop stop(instance, result.start_time);
    for (;;) {
        int status = 0;
        rusage ru{};
        const pid_t done = ::wait4(pid, &status, WNOHANG, &ru);
        if (done == pid) {
            result.end_time = Clock::now();
            result.cpu_user_s = seconds_of(ru.ru_utime);
            result.cpu_system_s = seconds_of(ru.ru_stime);
            if (observer != nullptr) observer->reaped(pid, result.cpu_user_s + result.cpu_system_s);
            if (WIFEXITED(status)) {
                result.exit_code = WEXITSTATUS(status);
            } else if (WIFSIGNALED(status)) {
                result.signal = WTERMSIG(status);
                result.exit_code = 128 + WTERMSIG(status);
            }
            break;
        }
        if (done < 0 && errno != EINTR) {
            // Cannot happen for our own child; do not spin.
            result.end_time = Clock::now();
            result.end = InstanceResult::End::kNotStarted;
            result.start_error =
                fmt::format("run: wait for process {}: {}", pid, std::strerror(errno));
            break;
        }
        stop.check(
            Clock::now(),
            [&](InstanceResult::End why) {
                result.end = why;
                ::kill(-pid, SIGTERM);
            },
            [&] { ::kill(-pid, SIGKILL); });
        if (pidfd >= 0) {
            pollfd p{pidfd, POLLIN, 0};
            ::poll(&p, 1, 50);
        } else {
            ::usleep(10'000);
        }
    }
    if (pidfd >= 0) ::close(pidfd);
    // Whatever the workload left behind in its group does not outlive the run.
    if (::kill(-pid, 0) == 0) {
        result.left_processes = true;
        ::kill(-pid, SIGKILL);
    }
    return result;
}

}  // namespace joulebench::environments
