#pragma once
// The `docker` and `podman` environments: each run is a fresh container of the environment's
// image, created and started in measured phases of their own ("container-create",
// "container-start"), then the workload alone is the measured run, then the container is removed
// ("container-remove"). docs/containers.md explains how and why; in short:
//
// - The container's entrypoint is joulebench-hold (a static helper, bind-mounted read-only). It
//   connects back to joulebench through a unix socket in a per-run host folder (bind-mounted
//   too) and waits; execute() sends "go" with the workload's stdout/stderr descriptors, the
//   helper starts the workload (the image's ENTRYPOINT followed by the workload's command, as
//   `docker run IMAGE COMMAND` would), and reports its exit status when it ends. The container
//   is then still alive (the helper waits), so its cgroup's CPU time can be read before removal.
// - Nothing of the engine runs while the workload is measured, except `<engine> kill` when a
//   run is timed out or interrupted.
// - Containers carry labels (joulebench.run_id, joulebench.environment, joulebench.owner =
//   host/boot id/pid/start time of the joulebench that made them); prepare() removes containers
//   whose owner is a joulebench of this machine that is no longer running (a crash), and the
//   helper ends its workload as soon as joulebench's side of the socket closes.

#include <sys/types.h>

#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "environments/environment.hpp"
#include "environments/hold_protocol.hpp"

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

/// What `<engine> create` is given for one instance (see container_create_argv).
struct ContainerCreateRequest {
    EnvironmentType engine = EnvironmentType::kDocker;  ///< kDocker or kPodman
    std::string binary;  ///< the engine's executable ("docker", "podman" or a path)
    std::string name;    ///< the container's name
    std::string run_id;
    std::string environment;  ///< the [[environment]]'s name
    std::string owner;        ///< the joulebench.owner label
    std::string image;
    std::vector<std::string> run_args;    ///< the environment's extra arguments, before the image
    std::vector<std::string> entrypoint;  ///< the image's ENTRYPOINT (run before the command)
    std::vector<std::string> command;     ///< the workload's argv
    std::vector<std::pair<std::string, std::string>> env;  ///< WorkloadInstance::env
    std::optional<int> gpu;         ///< the slot's GPU (host index, PCI bus order)
    std::filesystem::path hold;     ///< joulebench-hold on the host
    std::filesystem::path run_dir;  ///< the per-run host folder (holds the socket)
};

/// Where the helper and the run folder appear inside the container (environments/hold_protocol.hpp).
using hold::kHoldInContainer;
using hold::kRunDirInContainer;
using hold::kSocketName;

/// The argv of `<engine> create` for `r` (pure; unit-tested):
///   BINARY create --name NAME --label joulebench.run_id=ID --label joulebench.environment=ENV
///     --label joulebench.owner=OWNER --entrypoint /.joulebench-hold
///     -v HOLD:/.joulebench-hold:ro -v RUN_DIR:/.joulebench
///     [--gpus device=N (docker) | --device nvidia.com/gpu=N (podman)]
///     -e K=V ... RUN_ARGS... IMAGE /.joulebench/ctl ENTRYPOINT... COMMAND...
/// With a GPU, CUDA_VISIBLE_DEVICES is passed as "0": the container sees only the slot's GPU,
/// as its device 0, so the host index would name a device that does not exist inside.
/// Throws Error (kInvalidArgument) when a mount path contains ':' or ',' (the engines' volume
/// syntax cannot express it) or an environment variable name is empty or contains '='.
[[nodiscard]] std::vector<std::string> container_create_argv(const ContainerCreateRequest& r);

/// "docker" or "podman", or the value of JOULEBENCH_DOCKER / JOULEBENCH_PODMAN when set.
[[nodiscard]] std::string container_engine_binary(EnvironmentType engine);

/// joulebench-hold: $JOULEBENCH_HOLD when set, else next to the running executable
/// (/proc/self/exe). Not checked for existence.
[[nodiscard]] std::filesystem::path container_hold_path();

/// The joulebench.owner label of this process: "HOST/BOOT_ID/PID/START_TICKS".
[[nodiscard]] std::string container_owner_label();

/// Whether a container labelled `owner` belongs to a joulebench of this machine that is no
/// longer running (so its containers are leftovers of a crash). Labels of other machines, or of
/// a running joulebench, are never stale.
[[nodiscard]] bool container_owner_is_stale(const std::string& owner);

class ContainerEnvironment final : public Environment {
public:
    /// `spec.type` must be kDocker or kPodman.
    explicit ContainerEnvironment(EnvironmentSpec spec);
    ~ContainerEnvironment() override;

    [[nodiscard]] const EnvironmentSpec& spec() const override { return m_spec; }

    /// The engine is on PATH, joulebench-hold exists, the engine answers and the image is in its
    /// local store (never pulled). Throws Error "run: FILE:LINE: environment 'E': ..." with a
    /// hint (install the engine, start the daemon, pull or build the image first).
    void validate(const WorkloadSpec& workload) const override;

    /// Records the engine's version and the image's id, size and entrypoint (describe()), makes
    /// the session folder for the per-run folders, and removes containers left by a crashed
    /// joulebench of this machine (see container_owner_is_stale). Nothing is measured here.
    /// Throws Error when the engine does not answer or the image is gone.
    void prepare() override;

    /// {"engine","binary","version","image","image_id","image_size_bytes","entrypoint",
    ///  "removed_leftovers"} as JSON text.
    [[nodiscard]] std::string describe() const override;

    /// Phases "container-create" (`create`) and "container-start" (`start`, then waits until
    /// joulebench-hold has connected: the container is up, the workload not started). Throws
    /// Error when either fails (the engine's message and the container's log quoted).
    void begin_instance(const WorkloadInstance& instance, PhaseRecorder& phases) override;

    /// Phase "container-remove" (`rm -f`), then removes the run folder. Never throws.
    void end_instance(const WorkloadInstance& instance, PhaseRecorder& phases,
                      std::vector<std::string>& warnings) noexcept override;

    /// Starts the workload in the started container and waits for its end. Times out / stops
    /// with `<engine> kill -s TERM`, then KILL after kill_grace. CPU times are the container
    /// cgroup's during the run.
    InstanceResult execute(const WorkloadInstance& instance, InstanceObserver* observer) override;

    /// Removes the session folder. Never throws.
    void tear_down() noexcept override;

    /// The engine's executable used for every command (see container_engine_binary).
    [[nodiscard]] const std::string& binary() const { return m_binary; }

private:
    struct Instance;

    [[nodiscard]] std::string engine_name() const;
    [[nodiscard]] std::string where() const;
    std::shared_ptr<Instance> find(const std::string& run_id);

    EnvironmentSpec m_spec;
    std::string m_binary;
    std::filesystem::path m_hold;
    // Set by prepare().
    std::string m_version;
    std::string m_image_id;
    std::uint64_t m_image_size = 0;
    std::vector<std::string> m_entrypoint;
    std::size_t m_removed_leftovers = 0;
    std::string m_audit_json;  ///< `image inspect`'s document of the image (docs/images.md)
    std::string m_audit_error;
    std::filesystem::path m_session_dir;
    // Per-instance state, by run id: runs of different GPU slots go on at the same time.
    std::mutex m_mutex;
    std::map<std::string, std::shared_ptr<Instance>> m_instances;
};

}  // namespace joulebench::environments
