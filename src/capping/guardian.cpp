#include "capping/guardian.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include <fmt/format.h>

#include "capping/cap_journal.hpp"
#include "capping/cap_session.hpp"
#include "joulebench/error.hpp"

namespace joulebench::capping {

namespace fs = std::filesystem;

namespace {

void close_fd(int& fd) noexcept {
    if (fd >= 0) {
        ::close(fd);
        fd = -1;
    }
}

void write_all(int fd, const std::string& text) noexcept {
    std::size_t done = 0;
    while (done < text.size()) {
        const ssize_t n = ::write(fd, text.data() + done, text.size() - done);
        if (n < 0) {
            if (errno == EINTR) continue;
            return;
        }
        done += static_cast<std::size_t>(n);
    }
}

// Reads one line (up to '\n' or EOF) within `timeout_ms`. nullopt on timeout.
std::optional<std::string> read_line(int fd, int timeout_ms) {
    std::string line;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
    for (;;) {
        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
        if (left.count() <= 0) return std::nullopt;
        pollfd p{fd, POLLIN, 0};
        const int rc = ::poll(&p, 1, static_cast<int>(left.count()));
        if (rc < 0) {
            if (errno == EINTR) continue;
            return std::nullopt;
        }
        if (rc == 0) return std::nullopt;
        char buf[256];
        const ssize_t n = ::read(fd, buf, sizeof buf);
        if (n < 0) {
            if (errno == EINTR) continue;
            return line;
        }
        if (n == 0) return line;  // EOF
        line.append(buf, static_cast<std::size_t>(n));
        if (const auto nl = line.find('\n'); nl != std::string::npos) return line.substr(0, nl);
    }
}

void guardian_say(const std::string& text) noexcept {
    try {
        std::fflush(stdout);
        fmt::print(stderr, "joulebench guardian: {}\n", text);
        std::fflush(stderr);
    } catch (...) {
    }
}

}  // namespace

fs::path self_executable() {
    std::error_code ec;
    const fs::path exe = fs::read_symlink("/proc/self/exe", ec);
    if (ec) {
        throw Error(ErrorCategory::kInternal, fmt::format("caps: start guardian: read /proc/self/exe: {}", ec.message()));
    }
    return exe;
}

GuardianHandle GuardianHandle::spawn(const GuardianOptions& options) {
    int life[2] = {-1, -1};
    int ready[2] = {-1, -1};
    if (::pipe2(life, O_CLOEXEC) != 0) throw system_error("caps: start guardian: pipe", errno);
    if (::pipe2(ready, O_CLOEXEC) != 0) {
        const int err = errno;
        close_fd(life[0]);
        close_fd(life[1]);
        throw system_error("caps: start guardian: pipe", err);
    }
    const ProcessIdentity me = ProcessIdentity::self();
    // Everything the children need is built before fork: after it, only async-signal-safe calls.
    const std::string exe = options.executable.string();
    std::vector<std::string> args{exe,
                                  "caps",
                                  "guardian",
                                  "--parent-pid",
                                  std::to_string(me.pid),
                                  "--parent-start",
                                  std::to_string(me.start_ticks),
                                  "--life-fd",
                                  "3",
                                  "--ready-fd",
                                  "4"};
    if (options.nvml) args.emplace_back("--nvml");
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);

    // If this process is already a child subreaper, the guardian would be re-parented to it (and
    // reaped by the measurement's wait4(-1)); drop the flag while the guardian is orphaned.
    int was_subreaper = 0;
    (void)::prctl(PR_GET_CHILD_SUBREAPER, &was_subreaper, 0, 0, 0);
    if (was_subreaper != 0) (void)::prctl(PR_SET_CHILD_SUBREAPER, 0, 0, 0, 0);

