#pragma once
// What the container environment says to its engine: the engine's client program, the argv of
// `<engine> create` for one instance (labels, the joulebench-hold entrypoint and its mounts, the
// GPU, the environment), and how an engine command's failure is quoted in messages
// (docs/containers.md). Pure except container_hold_path (reads /proc/self/exe).

#include <filesystem>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "environments/gpu_visibility.hpp"
#include "environments/hold_protocol.hpp"
#include "images/command_output.hpp"
#include "joulebench/experiment.hpp"

namespace joulebench::environments {

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
    /// The slot's GPU, when known: its vendor's flags (gpu_visibility.hpp); unset: NVIDIA GPU `gpu`.
    std::optional<GpuIdentity> gpu_device;
    /// Where an AMD GPU's render node is looked up (`$JOULEBENCH_PCI_ROOT`).
    std::filesystem::path pci_root = default_pci_root();
    std::filesystem::path hold;     ///< joulebench-hold on the host
    std::filesystem::path run_dir;  ///< the per-run host folder (holds the socket)
    /// The run's marks FIFO on the host (WorkloadInstance::marks_file), mounted at
    /// kMarksInContainer, which $JOULEBENCH_MARKS then names; none when empty.
    std::filesystem::path marks;
};

/// Where a container sees the run's marks FIFO (README "Markers").
inline constexpr const char kMarksInContainer[] = "/.joulebench-marks";

/// Where the helper and the run folder appear inside the container
/// (environments/hold_protocol.hpp).
using hold::kHoldInContainer;
using hold::kRunDirInContainer;
using hold::kSocketName;

/// The argv of `<engine> create` for `r` (pure; unit-tested):
///   BINARY create --name NAME --label joulebench.run_id=ID --label joulebench.environment=ENV
///     --label joulebench.owner=OWNER --entrypoint /.joulebench-hold
///     -v HOLD:/.joulebench-hold:ro -v RUN_DIR:/.joulebench
///     [the GPU's flags: container_gpu_flags, e.g. --gpus device=N (docker, NVIDIA)]
///     -e K=V ... RUN_ARGS... IMAGE /.joulebench/ctl ENTRYPOINT... COMMAND...
/// With a GPU, the visibility variables name device 0 (set_only_device_env): the container sees
/// only the slot's GPU, so the host index would name a device that does not exist inside.
/// Throws Error (kInvalidArgument) when a mount path contains ':' or ',' (the engines' volume
/// syntax cannot express it) or an environment variable name is empty or contains '='.
[[nodiscard]] std::vector<std::string> container_create_argv(const ContainerCreateRequest& r);

/// "docker" or "podman", or the value of JOULEBENCH_DOCKER / JOULEBENCH_PODMAN when set.
[[nodiscard]] std::string container_engine_binary(EnvironmentType engine);

/// joulebench-hold: $JOULEBENCH_HOLD when set, else next to the running executable
/// (/proc/self/exe). Not checked for existence.
[[nodiscard]] std::filesystem::path container_hold_path();

/// Why an engine command failed, for a message: "timed out", else the last line of its stderr,
/// else of its stdout, else "exit status N".
[[nodiscard]] std::string engine_message(const images::CommandOutput& out);

/// `text` (an engine's one-line answer, a small file) without the spaces, carriage returns and
/// line breaks around it, and the tabs before it. Unlike joulebench::trim, line ends go too.
[[nodiscard]] std::string trim_answer(std::string text);

}  // namespace joulebench::environments
