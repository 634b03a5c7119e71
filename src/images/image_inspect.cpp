#include "images/image_inspect.hpp"

#include <fmt/core.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cstdlib>

#include "common/random_hex.hpp"
#include "images/command_output.hpp"
#include "joulebench/error.hpp"
#include "measure/process.hpp"

namespace joulebench::images {

namespace {

// The probe: prints one JSON line with what it finds. Python 3.5+ syntax (no f-strings), so it
// runs in old images too. A module that is absent is told apart from one that fails to import.
constexpr std::string_view kProbeScript = R"PY(
import glob, json, os, platform, sys
r = {"probe": "joulebench-image-probe/1", "python": platform.python_version(),
     "python_executable": sys.executable}
def load(name):
    try:
        return __import__(name), None
    except ImportError as e:
        if getattr(e, "name", None) == name:
            return None, "not installed"
        return None, "%s: %s" % (type(e).__name__, e)
    except Exception as e:
        return None, "%s: %s" % (type(e).__name__, e)
torch, r["torch_error"] = load("torch")
r["torch"] = getattr(torch, "__version__", None) if torch else None
r["torch_cuda"] = None
r["cudnn"] = None
if torch:
    try:
        r["torch_cuda"] = torch.version.cuda
    except Exception:
        pass
    try:
        v = torch.backends.cudnn.version()
        r["cudnn"] = None if v is None else str(v)
    except Exception:
        pass
tv, r["torchvision_error"] = load("torchvision")
r["torchvision"] = getattr(tv, "__version__", None) if tv else None
r["cuda_toolkit"] = None
r["cuda_toolkit_source"] = None
try:
    with open("/usr/local/cuda/version.json") as f:
        r["cuda_toolkit"] = json.load(f)["cuda"]["version"]
        r["cuda_toolkit_source"] = "/usr/local/cuda/version.json"
except Exception:
    try:
        with open("/usr/local/cuda/version.txt") as f:
            r["cuda_toolkit"] = f.read().strip().split()[-1]
            r["cuda_toolkit_source"] = "/usr/local/cuda/version.txt"
    except Exception:
        if os.environ.get("CUDA_VERSION"):
            r["cuda_toolkit"] = os.environ["CUDA_VERSION"]
            r["cuda_toolkit_source"] = "CUDA_VERSION"
pats = ["/usr/local/cuda*/lib64/libcudart.so.*", "/usr/local/cuda*/targets/*/lib/libcudart.so.*",
        "/usr/lib/*/libcudart.so.*", "/usr/lib64/libcudart.so.*"]
for p in sys.path:
    if p and os.path.isdir(p):
        pats.append(os.path.join(p, "nvidia/cuda_runtime/lib/libcudart.so.*"))
        pats.append(os.path.join(p, "torch/lib/libcudart*.so*"))
found = []
for p in pats:
    for f in sorted(glob.glob(p)):
        if f not in found:
            found.append(f)
r["cudart"] = found
sys.stdout.write(json.dumps(r) + "\n")
)PY";

std::string lower(std::string_view s) {
    std::string out(s);
    std::transform(out.begin(), out.end(), out.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return out;
}

// A key of `object` matched case-insensitively (docker writes CreatedBy, podman created and
// CreatedBy, inspect writes Id or ID); null when absent.
// An exact match wins: podman's history has both `created` (full precision) and `Created`.
const nlohmann::json* find_key(const nlohmann::json& object, std::string_view key) {
    if (!object.is_object()) return nullptr;
    if (const auto exact = object.find(std::string(key)); exact != object.end()) return &*exact;
    const std::string wanted = lower(key);
    for (auto it = object.begin(); it != object.end(); ++it) {
        if (lower(it.key()) == wanted) return &it.value();
    }
    return nullptr;
}

std::string string_of(const nlohmann::json* value) {
    if (value == nullptr || value->is_null()) return {};
    if (value->is_string()) return value->get<std::string>();
    return value->dump();
}

std::vector<std::string> strings_of(const nlohmann::json* value) {
    std::vector<std::string> out;
    if (value == nullptr || value->is_null()) return out;
    if (value->is_string()) {
        out.push_back(value->get<std::string>());
        return out;
    }
    if (value->is_array()) {
        for (const auto& v : *value) out.push_back(v.is_string() ? v.get<std::string>() : v.dump());
    }
    return out;
}

// A size as a number or as a decimal string (docker prints "1996800" with --human=false).
std::optional<std::uint64_t> bytes_of(const nlohmann::json* value) {
    if (value == nullptr) return std::nullopt;
    if (value->is_number_unsigned()) return value->get<std::uint64_t>();
    if (value->is_number_integer()) {
        const auto v = value->get<std::int64_t>();
        if (v < 0) return std::nullopt;
        return static_cast<std::uint64_t>(v);
    }
    if (value->is_string()) {
        const auto s = value->get<std::string>();
        if (s.empty() ||
            !std::all_of(s.begin(), s.end(), [](unsigned char c) { return std::isdigit(c) != 0; }))
            return std::nullopt;
        try {
            return std::stoull(s);
        } catch (const std::exception&) {
            return std::nullopt;
        }
    }
    return std::nullopt;
}

std::optional<std::string> optional_string(const nlohmann::json& object, std::string_view key) {
    const auto* v = find_key(object, key);
    if (v == nullptr || v->is_null()) return std::nullopt;
    if (v->is_string()) return v->get<std::string>();
    return v->dump();
}

struct Engine {
    std::string name;    // "docker" or "podman"
    std::string binary;  // the client: the name, or $JOULEBENCH_DOCKER / $JOULEBENCH_PODMAN
    std::vector<std::string> global_args;

    [[nodiscard]] std::vector<std::string> argv(
        std::initializer_list<std::string_view> args) const {
        std::vector<std::string> out{binary};
        out.insert(out.end(), global_args.begin(), global_args.end());
        for (const auto a : args) out.emplace_back(a);
        return out;
    }
};

std::string quoted_command(const std::vector<std::string>& argv) {
    std::string out;
    for (const auto& a : argv) {
        if (!out.empty()) out += ' ';
        const bool plain = !a.empty() && std::all_of(a.begin(), a.end(), [](unsigned char c) {
            return std::isalnum(c) != 0 ||
                   std::string_view("-_./:=@+,").find(static_cast<char>(c)) !=
                       std::string_view::npos;
        });
        out += plain ? a : "'" + a + "'";
    }
    return out;
}

// Why an engine command failed, as an Error naming the command and quoting its stderr, with a
// hint for the usual causes.
Error engine_failure(const Engine& engine, const std::vector<std::string>& argv,
                     const CommandOutput& out, std::chrono::milliseconds timeout) {
    const std::string command = quoted_command(argv);
    if (out.timed_out) {
        return {
            ErrorCategory::kIo,
            fmt::format("image: run `{}`: no answer within {} s", command, timeout.count() / 1000),
            fmt::format("is the {} engine responsive? try `{} info`", engine.name, engine.name)};
    }
    std::string cause = last_line(out.err);
    if (cause.empty()) cause = fmt::format("exit status {}", out.exit_code);
    std::string hint;
    const std::string err = lower(out.err);
    if (err.find("cannot connect to the docker daemon") != std::string::npos ||
        err.find("is the docker daemon running") != std::string::npos) {
        hint = "start dockerd (systemctl start docker), or point DOCKER_HOST at the daemon";
    } else if (err.find("permission denied") != std::string::npos) {
        hint = fmt::format("run as root or as a member of the {} group", engine.name);
    }
    return {ErrorCategory::kIo, fmt::format("image: run `{}`: {}", command, cause), hint};
}

bool says_no_such_image(const std::string& err) {
    const std::string e = lower(err);
    for (const std::string_view needle : {"no such image", "no such object", "image not known",
                                          "failed to find image", "unable to find", "not found"}) {
        if (e.find(needle) != std::string::npos) return true;
    }
    return false;
}

std::string engine_version(const Engine& engine, const InspectOptions& options) {
    const auto argv = engine.name == "docker"
                          ? engine.argv({"version", "--format", "{{.Server.Version}}"})
                          : engine.argv({"version", "--format", "{{.Client.Version}}"});
    try {
        CommandOptions copts;
        copts.timeout = options.timeout;
        const auto out = run_command(argv, copts);
        if (out.exit_code == 0) return last_line(out.out);
    } catch (const Error&) {
        // The version is informative only; inspect itself reports an engine that fails.
    }
    return {};
}

BaseImage find_base(const ImageInfo& info) {
    if (const auto it = info.labels.find("org.opencontainers.image.base.name");
        it != info.labels.end() && !it->second.empty()) {
        return {it->second, BaseSource::kBaseNameLabel};
    }
    if (const auto it = info.labels.find("org.opencontainers.image.ref.name");
        it != info.labels.end() && !it->second.empty()) {
        std::string name = it->second;
        if (const auto v = info.labels.find("org.opencontainers.image.version");
            v != info.labels.end() && !v->second.empty() && name.find(':') == std::string::npos) {
            name += ":" + v->second;
        }
        return {name, BaseSource::kRefNameLabel};
    }
    if (!info.layers.empty()) {
        const LayerInfo& bottom = info.layers.back();
        const std::string what = !bottom.created_by.empty() ? bottom.created_by : bottom.comment;
        if (!what.empty()) return {what, BaseSource::kBottomLayer};
    }
    return {"", BaseSource::kUnknown};
}

std::string probe_container_name() {
    return fmt::format("joulebench-probe-{}-{}", ::getpid(), random_hex(4));
}

void run_probe(const Engine& engine, const InspectOptions& options, ImageInfo& info) {
    SoftwareProbe& probe = info.software;
    const std::string name = probe_container_name();
    // By id, so that the probe runs exactly the image inspected (a tag could move meanwhile).
    // No network, no GPUs, nothing pulled; removed when it ends.
    const auto argv =
        engine.argv({"run", "--rm", "--name", name, "--network", "none", "--pull", "never",
                     "--entrypoint", "python3", info.id, "-c", kProbeScript});
    CommandOptions copts;
    copts.timeout = options.probe_timeout;
    const CommandOutput out = run_command(argv, copts);
    if (out.timed_out) {
        // The client was killed; the container may still run: remove it.
        CommandOptions rm_options;
        rm_options.timeout = options.timeout;
        try {
            (void)run_command(engine.argv({"rm", "--force", name}), rm_options);
        } catch (const Error&) {
            // Best effort; the message below tells what happened.
        }
        probe.status = SoftwareProbe::Status::kFailed;
        probe.message = fmt::format("the probe container did not finish within {} s",
                                    options.probe_timeout.count() / 1000);
        return;
    }
    const std::string err = lower(out.err);
    // Engines answer 127 (126: not executable) when the entrypoint cannot be started, as shells
    // do; their messages say which file.
    if ((out.exit_code == 127 || out.exit_code == 126) &&
        (err.find("python3") != std::string::npos || err.find("not found") != std::string::npos)) {
        probe.status = SoftwareProbe::Status::kNoPython;
        probe.message = out.exit_code == 127 ? "no python3 in the image"
                                             : "python3 in the image cannot be executed";
        return;
    }
    if (parse_probe_output(out.out, probe)) {
        probe.status = SoftwareProbe::Status::kOk;
        if (out.exit_code != 0) {
            probe.message =
                fmt::format("the probe printed its line but exited with status {}", out.exit_code);
        }
        return;
    }
    probe.status = SoftwareProbe::Status::kFailed;
    std::string cause = last_line(out.err);
    if (cause.empty()) cause = last_line(out.out);
    probe.message = fmt::format(
        "the probe (python3 in the image) exited with status {} and "
        "printed no JSON line{}{}",
        out.exit_code, cause.empty() ? "" : ": ", cause);
}

}  // namespace

std::string_view probe_script() {
    return kProbeScript;
}

std::string_view to_string(BaseSource source) {
    switch (source) {
        case BaseSource::kBaseNameLabel:
            return "label org.opencontainers.image.base.name";
        case BaseSource::kRefNameLabel:
            return "label org.opencontainers.image.ref.name";
        case BaseSource::kBottomLayer:
            return "bottom layer";
        case BaseSource::kUnknown:
            return "unknown";
    }
    return "unknown";
}

std::string_view to_string(SoftwareProbe::Status status) {
    switch (status) {
        case SoftwareProbe::Status::kOk:
            return "ok";
        case SoftwareProbe::Status::kNoPython:
            return "no-python";
        case SoftwareProbe::Status::kFailed:
            return "failed";
        case SoftwareProbe::Status::kSkipped:
            return "skipped";
    }
    return "unknown";
}

std::string env_relevance(std::string_view name) {
    struct Rule {
        std::string_view pattern;  // exact name, or a prefix when it ends with '*'
        std::string_view why;
    };
    // Exact names first, then prefixes, so the more specific reason wins.
    static constexpr std::array<Rule, 28> kRules{{
        {"PYTORCH_CUDA_ALLOC_CONF", "PyTorch CUDA caching allocator settings"},
        {"OMP_NUM_THREADS", "OpenMP threads (PyTorch CPU intra-op threads)"},
        {"MKL_NUM_THREADS", "MKL threads"},
        {"OPENBLAS_NUM_THREADS", "OpenBLAS threads"},
        {"CUDA_VISIBLE_DEVICES", "which GPUs the workload sees"},
        {"CUDA_LAUNCH_BLOCKING", "synchronous CUDA kernel launches"},
        {"CUDA_MODULE_LOADING", "CUDA lazy module loading"},
        {"CUDA_VERSION", "CUDA toolkit version of the image"},
        {"NVIDIA_VISIBLE_DEVICES", "which GPUs the NVIDIA container runtime mounts"},
        {"NVIDIA_DRIVER_CAPABILITIES", "driver libraries the NVIDIA container runtime mounts"},
        {"NVIDIA_TF32_OVERRIDE", "TF32 tensor-core math on or off"},
        {"NVIDIA_REQUIRE_CUDA", "driver version the image requires"},
        {"LD_PRELOAD", "preloaded libraries (e.g. another malloc)"},
        {"LD_LIBRARY_PATH", "which shared libraries (CUDA, BLAS) are loaded"},
        {"PYTORCH_*", "PyTorch runtime setting"},
        {"TORCH_*", "PyTorch runtime setting"},
        {"OMP_*", "OpenMP runtime setting"},
        {"GOMP_*", "GNU OpenMP runtime setting"},
        {"KMP_*", "Intel OpenMP runtime setting (affinity, spin time)"},
        {"MKL_*", "MKL setting"},
        {"OPENBLAS_*", "OpenBLAS setting"},
        {"CUDA_*", "CUDA setting"},
        {"CUDNN_*", "cuDNN setting"},
        {"NCCL_*", "NCCL setting"},
        {"NVIDIA_*", "NVIDIA container runtime setting"},
        {"NV_*", "NVIDIA image component version"},
        {"TF_*", "TensorFlow setting"},
        {"MALLOC_*", "glibc allocator setting"},
    }};
    for (const auto& rule : kRules) {
        if (rule.pattern.back() == '*') {
            if (name.substr(0, rule.pattern.size() - 1) ==
                rule.pattern.substr(0, rule.pattern.size() - 1))
                return std::string(rule.why);
        } else if (name == rule.pattern) {
            return std::string(rule.why);
        }
    }
    return {};
}

std::vector<LayerInfo> parse_history(const std::string& text, std::string_view what) {
    std::vector<nlohmann::json> entries;
    const auto fail = [&what](const std::string& cause) {
        return Error(ErrorCategory::kIo,
                     fmt::format("image: parse the output of {}: {}", what, cause));
    };
    // Podman prints one JSON array; docker one object per line.
    nlohmann::json whole = nlohmann::json::parse(text, nullptr, false);
    if (!whole.is_discarded() && whole.is_array()) {
        for (auto& e : whole) entries.push_back(std::move(e));
    } else {
        std::size_t line_no = 0;
        std::size_t pos = 0;
        while (pos < text.size()) {
            const std::size_t end = std::min(text.find('\n', pos), text.size());
            std::string line = text.substr(pos, end - pos);
            pos = end + 1;
            ++line_no;
            if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
            auto entry = nlohmann::json::parse(line, nullptr, false);
            if (entry.is_discarded() || !entry.is_object()) {
                throw fail(
                    fmt::format("line {} is not a JSON object: {}", line_no, line.substr(0, 80)));
            }
            entries.push_back(std::move(entry));
        }
    }
    std::vector<LayerInfo> layers;
    for (std::size_t i = 0; i < entries.size(); ++i) {
        const auto& e = entries[i];
        if (!e.is_object()) throw fail(fmt::format("entry {} is not a JSON object", i + 1));
        LayerInfo layer;
        layer.id = string_of(find_key(e, "id"));
        layer.created = string_of(find_key(e, "CreatedAt"));
        if (layer.created.empty()) layer.created = string_of(find_key(e, "created"));
        layer.created_by = string_of(find_key(e, "CreatedBy"));
        layer.comment = string_of(find_key(e, "comment"));
        const auto* size = find_key(e, "size");
        const auto bytes = bytes_of(size);
        if (!bytes) {
            throw fail(fmt::format("entry {} has no size in bytes (got {})", i + 1,
                                   size == nullptr ? "nothing" : size->dump()));
        }
        layer.size_bytes = *bytes;
        layers.push_back(std::move(layer));
    }
    return layers;
}

bool parse_probe_output(const std::string& text, SoftwareProbe& probe) {
    // The last line that is a JSON object: anything the image's python3 prints first is ignored.
    nlohmann::json doc;
    bool found = false;
    std::size_t end = text.size();
    while (end > 0 && !found) {
        const std::size_t start = end >= 2 ? text.rfind('\n', end - 2) : std::string::npos;
        const std::size_t from = start == std::string::npos ? 0 : start + 1;
        const std::string line = text.substr(from, end - from);
        auto parsed = nlohmann::json::parse(line, nullptr, false);
        if (!parsed.is_discarded() && parsed.is_object()) {
            doc = std::move(parsed);
            found = true;
        }
        if (from == 0) break;
        end = from;
    }
    if (!found) return false;
    probe.raw = doc;
    probe.python = optional_string(doc, "python");
    probe.python_executable = optional_string(doc, "python_executable");
    probe.torch = optional_string(doc, "torch");
    probe.torch_error = optional_string(doc, "torch_error").value_or("");
    if (!probe.torch && probe.torch_error.empty()) probe.torch_error = "not installed";
    probe.torchvision = optional_string(doc, "torchvision");
    probe.torchvision_error = optional_string(doc, "torchvision_error").value_or("");
    if (!probe.torchvision && probe.torchvision_error.empty())
        probe.torchvision_error = "not installed";
    probe.torch_cuda = optional_string(doc, "torch_cuda");
    probe.cudnn = optional_string(doc, "cudnn");
    probe.cuda_toolkit = optional_string(doc, "cuda_toolkit");
    probe.cuda_toolkit_source = optional_string(doc, "cuda_toolkit_source").value_or("");
    probe.cudart = strings_of(find_key(doc, "cudart"));
    return true;
}

std::string human_size(std::uint64_t bytes) {
    // As docker's units.HumanSizeWithPrecision(size, 3): powers of 1000, "%.3g" and the unit.
    static constexpr std::array<std::string_view, 9> kUnits{"B",  "kB", "MB", "GB", "TB",
                                                            "PB", "EB", "ZB", "YB"};
    auto size = static_cast<double>(bytes);
    std::size_t unit = 0;
    while (size >= 1000.0 && unit + 1 < kUnits.size()) {
        size /= 1000.0;
        ++unit;
    }
    return fmt::format("{:.3g}{}", size, kUnits[unit]);
}

std::string default_engine() {
    for (const char* engine : {"docker", "podman"}) {
        try {
            (void)process::resolve_command(engine);
            return engine;
        } catch (const Error&) {
            // Not installed: try the next.
        }
    }
    return "docker";
}

ImageInfo inspect_image(std::string_view engine, std::string_view image) {
    return inspect_image(engine, image, InspectOptions{});
}

std::string engine_binary(std::string_view engine) {
    if (const char* v = std::getenv(engine == "podman" ? "JOULEBENCH_PODMAN" : "JOULEBENCH_DOCKER");
        v != nullptr && *v != '\0') {
        return v;
    }
    return std::string(engine);
}

ImageInfo inspect_image(std::string_view engine_name, std::string_view image,
                        const InspectOptions& options) {
    if (engine_name != "docker" && engine_name != "podman") {
        throw Error(ErrorCategory::kInvalidArgument,
                    fmt::format("image: inspect {}: unknown engine '{}'", image, engine_name),
                    "use docker or podman");
    }
    if (image.empty() || image.front() == '-') {
        throw Error(ErrorCategory::kInvalidArgument,
                    fmt::format("image: inspect '{}': not an image name", image),
                    "give a name[:tag], a digest or an id");
    }
    const Engine engine{std::string(engine_name), engine_binary(engine_name), options.engine_args};
    ImageInfo info;
    info.engine = engine.name;
    info.reference = std::string(image);

    CommandOptions copts;
    copts.timeout = options.timeout;
    // `image inspect` never pulls: an image that is not local is an error, as it must be for an
    // audit of what runs.
    const auto inspect_argv = engine.argv({"image", "inspect", image});
    CommandOutput inspected;
    try {
        inspected = options.inspected ? *options.inspected : run_command(inspect_argv, copts);
    } catch (const Error& e) {
        if (e.category() != ErrorCategory::kNotFound) throw;
        Error error(
            ErrorCategory::kNotFound, e.what(),
            fmt::format("install {} (Debian: apt-get install {}), or set {} to its client",
                        engine.name, engine.name == "docker" ? "docker.io" : "podman",
                        engine.name == "docker" ? "JOULEBENCH_DOCKER" : "JOULEBENCH_PODMAN"));
        error.set_exit_code(e.exit_code());
        throw error;
    }
    if (inspected.exit_code != 0 || inspected.timed_out) {
        if (!inspected.timed_out && says_no_such_image(inspected.err)) {
            throw Error(ErrorCategory::kNotFound,
                        fmt::format("image: inspect {} with {}: no such image in {}'s local store",
                                    image, engine.name, engine.name),
                        fmt::format("pull or build it first (`{} pull {}`); joulebench never "
                                    "pulls an image it audits",
                                    engine.name, image));
        }
        throw engine_failure(engine, inspect_argv, inspected, options.timeout);
    }
    const auto doc = nlohmann::json::parse(inspected.out, nullptr, false);
    const nlohmann::json* object = nullptr;
    if (!doc.is_discarded() && doc.is_array() && !doc.empty()) object = &doc.front();
    if (!doc.is_discarded() && doc.is_object()) object = &doc;
    if (object == nullptr || !object->is_object()) {
        throw Error(ErrorCategory::kIo,
                    fmt::format("image: parse the output of `{}`: not a JSON image description",
                                quoted_command(inspect_argv)));
    }
    info.id = string_of(find_key(*object, "Id"));
    if (info.id.empty()) {
        throw Error(ErrorCategory::kIo, fmt::format("image: parse the output of `{}`: no Id",
                                                    quoted_command(inspect_argv)));
    }
    if (info.id.find(':') == std::string::npos) info.id = "sha256:" + info.id;
    info.repo_tags = strings_of(find_key(*object, "RepoTags"));
    info.repo_digests = strings_of(find_key(*object, "RepoDigests"));
    info.created = string_of(find_key(*object, "Created"));
    info.os = string_of(find_key(*object, "Os"));
    info.architecture = string_of(find_key(*object, "Architecture"));
    info.size_bytes = bytes_of(find_key(*object, "Size")).value_or(0);
    if (const auto* rootfs = find_key(*object, "RootFS")) {
        info.rootfs_layers = strings_of(find_key(*rootfs, "Layers")).size();
    }
    if (const auto* config = find_key(*object, "Config");
        config != nullptr && config->is_object()) {
        for (const auto& entry : strings_of(find_key(*config, "Env"))) {
            const auto eq = entry.find('=');
            EnvVar var;
            var.name = entry.substr(0, eq);
            var.value = eq == std::string::npos ? "" : entry.substr(eq + 1);
            var.relevance = env_relevance(var.name);
            info.env.push_back(std::move(var));
        }
        info.entrypoint = strings_of(find_key(*config, "Entrypoint"));
        info.cmd = strings_of(find_key(*config, "Cmd"));
        info.working_dir = string_of(find_key(*config, "WorkingDir"));
        info.user = string_of(find_key(*config, "User"));
        if (const auto* labels = find_key(*config, "Labels");
            labels != nullptr && labels->is_object()) {
            for (auto it = labels->begin(); it != labels->end(); ++it)
                info.labels[it.key()] = string_of(&it.value());
        }
    }

    const auto history_argv =
        engine.argv({"history", "--no-trunc", "--human=false", "--format", "{{json .}}", info.id});
    const CommandOutput history = run_command(history_argv, copts);
    if (history.exit_code != 0 || history.timed_out)
        throw engine_failure(engine, history_argv, history, options.timeout);
    info.layers = parse_history(history.out, "`" + quoted_command(history_argv) + "`");
    info.base = find_base(info);
    info.engine_version =
        options.engine_version ? *options.engine_version : engine_version(engine, options);

    if (options.probe) run_probe(engine, options, info);
    return info;
}

nlohmann::json to_json(const ImageInfo& info) {
    nlohmann::json doc;
    doc["schema"] = "joulebench.image/1";
    doc["engine"] = info.engine;
    doc["engine_version"] = info.engine_version;
    doc["reference"] = info.reference;
    doc["id"] = info.id;
    doc["repo_tags"] = info.repo_tags;
    doc["repo_digests"] = info.repo_digests;
    doc["created"] = info.created;
    doc["os"] = info.os;
    doc["architecture"] = info.architecture;
    doc["size_bytes"] = info.size_bytes;
    doc["rootfs_layers"] = info.rootfs_layers;
    nlohmann::json layers = nlohmann::json::array();
    for (const auto& l : info.layers) {
        layers.push_back({{"id", l.id},
                          {"created", l.created},
                          {"created_by", l.created_by},
                          {"size_bytes", l.size_bytes},
                          {"comment", l.comment}});
    }
    doc["layers"] = std::move(layers);
    doc["base"] = {{"name", info.base.name}, {"source", std::string(to_string(info.base.source))}};
    nlohmann::json env = nlohmann::json::array();
    for (const auto& v : info.env) {
        env.push_back({{"name", v.name},
                       {"value", v.value},
                       {"relevant", !v.relevance.empty()},
                       {"relevance", v.relevance}});
    }
    doc["env"] = std::move(env);
    doc["entrypoint"] = info.entrypoint;
    doc["cmd"] = info.cmd;
    doc["working_dir"] = info.working_dir;
    doc["user"] = info.user;
    doc["labels"] = info.labels;
    const auto opt = [](const std::optional<std::string>& v) {
        return v ? nlohmann::json(*v) : nlohmann::json(nullptr);
    };
    const SoftwareProbe& s = info.software;
    doc["software"] = {{"status", std::string(to_string(s.status))},
                       {"message", s.message},
                       {"python", opt(s.python)},
                       {"python_executable", opt(s.python_executable)},
                       {"torch", opt(s.torch)},
                       {"torch_error", s.torch_error},
                       {"torchvision", opt(s.torchvision)},
                       {"torchvision_error", s.torchvision_error},
                       {"torch_cuda", opt(s.torch_cuda)},
                       {"cudnn", opt(s.cudnn)},
                       {"cuda_toolkit", opt(s.cuda_toolkit)},
                       {"cuda_toolkit_source", s.cuda_toolkit_source},
                       {"cudart", s.cudart}};
    return doc;
}

}  // namespace joulebench::images
