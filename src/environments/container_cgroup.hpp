#pragma once
// The CPU time of a container, read from its cgroup on the host: the container environment reads
// it before and after the workload, while joulebench-hold keeps the container (and so its cgroup)
// alive (docs/containers.md). cgroup v1 (cpuacct) and v2 (cpu.stat) are both read.

#include <sys/types.h>

#include <filesystem>
#include <optional>

namespace joulebench::environments {

/// CPU time of a cgroup, in seconds.
struct CgroupCpu {
    double user_s = 0.0;
    double system_s = 0.0;
};

/// Where the CPU accounting of a process's cgroup is: cgroup v1 `cpuacct.usage` (the exact total,
/// nanoseconds) split by the tick-sampled `cpuacct.usage_user`/`cpuacct.usage_sys` or, on older
/// kernels, `cpuacct.stat` (USER_HZ ticks), or cgroup v2 `cpu.stat` (user_usec, system_usec).
struct CgroupCpuFiles {
    enum class Kind { kV1Usage, kV1Stat, kV2 };
    Kind kind = Kind::kV2;
    std::filesystem::path dir;  ///< the cgroup's folder
};

/// Finds the CPU accounting of `pid`'s cgroup from `proc_root`/PID/cgroup and the cgroup mounts
/// in `mountinfo` (normally /proc and /proc/self/mountinfo; tests pass fake ones). Prefers the
/// v1 cpuacct hierarchy when it is mounted (hybrid hosts), else the v2 unified one. nullopt when
/// neither can be found (the process is gone, or lives in another pid namespace).
[[nodiscard]] std::optional<CgroupCpuFiles> find_cgroup_cpu(
    pid_t pid, const std::filesystem::path& proc_root = "/proc",
    const std::filesystem::path& mountinfo = "/proc/self/mountinfo");

/// Reads the cgroup's CPU time now; nullopt when it cannot (the cgroup is gone).
[[nodiscard]] std::optional<CgroupCpu> read_cgroup_cpu(const CgroupCpuFiles& files);

}  // namespace joulebench::environments