    const pid_t first = ::fork();
    if (first == 0) {
        // First child: a new session (and process group), then the guardian, then exit, so the
        // guardian is orphaned and re-parented away from joulebench.
        ::setsid();
        const pid_t second = ::fork();
        if (second != 0) ::_exit(second < 0 ? 1 : 0);
        // The guardian: life pipe on fd 3, ready pipe on fd 4, stdin from /dev/null, stdout and
        // stderr kept (its messages reach the user's terminal or log).
        const int life_fd = ::fcntl(life[0], F_DUPFD, 10);
        const int ready_fd = ::fcntl(ready[1], F_DUPFD, 10);
        if (life_fd < 0 || ready_fd < 0 || ::dup2(life_fd, 3) != 3 || ::dup2(ready_fd, 4) != 4) ::_exit(126);
        const int devnull = ::open("/dev/null", O_RDONLY);
        if (devnull >= 0) ::dup2(devnull, 0);
        ::close_range(5, ~0U, 0);
        sigset_t none;
        sigemptyset(&none);
        ::sigprocmask(SIG_SETMASK, &none, nullptr);
        ::execv(argv[0], argv.data());
        ::_exit(127);
    }
    const int fork_err = errno;
    if (first > 0) {
        int status = 0;
        while (::waitpid(first, &status, 0) < 0 && errno == EINTR) {
        }
    }
    if (was_subreaper != 0) (void)::prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
    close_fd(life[0]);
    close_fd(ready[1]);
    if (first < 0) {
        close_fd(life[1]);
        close_fd(ready[0]);
        throw system_error("caps: start guardian: fork", fork_err);
    }
    const auto line = read_line(ready[0], options.ready_timeout_ms);
    close_fd(ready[0]);
    pid_t pid = -1;
    if (line && line->rfind("ready ", 0) == 0) pid = static_cast<pid_t>(std::atol(line->c_str() + 6));
    if (pid <= 0) {
        close_fd(life[1]);  // the guardian, if it runs, sees EOF and exits
        std::string why = !line ? fmt::format("no answer within {} ms", options.ready_timeout_ms)
                          : line->rfind("error ", 0) == 0 ? line->substr(6)
                          : line->empty() ? fmt::format("it exited before it was ready (could not run {}?)", exe)
                                          : fmt::format("unexpected answer '{}'", *line);
        throw Error(ErrorCategory::kInternal, "caps: start guardian: " + why,
                    "no cap was written; the guardian restores caps if joulebench is killed, so caps are "
                    "not written without it");
    }
    return {life[1], pid};
}

GuardianHandle::GuardianHandle(GuardianHandle&& other) noexcept : m_fd(other.m_fd), m_pid(other.m_pid) {
    other.m_fd = -1;
    other.m_pid = -1;
}

GuardianHandle::~GuardianHandle() { close_fd(m_fd); }

void GuardianHandle::done() noexcept {
    if (m_fd < 0) return;
    write_all(m_fd, "done\n");
    close_fd(m_fd);
}

int run_guardian(const GuardianArgs& args) noexcept {
    // Only joulebench's end of the pipe tells the guardian what to do: signals meant for a run
    // (a Ctrl-C, systemd stopping a unit) must not take the guardian away before that.
    for (const int sig : {SIGINT, SIGTERM, SIGHUP, SIGPIPE, SIGQUIT}) ::signal(sig, SIG_IGN);
    int ready_fd = args.ready_fd;
    try {
        CapperFactory factory;
        std::optional<CapJournal> journal;
        try {
            journal.emplace(CapJournal::open_default());
        } catch (const std::exception& e) {
            write_all(ready_fd, fmt::format("error {}\n", e.what()));
            close_fd(ready_fd);
            return 1;
        }
        // NVML loaded now, as restoring must be quick; GPU caps may be AMD GPUs' only, on a machine
        // without NVML, so a failure here is not the guardian's: a restore loads it again.
        if (args.nvml) {
            try {
                (void)factory.nvml_system();
            } catch (const std::exception&) {
            }
        }
        write_all(ready_fd, fmt::format("ready {}\n", ::getpid()));
        close_fd(ready_fd);

        std::string said;
        char buf[64];
        for (;;) {
            const ssize_t n = ::read(args.life_fd, buf, sizeof buf);
            if (n < 0 && errno == EINTR) continue;
            if (n <= 0) break;  // EOF: joulebench has ended (or closed its end)
            said.append(buf, static_cast<std::size_t>(n));
        }
        if (said.find("done") != std::string::npos) return 0;

        RestoreFilter filter;
        filter.mode = RestoreFilter::Mode::kOwner;
        filter.owner.pid = args.parent_pid;
        filter.owner.start_ticks = args.parent_start_ticks;
        const RestoreReport report = restore_journal(*journal, factory, filter);
        if (!report.restored.empty() || !report.failed.empty()) {
            guardian_say(fmt::format("joulebench (pid {}) ended without restoring its power caps", args.parent_pid));
        }
        for (const auto& line : report.restored) guardian_say(line);
        for (const auto& line : report.failed) guardian_say("error: " + line);
        return report.ok() ? 0 : 1;
    } catch (const std::exception& e) {
        guardian_say(std::string("error: ") + e.what());
    } catch (...) {
    }
    return 1;
}

}  // namespace joulebench::capping
