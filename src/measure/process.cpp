#include "measure/process.hpp"

#include <fmt/core.h>
#include <signal.h>
#include <spawn.h>
#include <poll.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>

#include "common/child_env.hpp"
#include "joulebench/error.hpp"
#include "sensors/estimate/process_tree.hpp"


namespace joulebench::process {

namespace {

bool is_executable_file(const std::string& path) {
    struct stat st {};
    return ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode) && ::access(path.c_str(), X_OK) == 0;
}

double seconds_of(const timeval& tv) {
    return static_cast<double>(tv.tv_sec) + static_cast<double>(tv.tv_usec) * 1e-6;
}

std::atomic<pid_t> g_child{-1};
std::atomic<int> g_received{0};
constexpr std::array<int, 3> kForwarded{SIGINT, SIGTERM, SIGHUP};

void forward_handler(int sig, siginfo_t* info, void* /*context*/) {
    const int saved_errno = errno;  // the interrupted code may be about to read errno
    g_received.store(sig);
    const pid_t child = g_child.load();
    // si_code > 0 means the kernel generated it (e.g. the terminal's Ctrl-C, which the child's
    // process group already got); <= 0 (SI_USER, SI_QUEUE, SI_TKILL) means a process sent it.
    if (child > 0 && (info == nullptr || info->si_code <= 0)) ::kill(child, sig);
    errno = saved_errno;
}

}  // namespace

std::string resolve_command(const std::string& name) {
    if (name.empty()) throw Error(ErrorCategory::kInvalidArgument, "measure: no command given", "put the command after `--`");
    auto not_found = [&name] {
        Error e(ErrorCategory::kNotFound, fmt::format("measure: run {}: command not found", name),
                "check the spelling, or give the full path");
        e.set_exit_code(127);
        return e;
    };
    if (name.find('/') != std::string::npos) {
        struct stat st {};
        if (::stat(name.c_str(), &st) != 0) throw not_found();
        if (!is_executable_file(name)) {
            Error e(ErrorCategory::kNoPermission, fmt::format("measure: run {}: not an executable file", name),
                    "make it executable (chmod +x) or run it through its interpreter");
            e.set_exit_code(126);
            throw e;
        }
        return name;
    }
    const char* path_env = std::getenv("PATH");
    const std::string path = path_env != nullptr ? path_env : "/usr/local/bin:/usr/bin:/bin";
    std::size_t start = 0;
    bool found_not_executable = false;
    while (start <= path.size()) {
        const auto colon = path.find(':', start);
        const std::string_view dir = std::string_view(path).substr(start, colon == std::string::npos ? std::string::npos : colon - start);
        // An empty PATH element means the current folder, as in execvp.
        const std::string candidate = fmt::format("{}/{}", dir.empty() ? std::string_view(".") : dir, name);
        if (is_executable_file(candidate)) return candidate;
        if (::access(candidate.c_str(), F_OK) == 0) found_not_executable = true;
        if (colon == std::string::npos) break;
        start = colon + 1;
    }
    if (found_not_executable) {
        Error e(ErrorCategory::kNoPermission, fmt::format("measure: run {}: found on PATH but not executable", name));
        e.set_exit_code(126);
        throw e;
    }
    throw not_found();
}

ChildSpawnAttributes::ChildSpawnAttributes(bool own_group) {
    posix_spawnattr_init(&m_attr);
    sigset_t none;
    sigset_t defaults;
    sigemptyset(&none);
    sigemptyset(&defaults);
    for (const int sig : {SIGINT, SIGTERM, SIGHUP, SIGPIPE, SIGCHLD}) sigaddset(&defaults, sig);
    posix_spawnattr_setsigmask(&m_attr, &none);
    posix_spawnattr_setsigdefault(&m_attr, &defaults);
    short flags = POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF;
    if (own_group) {
        posix_spawnattr_setpgroup(&m_attr, 0);
        flags |= POSIX_SPAWN_SETPGROUP;
    }
    posix_spawnattr_setflags(&m_attr, flags);
}

ChildSpawnAttributes::~ChildSpawnAttributes() { posix_spawnattr_destroy(&m_attr); }

std::string spawn_error_text(const std::string& program, int error) {
    if (error == ENOENT && ::access(program.c_str(), F_OK) == 0) {
        // The file exists: what is missing is its interpreter (the "#!" line's first word).
        std::ifstream in(program, std::ios::binary);
        std::string line;
        if (in && std::getline(in, line) && line.rfind("#!", 0) == 0) {
            const auto begin = line.find_first_not_of(" \t", 2);
            const auto end = line.find_first_of(" \t\r", begin);
            if (begin != std::string::npos) {
                return fmt::format("bad interpreter {}: {}", line.substr(begin, end - begin), std::strerror(error));
            }
        }
    }
    return std::strerror(error);
}

int spawn_error_exit_code(int error) noexcept { return error == ENOENT ? 127 : 126; }

