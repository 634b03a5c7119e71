#include "sensors/estimate/process_tree.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <optional>
#include <string>

namespace joulebench::estimate {

bool parse_proc_stat(const char* text, std::size_t size, ProcStat& out) noexcept {
    // Format: "pid (comm) state ppid ...": comm may hold spaces and ')' so find the last ')'.
    const char* end = text + size;
    const char* close = nullptr;
    for (const char* p = end; p > text; --p) {
        if (p[-1] == ')') {
            close = p - 1;
            break;
        }
    }
    if (close == nullptr) return false;
    const char* p = close + 1;
    // Fields after comm: 3 state, 4 ppid, ..., 14 utime, 15 stime, 16 cutime, 17 cstime.
    int field = 2;
    std::uint64_t ticks = 0;
    std::uint64_t children = 0;
    while (p < end && field < 17) {
        while (p < end && *p == ' ') ++p;
        if (p >= end) break;
        ++field;
        const char* tok = p;
        while (p < end && *p != ' ') ++p;
        if (field == 4 || (field >= 14 && field <= 17)) {
            long long value = 0;  // cutime/cstime are signed in the kernel's format
            const auto [ptr, ec] = std::from_chars(tok, p, value);
            if (ec != std::errc()) return false;
            if (field == 4) {
                out.ppid = static_cast<pid_t>(value);
            } else if (value > 0) {
                ticks += static_cast<std::uint64_t>(value);
                if (field >= 16) children += static_cast<std::uint64_t>(value);
            }
        }
    }
    if (field < 17) return false;
    out.cpu_ticks = ticks;
    out.children_ticks = children;
    return true;
}

namespace {

bool read_stat_fd(int fd, ProcStat& out) noexcept {
    std::array<char, 1024> buf{};
    ssize_t n = 0;
    do {
        n = ::pread(fd, buf.data(), buf.size(), 0);
    } while (n < 0 && errno == EINTR);
    if (n <= 0) return false;
    return parse_proc_stat(buf.data(), static_cast<std::size_t>(n), out);
}

// The children of every thread of `pid`, from /proc/PID/task/*/children (CONFIG_PROC_CHILDREN).
std::vector<pid_t> children_from_files(pid_t pid) {
    std::vector<pid_t> out;
    const std::string task_dir = "/proc/" + std::to_string(pid) + "/task";
    DIR* dir = ::opendir(task_dir.c_str());
    if (dir == nullptr) return out;
    while (dirent* e = ::readdir(dir)) {
        if (e->d_name[0] < '0' || e->d_name[0] > '9') continue;
        const std::string file = task_dir + "/" + e->d_name + "/children";
        const int fd = ::open(file.c_str(), O_RDONLY | O_CLOEXEC);
        if (fd < 0) continue;
        std::array<char, 4096> buf{};
        const ssize_t n = ::read(fd, buf.data(), buf.size() - 1);
        ::close(fd);
        const char* p = buf.data();
        const char* end = buf.data() + (n > 0 ? n : 0);
        while (p < end) {
            int child = 0;
            const auto [ptr, ec] = std::from_chars(p, end, child);
            if (ec != std::errc()) {
                ++p;
                continue;
            }
            p = ptr;
            out.push_back(child);
        }
    }
    ::closedir(dir);
    return out;
}

// One pass over /proc: every process's parent.
std::unordered_map<pid_t, pid_t> parents_of_all() {
    std::unordered_map<pid_t, pid_t> parent_of;
    DIR* dir = ::opendir("/proc");
    if (dir == nullptr) return parent_of;
    while (dirent* e = ::readdir(dir)) {
        if (e->d_name[0] < '0' || e->d_name[0] > '9') continue;
        int pid = 0;
        const char* name_end = e->d_name + std::strlen(e->d_name);
        if (std::from_chars(e->d_name, name_end, pid).ec != std::errc()) continue;
        char path[64];
        std::snprintf(path, sizeof path, "/proc/%d/stat", pid);
        const int fd = ::open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0) continue;
        ProcStat st;
        if (read_stat_fd(fd, st)) parent_of[pid] = st.ppid;
        ::close(fd);
    }
    ::closedir(dir);
    return parent_of;
}

// The process's own CPU time (every thread's, user + system), to the nanosecond, from its
// CPU-time clock; unset when it cannot be read (the process is gone, or the clock is refused).
std::optional<double> own_cpu_seconds(pid_t pid) noexcept {
    clockid_t clock{};
    timespec ts{};
    if (::clock_getcpuclockid(pid, &clock) != 0 || ::clock_gettime(clock, &ts) != 0) {
        return std::nullopt;
    }
    return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

bool have_children_files() noexcept {
    return ::access(("/proc/self/task/" + std::to_string(::getpid()) + "/children").c_str(), R_OK) == 0;
}

}  // namespace

std::vector<pid_t> children_of(pid_t parent) noexcept {
    try {
        if (have_children_files()) return children_from_files(parent);
        std::vector<pid_t> out;
        for (const auto& [pid, ppid] : parents_of_all()) {
            if (ppid == parent) out.push_back(pid);
        }
        return out;
    } catch (...) {
        return {};
    }
}

ProcessTreeCpuClock::ProcessTreeCpuClock() {
    const long hz = ::sysconf(_SC_CLK_TCK);
    if (hz > 0) m_ticks_per_second = static_cast<double>(hz);
    m_have_children_files = have_children_files();
}

ProcessTreeCpuClock::~ProcessTreeCpuClock() {
    for (auto& [pid, m] : m_members) {
        if (m.fd >= 0) ::close(m.fd);
    }
}

void ProcessTreeCpuClock::attach(pid_t pid) {
    const std::lock_guard lock(m_mutex);
    m_root = pid;
    add_member(pid);
    m_last_scan = {};
    m_rescan = kMinRescan;
}

void ProcessTreeCpuClock::add_member(pid_t pid) noexcept {
    if (m_members.count(pid) != 0) return;
    char path[64];
    std::snprintf(path, sizeof path, "/proc/%d/stat", static_cast<int>(pid));
    const int fd = ::open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return;
    try {
        m_members.emplace(pid, Member{fd, 0.0});
    } catch (...) {
        ::close(fd);
    }
}

void ProcessTreeCpuClock::drop_member(pid_t pid) noexcept {
    auto it = m_members.find(pid);
    if (it == m_members.end()) return;
    if (it->second.fd >= 0) ::close(it->second.fd);
    m_members.erase(it);
}

void ProcessTreeCpuClock::add_reaped(pid_t pid, double cpu_seconds) {
    const std::lock_guard lock(m_mutex);
    drop_member(pid);
    m_reaped_seconds += cpu_seconds;
    ++m_reaps;
}

std::uint64_t ProcessTreeCpuClock::reaps() const noexcept {
    const std::lock_guard lock(m_mutex);
    return m_reaps;
}

void ProcessTreeCpuClock::discover() noexcept {
    if (m_members.empty()) return;
    try {
        if (m_have_children_files) {
            std::vector<pid_t> frontier;
            for (const auto& [pid, m] : m_members) frontier.push_back(pid);
            while (!frontier.empty()) {
                const pid_t pid = frontier.back();
                frontier.pop_back();
                for (const pid_t child : children_from_files(pid)) {
                    if (m_members.count(child) == 0) {
                        add_member(child);
                        frontier.push_back(child);
                    }
                }
            }
            return;
        }
        // No children files: one pass over /proc collecting parent ids, then a closure from members.
        std::unordered_map<pid_t, pid_t> parent_of = parents_of_all();
        for (const auto& [pid, m] : m_members) parent_of.erase(pid);
        bool grew = true;
        while (grew) {
            grew = false;
            for (auto it = parent_of.begin(); it != parent_of.end();) {
                if (m_members.count(it->second) != 0) {
                    add_member(it->first);
                    it = parent_of.erase(it);
                    grew = true;
                } else {
                    ++it;
                }
            }
        }
    } catch (...) {
        // Out of memory while scanning: keep the members we have.
    }
}

double ProcessTreeCpuClock::cpu_seconds() noexcept {
    const std::lock_guard lock(m_mutex);
    const auto now = std::chrono::steady_clock::now();
    if (now - m_last_scan >= m_rescan) {
        const std::size_t before = m_members.size();
        discover();
        m_last_scan = now;
        m_rescan = m_members.size() > before ? kMinRescan : std::min(m_rescan * 2, kMaxRescan);
    }
    double live = 0.0;
    for (auto it = m_members.begin(); it != m_members.end();) {
        ProcStat st;
        if (it->second.fd >= 0 && read_stat_fd(it->second.fd, st)) {
            // Read after the stat file, which proves the pid is still this member's.
            const auto own = own_cpu_seconds(it->first);
            const double ticks = static_cast<double>(own ? st.children_ticks : st.cpu_ticks);
            it->second.last_seconds = own.value_or(0.0) + ticks / m_ticks_per_second;
            live += it->second.last_seconds;
            ++it;
        } else {
            // Gone: it was reaped, so its time now sits in its parent's cutime or was added by
            // add_reaped(). Keeping its last value would count it twice.
            if (it->second.fd >= 0) ::close(it->second.fd);
            it = m_members.erase(it);
        }
    }
    const double total = live + m_reaped_seconds;
    if (total > m_last_total) m_last_total = total;
    return m_last_total;
}

std::vector<pid_t> ProcessTreeCpuClock::live_members() const {
    const std::lock_guard lock(m_mutex);
    std::vector<pid_t> out;
    out.reserve(m_members.size());
    for (const auto& [pid, m] : m_members) out.push_back(pid);
    return out;
}

}  // namespace joulebench::estimate
