#include "environments/qemu_process.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstring>
#include <future>
#include <memory>

#include "common/unique_fd.hpp"
#include "joulebench/error.hpp"
#include "measure/process.hpp"

namespace joulebench::environments {

namespace {

// In the child, between fork and exec: only async-signal-safe calls. Reports errno through
// `report` (close-on-exec: it closes without a word when exec succeeds).
[[noreturn]] void exec_child(char* const* argv, const char* program, int output, int report,
                             pid_t parent) {
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) ::_exit(127);  // the parent is already gone
    ::setpgid(0, 0);
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    for (const int s : {SIGINT, SIGTERM, SIGHUP, SIGPIPE, SIGCHLD, SIGQUIT}) ::signal(s, SIG_DFL);
    const int null = ::open("/dev/null", O_RDONLY);
    if (null >= 0) ::dup2(null, 0);
    ::dup2(output, 1);
    ::dup2(output, 2);
    ::execv(program, argv);
    const int e = errno;
    [[maybe_unused]] const auto n = ::write(report, &e, sizeof(e));
    ::_exit(127);
}

}  // namespace

QemuProcess::QemuProcess(const std::vector<std::string>& argv,
                         const std::filesystem::path& output) {
    const std::string program = process::resolve_command(argv.at(0));  // throws kNotFound
    const UniqueFd out(::open(output.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644));
    if (!out.open()) throw system_error(fmt::format("vm: open {}", output.string()), errno);
    std::vector<std::string> storage = argv;
    std::vector<char*> args;
    args.reserve(storage.size() + 1);
    for (auto& a : storage) args.push_back(a.data());
    args.push_back(nullptr);

    // pid, or -1 and errno. Shared with the thread: set_value may still be finishing there when
    // this constructor has its answer and returns.
    auto started = std::make_shared<std::promise<std::pair<pid_t, int>>>();
    auto result = started->get_future();
    const pid_t parent = ::getpid();
    // By reference: args, program and out, which the thread uses only before set_value.
    m_waiter = std::thread([&args, &program, &out, started, parent, this] {
        int report[2];
        if (::pipe2(report, O_CLOEXEC) != 0) {
            started->set_value({-1, errno});
            return;
        }
        const pid_t pid = ::fork();
        const int fork_errno = errno;
        if (pid == 0) exec_child(args.data(), program.c_str(), out.get(), report[1], parent);
        ::close(report[1]);
        int exec_errno = 0;
        const bool failed =
            pid < 0 || ::read(report[0], &exec_errno, sizeof(exec_errno)) == sizeof(exec_errno);
        ::close(report[0]);
        if (pid < 0) exec_errno = fork_errno;
        if (failed) {
            if (pid > 0) ::waitpid(pid, nullptr, 0);
            started->set_value({-1, exec_errno});
            return;
        }
        m_pid = pid;
        started->set_value({pid, 0});
        reap();
    });
    const auto [pid, error] = result.get();
    if (pid < 0) {
        m_waiter.join();
        throw system_error(fmt::format("vm: start {}", program), error);
    }
}

void QemuProcess::reap() {
    int status = 0;
    while (::waitpid(m_pid, &status, 0) < 0 && errno == EINTR) {
    }
    const int code = WIFSIGNALED(status) ? 128 + WTERMSIG(status) : WEXITSTATUS(status);
    std::lock_guard lock(m_mutex);
    m_status = code;
    m_ended.notify_all();
}

QemuProcess::~QemuProcess() {
    if (m_waiter.joinable()) {
        if (!exit_status()) ::kill(m_pid, SIGKILL);
        m_waiter.join();
    }
}

std::optional<int> QemuProcess::exit_status() const {
    std::lock_guard lock(m_mutex);
    return m_status;
}

bool QemuProcess::wait_for(std::chrono::milliseconds timeout) const {
    std::unique_lock lock(m_mutex);
    return m_ended.wait_for(lock, timeout, [this] { return m_status.has_value(); });
}

void QemuProcess::terminate(std::chrono::milliseconds grace) noexcept {
    if (exit_status()) return;
    ::kill(m_pid, SIGTERM);
    if (wait_for(grace)) return;
    ::kill(m_pid, SIGKILL);
    wait_for(std::chrono::seconds(30));
}

}  // namespace joulebench::environments