pid_t spawn(const SpawnOptions& options) {
    const std::string program = resolve_command(options.argv.at(0));
    std::vector<char*> argv;
    argv.reserve(options.argv.size() + 1);
    for (const auto& a : options.argv) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);

    // Environment: inherited, with the requested variables set.
    std::vector<std::string> env_storage = child_environment(options.set_env);
    const std::vector<char*> envp = environment_pointers(env_storage);

    // The measured command stays in joulebench's process group: the terminal's Ctrl-C reaches
    // both (docs: SignalForwarder).
    const ChildSpawnAttributes attr(/*own_group=*/false);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    if (options.stdout_fd >= 0) posix_spawn_file_actions_adddup2(&actions, options.stdout_fd, 1);
    pid_t pid = -1;
    const int rc =
        ::posix_spawn(&pid, program.c_str(), &actions, attr.get(), argv.data(), envp.data());
    posix_spawn_file_actions_destroy(&actions);
    if (rc != 0) {
        Error e(rc == ENOENT ? ErrorCategory::kNotFound : ErrorCategory::kIo,
                fmt::format("measure: start {}: {}", program, spawn_error_text(program, rc)));
        e.set_exit_code(spawn_error_exit_code(rc));
        throw e;
    }
    return pid;
}

void become_subreaper() noexcept { ::prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); }

ExitStatus wait_for(pid_t pid, estimate::ProcessTreeCpuClock* clock) {
    ExitStatus out;
    for (;;) {
        int status = 0;
        rusage ru{};
        const pid_t done = ::wait4(-1, &status, 0, &ru);
        if (done < 0) {
            if (errno == EINTR) continue;
            if (errno == ECHILD) {
                throw Error(ErrorCategory::kInternal, fmt::format("measure: wait for process {}: no such child", pid));
            }
            throw system_error("measure: wait for the command", errno);
        }
        const double user = seconds_of(ru.ru_utime);
        const double sys = seconds_of(ru.ru_stime);
        out.cpu_user_s += user;
        out.cpu_system_s += sys;
        if (clock != nullptr) clock->add_reaped(done, user + sys);
        if (done != pid) continue;  // an orphaned descendant re-parented to us
        out.end_time = Clock::now();
        if (WIFEXITED(status)) {
            out.exit_code = WEXITSTATUS(status);
        } else if (WIFSIGNALED(status)) {
            out.signal = WTERMSIG(status);
            out.exit_code = 128 + WTERMSIG(status);
            out.core_dumped = WCOREDUMP(status);
        }
        break;
    }
    // Reap descendants that already ended; those still running are reported, not waited for.
    for (;;) {
        int status = 0;
        rusage ru{};
        const pid_t done = ::wait4(-1, &status, WNOHANG, &ru);
        if (done <= 0) break;
        const double cpu = seconds_of(ru.ru_utime) + seconds_of(ru.ru_stime);
        out.cpu_user_s += seconds_of(ru.ru_utime);
        out.cpu_system_s += seconds_of(ru.ru_stime);
        if (clock != nullptr) clock->add_reaped(done, cpu);
    }
    if (clock != nullptr) {
        for (pid_t p : clock->live_members()) {
            if (p != pid && ::kill(p, 0) == 0) out.orphans_alive.push_back(p);
        }
    }
    // A subreaper's children now are what the command left running, even those started and
    // orphaned before the tree was first searched (`setsid daemon &; exit`: issue 13, defect 6).
    for (const pid_t p : estimate::children_of(::getpid())) {
        if (p != pid && std::find(out.orphans_alive.begin(), out.orphans_alive.end(), p) == out.orphans_alive.end()) {
            out.orphans_alive.push_back(p);
        }
    }
    return out;
}

int open_pidfd(pid_t pid) {
#ifdef SYS_pidfd_open
    // The raw system call: glibc has a wrapper only since 2.36.
    return static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
#else
    (void)pid;
    return -1;
#endif
}

bool ends_within(pid_t pid, std::chrono::nanoseconds timeout) {
    const int fd = open_pidfd(pid);
    if (fd < 0) return false;
    const auto deadline = Clock::now() + timeout;
    bool ended = false;
    for (;;) {
        const auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - Clock::now());
        pollfd p{fd, POLLIN, 0};
        const int n = ::poll(&p, 1, static_cast<int>(std::max<std::chrono::milliseconds::rep>(left.count(), 0)));
        if (n > 0) {
            ended = true;
            break;
        }
        if (n == 0 || (n < 0 && errno != EINTR)) break;
    }
    ::close(fd);
    return ended;
}

SignalForwarder::SignalForwarder(pid_t child) {
    g_child.store(child);
    g_received.store(0);
    struct sigaction sa {};
    sa.sa_sigaction = forward_handler;
    sa.sa_flags = SA_SIGINFO | SA_RESTART;
    sigemptyset(&sa.sa_mask);
    for (int sig : kForwarded) ::sigaction(sig, &sa, nullptr);
}

SignalForwarder::~SignalForwarder() {
    g_child.store(-1);
    // Keep handlers installed but inert; a late signal then does nothing instead of killing
    // joulebench before it writes its results. The caller decides how to exit.
}

std::optional<int> SignalForwarder::received() {
    const int sig = g_received.load();
    if (sig == 0) return std::nullopt;
    return sig;
}

}  // namespace joulebench::process
