#pragma once
// CPU time of a process tree, read from procfs while it runs and completed from wait4()'s rusage
// when processes are reaped.
//
// While the tree runs, its CPU time is the sum over its live members of utime + stime + cutime +
// cstime (/proc/PID/stat fields 14-17): a member's own time plus that of the children it reaped.
// Members are found through /proc/PID/task/TID/children where the kernel has it
// (CONFIG_PROC_CHILDREN), else by scanning /proc for parent ids, with a back-off (kMinRescan to
// kMaxRescan); a process that starts and ends between two scans is still counted once its parent
// reaps it (cutime) or once joulebench reaps it (add_reaped). A member's own time (utime + stime,
// every thread) is read to the nanosecond from its CPU-time clock (clock_getcpuclockid) where it
// can be: /proc counts in clock ticks and truncates, so a /proc-only reading lags by up to a few
// ticks and catches up in a jump at the exact rusage (a trace interval then shows more CPU time
// than wall time x CPUs). The sum can dip for a moment while a finished member waits to be reaped,
// so readings are made monotone (a dip is not a reset).

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <mutex>
#include <unordered_map>
#include <vector>

namespace joulebench::estimate {

class ProcessTreeCpuClock {
public:
    ProcessTreeCpuClock();
    ProcessTreeCpuClock(const ProcessTreeCpuClock&) = delete;
    ProcessTreeCpuClock& operator=(const ProcessTreeCpuClock&) = delete;
    ~ProcessTreeCpuClock();

    /// Starts following the tree rooted at `pid` (which must be a child of this process).
    void attach(pid_t pid);

    /// Adds the CPU time of a process this process reaped (wait4's rusage: its own time and that of
    /// every descendant it reaped), and stops following it.
    void add_reaped(pid_t pid, double cpu_seconds);

    /// CPU seconds of the tree so far (monotone). Thread-safe: the sampler reads while the waiting
    /// thread reaps.
    double cpu_seconds() noexcept;

    /// How many times add_reaped() was called: a reader that caches cpu_seconds() reads again
    /// when this changed, so the reading after a reap holds the exact rusage.
    [[nodiscard]] std::uint64_t reaps() const noexcept;

    /// Live members seen by the last reading (excluding the reaped).
    [[nodiscard]] std::vector<pid_t> live_members() const;

    /// How often the tree is searched for new members: from kMinRescan, doubling while nothing new
    /// appears, up to kMaxRescan, back to kMinRescan when a member is found. A full /proc scan
    /// (when the children files are absent) costs about 3 us per process on the machine.
    static constexpr std::chrono::milliseconds kMinRescan{100};
    static constexpr std::chrono::milliseconds kMaxRescan{2000};

private:
    struct Member {
        int fd = -1;
        double last_seconds = 0.0;
    };
    void discover() noexcept;
    void add_member(pid_t pid) noexcept;
    void drop_member(pid_t pid) noexcept;

    mutable std::mutex m_mutex;
    std::unordered_map<pid_t, Member> m_members;
    pid_t m_root = -1;
    double m_reaped_seconds = 0.0;
    std::uint64_t m_reaps = 0;
    double m_last_total = 0.0;
    double m_ticks_per_second = 100.0;
    bool m_have_children_files = false;
    std::chrono::steady_clock::time_point m_last_scan{};
    std::chrono::milliseconds m_rescan{kMinRescan};
};

/// Parses /proc/PID/stat text: utime+stime+cutime+cstime in clock ticks, and the parent pid.
/// Handles command names containing spaces and parentheses. Exposed for tests.
struct ProcStat {
    pid_t ppid = 0;
    std::uint64_t cpu_ticks = 0;       ///< utime + stime + cutime + cstime
    std::uint64_t children_ticks = 0;  ///< cutime + cstime: of the children it reaped
};
bool parse_proc_stat(const char* text, std::size_t size, ProcStat& out) noexcept;

/// The living children of `parent` (every thread's): /proc/PID/task/*/children where the kernel
/// has it, else one pass over /proc. Empty when nothing can be read.
[[nodiscard]] std::vector<pid_t> children_of(pid_t parent) noexcept;

}  // namespace joulebench::estimate
