#pragma once
// One QEMU process that cannot outlive joulebench. A thread of its own forks it and then waits
// for it; the child asks the kernel for SIGKILL when its parent goes (PR_SET_PDEATHSIG). The
// kernel sends that signal when the *thread* that forked exits, not the process, which is why
// the forking thread is this object's waiter: it lives exactly as long as QEMU does. When
// joulebench ends in any way (return, Ctrl-C, SIGTERM, SIGKILL, crash) every one of its threads
// ends, so QEMU gets SIGKILL. QEMU 7.2 (Debian 12) has no `-run-with` option for this.

#include <sys/types.h>

#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace joulebench::environments {

class QemuProcess {
public:
    /// Starts `argv` (argv[0] searched on PATH) in a process group of its own (the terminal's
    /// Ctrl-C reaches joulebench, which stops the guest in order), stdin /dev/null, stdout and
    /// stderr appended to `output`. Throws Error (kNotFound, kIo) when it cannot be started.
    QemuProcess(const std::vector<std::string>& argv, const std::filesystem::path& output);
    QemuProcess(const QemuProcess&) = delete;
    QemuProcess& operator=(const QemuProcess&) = delete;
    /// SIGKILLs QEMU if it still runs, and waits for it.
    ~QemuProcess();

    [[nodiscard]] pid_t pid() const { return m_pid; }
    /// Its exit status (128+N for signal N) once it has ended.
    [[nodiscard]] std::optional<int> exit_status() const;
    /// Waits until it has ended or `timeout` passed; true when it has ended.
    bool wait_for(std::chrono::milliseconds timeout) const;
    /// SIGTERM (QEMU then closes its disks and exits), SIGKILL after `grace`; waits for it.
    void terminate(std::chrono::milliseconds grace) noexcept;

private:
    void reap();

    pid_t m_pid = -1;
    std::thread m_waiter;
    mutable std::mutex m_mutex;
    mutable std::condition_variable m_ended;
    std::optional<int> m_status;
};

}  // namespace joulebench::environments
