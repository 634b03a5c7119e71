#pragma once
// The guardian: a small process that restores the power caps of a joulebench that died without
// restoring them (SIGKILL, a crash, the OOM killer).
//
// joulebench keeps the write end of a pipe whose read end the guardian blocks on. When
// joulebench ends, for whatever reason, the kernel closes its end and the guardian's read returns
// at once; if joulebench did not write "done" first, the guardian takes the journal lock and
// restores every entry that joulebench process journalled (write, read back, clear), as
// `joulebench caps restore` would. The guardian is a fresh `joulebench caps guardian` process
// (fork, setsid, fork, exec): in its own session and process group, so neither a signal to
// joulebench's group nor the terminal reaches it, and re-parented away from joulebench before
// joulebench becomes a child subreaper, so the measurement's wait4(-1) never reaps it. It
// ignores SIGINT, SIGTERM and SIGHUP: only joulebench's end tells it when to act.

#include <sys/types.h>

#include <filesystem>
#include <string>
#include <vector>

namespace joulebench::capping {

struct GuardianOptions {
    /// The joulebench binary that runs `caps guardian` (normally /proc/self/exe, resolved).
    std::filesystem::path executable;
    /// Load NVML before reporting ready (GPU caps will be written), where it loads: caps of AMD
    /// GPUs only, on a machine without NVML, leave it to the restore.
    bool nvml = false;
    /// How long to wait for the guardian to report ready.
    int ready_timeout_ms = 30000;
};

class GuardianHandle {
public:
    /// Starts the guardian and waits until it is ready (its NVML is loaded). Throws Error kInternal
    /// (with the guardian's own message) when it cannot start or does not get ready: then no cap
    /// may be written.
    static GuardianHandle spawn(const GuardianOptions& options);

    GuardianHandle(GuardianHandle&& other) noexcept;
    GuardianHandle& operator=(GuardianHandle&&) = delete;
    GuardianHandle(const GuardianHandle&) = delete;
    GuardianHandle& operator=(const GuardianHandle&) = delete;
    /// Closes the pipe without "done": the guardian restores whatever this process still has
    /// journalled (nothing, when every cap was restored).
    ~GuardianHandle();

    /// Tells the guardian every cap was restored: it exits without touching anything.
    void done() noexcept;
    [[nodiscard]] pid_t pid() const { return m_pid; }

private:
    GuardianHandle(int fd, pid_t pid) : m_fd(fd), m_pid(pid) {}
    int m_fd = -1;
    pid_t m_pid = -1;
};

struct GuardianArgs {
    pid_t parent_pid = 0;
    unsigned long long parent_start_ticks = 0;
    int life_fd = 3;   ///< read end of the life pipe
    int ready_fd = 4;  ///< where "ready PID" (or "error MESSAGE") is written
    bool nvml = false;
};

/// The guardian's main (`joulebench caps guardian`, hidden). Returns its exit status: 0 when
/// nothing needed restoring or everything was restored, 1 otherwise. Messages go to stderr.
int run_guardian(const GuardianArgs& args) noexcept;

/// The path of the running executable (/proc/self/exe). Throws Error kInternal.
std::filesystem::path self_executable();

}  // namespace joulebench::capping
