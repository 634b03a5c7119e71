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
//
// Its pieces: container_engine.hpp (the engine's commands, the `create` argv), container_owner.hpp
// (owner labels, a crashed joulebench's leftovers), container_cgroup.hpp (the cgroup's CPU time)
// and hold_channel.hpp (the host's end of the joulebench-hold protocol).

#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "environments/environment.hpp"

namespace joulebench::environments {

class ContainerEnvironment final : public Environment {
public:
    /// `spec.type` must be kDocker or kPodman.
    explicit ContainerEnvironment(EnvironmentSpec spec);
    ~ContainerEnvironment() override;

    [[nodiscard]] const EnvironmentSpec& spec() const override { return m_spec; }

    /// The engine is on PATH, joulebench-hold exists, the engine answers and the image is in its
    /// local store (never pulled; once it was found, later workloads do not ask the engine
    /// again). Throws Error "run: FILE:LINE: environment 'E': ..." with a hint (install the
    /// engine, start the daemon, pull or build the image first).
    void validate(const WorkloadSpec& workload) const override;

    /// Records the engine's version and the image's id, size and entrypoint (describe()), makes
    /// the session folder for the per-run folders, and removes containers left by a crashed
    /// joulebench of this machine (container_owner.hpp). Nothing is measured here.
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
                      std::vector<Warning>& warnings) noexcept override;

    /// Starts the workload in the started container and waits for its end. Times out / stops
    /// with `<engine> kill -s TERM`, then KILL after kill_grace. CPU times are the container
    /// cgroup's during the run.
    InstanceResult execute(const WorkloadInstance& instance, InstanceObserver* observer) override;

    /// Removes the session folder. Never throws.
    void tear_down() noexcept override;

    /// The engine's executable used for every command (container_engine_binary).
    [[nodiscard]] const std::string& binary() const { return m_binary; }

private:
    struct Instance;

    [[nodiscard]] std::string engine_name() const;
    [[nodiscard]] std::string where() const;
    std::shared_ptr<Instance> find(const std::string& run_id);
    // prepare()'s steps.
    void record_image(const std::string& inspect_output);
    void make_session_dir();
    // begin_instance()'s "container-start" phase: `start`, then joulebench-hold's "ready".
    void start_container(Instance& inst);
    // execute()'s wait for the end of the workload, and its end when joulebench-hold did not
    // report it (killed, crashed).
    std::optional<std::string> wait_for_report(Instance& inst, const WorkloadInstance& instance,
                                               InstanceResult& result, bool& killed);
    void end_without_report(const Instance& inst, bool killed, InstanceResult& result);

    EnvironmentSpec m_spec;
    std::string m_binary;
    std::filesystem::path m_hold;
    // Set by validate() once the image was found.
    mutable std::mutex m_validate_mutex;
    mutable bool m_image_validated = false;
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
