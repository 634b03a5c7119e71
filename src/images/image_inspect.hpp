#pragma once
// The audit of a container image: what is in it that can change time and energy. Size, layers
// (size and the command that made each), base image, environment variables (those known to
// change performance or energy highlighted), entrypoint and command, and the Python, PyTorch and
// CUDA versions found inside by a short-lived probe container.
//
// Used by `joulebench image inspect` and by the container environments, which store it with
// every run that uses the image. Everything comes from the engine's own CLI (`image inspect`,
// `history`, `run`), run as argv, never through a shell. Nothing is pulled: the image must be in
// the engine's local store. The probe is an audit, never a measured run: it runs before any
// measurement, without network and without GPUs.

#include <chrono>
#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "images/command_output.hpp"

namespace joulebench::images {

/// One entry of the image's history, as `<engine> history` lists it (newest first).
struct LayerInfo {
    std::string id;                ///< image id of the step, or "<missing>" (docker) / empty
    std::string created;           ///< as the engine reports it (RFC 3339)
    std::string created_by;        ///< the command that made the layer (may be empty: `import`)
    std::uint64_t size_bytes = 0;  ///< what `<engine> history --human=false` reports
    std::string comment;
};

/// An environment variable of the image's configuration (Config.Env).
struct EnvVar {
    std::string name;
    std::string value;
    /// Why it can change performance or energy (e.g. "CUDA caching allocator"), empty when it
    /// is not one of the known variables.
    std::string relevance;
};

/// Where the base image name came from.
enum class BaseSource {
    kBaseNameLabel,  ///< label org.opencontainers.image.base.name
    kRefNameLabel,   ///< label org.opencontainers.image.ref.name
    kBottomLayer,    ///< the oldest layer's command (or comment, for imported images)
    kUnknown,
};

struct BaseImage {
    std::string name;
    BaseSource source = BaseSource::kUnknown;
};

/// What the probe container found.
struct SoftwareProbe {
    enum class Status {
        kOk,        ///< the probe ran and printed its JSON line
        kNoPython,  ///< no python3 the engine could start in the image
        kFailed,    ///< the probe ran but failed or printed no JSON line (`message` says why)
        kSkipped,   ///< not asked for (InspectOptions::probe false)
    };
    Status status = Status::kSkipped;
    std::string message;  ///< human-readable: "no python3 in the image", the failure, ...
    std::optional<std::string> python;  ///< Python version, e.g. "3.11.2"
    std::optional<std::string> python_executable;
    /// PyTorch version; nullopt with torch_error "not installed" or the import's error.
    std::optional<std::string> torch;
    std::string torch_error;
    std::optional<std::string> torchvision;
    std::string torchvision_error;
    /// The CUDA version torch was built for (torch.version.cuda); nullopt: a CPU-only build.
    std::optional<std::string> torch_cuda;
    std::optional<std::string> cudnn;  ///< torch.backends.cudnn.version()
    /// A CUDA toolkit in the image (/usr/local/cuda/version.json or version.txt, or
    /// $CUDA_VERSION), and where that was read.
    std::optional<std::string> cuda_toolkit;
    std::string cuda_toolkit_source;
    std::vector<std::string> cudart;  ///< libcudart.so.* files found (system, CUDA, pip wheels)
    nlohmann::json raw;               ///< the probe's whole JSON line
};

struct ImageInfo {
    std::string engine;          ///< "docker" or "podman"
    std::string engine_version;  ///< server version (docker) / version (podman); may be empty
    std::string reference;       ///< the image as asked for
    std::string id;              ///< full image id (sha256:...)
    std::vector<std::string> repo_tags;
    std::vector<std::string> repo_digests;
    std::string created;
    std::string os;
    std::string architecture;
    std::uint64_t size_bytes = 0;   ///< `image inspect` .Size
    std::size_t rootfs_layers = 0;  ///< filesystem layers (RootFS.Layers)
    std::vector<LayerInfo> layers;  ///< the history, newest first
    BaseImage base;
    std::vector<EnvVar> env;  ///< in the image's order
    std::vector<std::string> entrypoint;
    std::vector<std::string> cmd;
    std::string working_dir;
    std::string user;
    std::map<std::string, std::string> labels;
    SoftwareProbe software;
};

struct InspectOptions {
    /// Global arguments given to the engine before its sub-command (e.g. `--host unix:///x.sock`
    /// for docker, `--root DIR --runroot DIR` for podman).
    std::vector<std::string> engine_args;
    /// Run the probe container (Python, PyTorch, CUDA versions).
    bool probe = true;
    /// Limit for each engine command; the probe, which imports torch, gets `probe_timeout`.
    std::chrono::milliseconds timeout{std::chrono::seconds(60)};
    std::chrono::milliseconds probe_timeout{std::chrono::seconds(180)};
    /// What the caller has just had from the engine itself (a container environment's
    /// prepare()), used instead of asking again: the successful output of `image inspect IMAGE`
    /// (with these engine_args), and the engine's version (the last line of `version --format
    /// {{.Server.Version}}` for docker, {{.Client.Version}} for podman).
    std::optional<CommandOutput> inspected;
    std::optional<std::string> engine_version;
};

/// The client program of `engine` ("docker" or "podman"): $JOULEBENCH_DOCKER / $JOULEBENCH_PODMAN
/// when set and not empty, else the engine's name (found on PATH). `image inspect` and the
/// container environments use the same one (docs/containers.md).
[[nodiscard]] std::string engine_binary(std::string_view engine);

/// Inspects `image` (a name, name:tag, digest or id in the engine's local store) with `engine`
/// ("docker" or "podman"; the client is $JOULEBENCH_DOCKER / $JOULEBENCH_PODMAN when set, as for
/// the container environments), running the probe. Throws Error: kInvalidArgument for an unknown
/// engine or an empty image name, kNotFound when the engine is not on PATH or the image is not
/// in its local store (never pulled), kIo when the engine fails (daemon unreachable, times out)
/// or prints what cannot be parsed. A probe that fails is recorded in `software`, not thrown.
[[nodiscard]] ImageInfo inspect_image(std::string_view engine, std::string_view image);
/// As above with options.
[[nodiscard]] ImageInfo inspect_image(std::string_view engine, std::string_view image,
                                      const InspectOptions& options);

/// The JSON document of an inspection (schema "joulebench.image/1", documented in
/// docs/images.md). Sizes in bytes.
[[nodiscard]] nlohmann::json to_json(const ImageInfo& info);

/// The engine used when none is given: "docker" when it is on PATH, else "podman" when it is,
/// else "docker" (whose absence inspect_image then reports).
[[nodiscard]] std::string default_engine();

/// Why a variable named `name` can change performance or energy, or empty. Exposed for tests.
[[nodiscard]] std::string env_relevance(std::string_view name);

/// Parses `<engine> history --no-trunc --human=false --format '{{json .}}'` output: docker's
/// one object per line or podman's array, keys matched case-insensitively. Throws Error kIo
/// naming `what` when it cannot. Exposed for tests.
[[nodiscard]] std::vector<LayerInfo> parse_history(const std::string& text, std::string_view what);

/// Parses the probe's standard output (its last JSON-object line) into `probe`. Returns false
/// when there is no such line. Exposed for tests.
bool parse_probe_output(const std::string& text, SoftwareProbe& probe);

/// The Python source the probe container runs (`python3 -c SCRIPT`); it prints one JSON line.
/// Exposed for tests, which run it with the host's interpreter.
[[nodiscard]] std::string_view probe_script();

/// Docker's human size: decimal units, three significant digits ("2MB", "1.23GB").
[[nodiscard]] std::string human_size(std::uint64_t bytes);

[[nodiscard]] std::string_view to_string(BaseSource source);
[[nodiscard]] std::string_view to_string(SoftwareProbe::Status status);

}  // namespace joulebench::images
