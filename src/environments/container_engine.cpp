#include "environments/container_engine.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cstdlib>

#include "images/image_inspect.hpp"
#include "joulebench/error.hpp"

namespace joulebench::environments {

namespace fs = std::filesystem;

std::vector<std::string> container_create_argv(const ContainerCreateRequest& r) {
    for (const fs::path& p : {r.hold, r.run_dir, r.marks}) {
        if (p.string().find_first_of(":,") != std::string::npos) {
            throw Error(ErrorCategory::kInvalidArgument,
                        fmt::format("run: mount {} into a container: the path contains ':' or ','",
                                    p.string()),
                        "move joulebench (and joulebench-hold) or TMPDIR to a path without them");
        }
    }
    std::vector<std::string> argv{r.binary,       "create",
                                  "--name",       r.name,
                                  "--label",      "joulebench.run_id=" + r.run_id,
                                  "--label",      "joulebench.environment=" + r.environment,
                                  "--label",      "joulebench.owner=" + r.owner,
                                  "--entrypoint", kHoldInContainer,
                                  "-v",           r.hold.string() + ":" + kHoldInContainer + ":ro",
                                  "-v",           r.run_dir.string() + ":" + kRunDirInContainer};
    if (!r.marks.empty()) argv.insert(argv.end(), {"-v", r.marks.string() + ":" + kMarksInContainer});
    if (r.gpu) {
        GpuIdentity nvidia;  // a GPU known by index only is an NVIDIA GPU (as before vendors)
        nvidia.index = *r.gpu;
        const auto flags = container_gpu_flags(r.engine, r.gpu_device ? *r.gpu_device : nvidia, r.pci_root);
        argv.insert(argv.end(), flags.begin(), flags.end());
    }
    // Later entries win (the runner appends its own after the workload's); first position kept.
    std::vector<std::pair<std::string, std::string>> env;
    for (const auto& [k, v] : r.env) {
        if (k.empty() || k.find('=') != std::string::npos) {
            throw Error(
                ErrorCategory::kInvalidArgument,
                fmt::format("run: container environment variable '{}': not a valid name", k));
        }
        // The name captured by reference under another name: clang 14 cannot capture a structured binding.
        auto it = std::find_if(env.begin(), env.end(),
                               [&name = k](const auto& e) { return e.first == name; });
        if (it != env.end()) {
            it->second = v;
        } else {
            env.emplace_back(k, v);
        }
    }
    if (!r.marks.empty()) {
        auto it = std::find_if(env.begin(), env.end(),
                               [](const auto& e) { return e.first == "JOULEBENCH_MARKS"; });
        if (it != env.end()) it->second = kMarksInContainer;
    }
    // The container sees only the slot's GPU, as its device 0: the host index the runner puts
    // in the visibility variables would name a device that does not exist inside.
    if (r.gpu) set_only_device_env(env, r.gpu_device);
    for (const auto& [k, v] : env) argv.insert(argv.end(), {"-e", k + "=" + v});
    argv.insert(argv.end(), r.run_args.begin(), r.run_args.end());
    argv.push_back(r.image);
    argv.push_back(std::string(kRunDirInContainer) + "/" + kSocketName);
    argv.insert(argv.end(), r.entrypoint.begin(), r.entrypoint.end());
    argv.insert(argv.end(), r.command.begin(), r.command.end());
    return argv;
}

std::string container_engine_binary(EnvironmentType engine) {
    return images::engine_binary(engine == EnvironmentType::kPodman ? "podman" : "docker");
}

fs::path container_hold_path() {
    if (const char* v = std::getenv("JOULEBENCH_HOLD"); v != nullptr && *v != '\0') return v;
    std::error_code ec;
    const fs::path self = fs::read_symlink("/proc/self/exe", ec);
    return (ec ? fs::path(".") : self.parent_path()) / "joulebench-hold";
}

std::string engine_message(const images::CommandOutput& out) {
    if (out.timed_out) return "timed out";
    std::string text = images::last_line(out.err);
    if (text.empty()) text = images::last_line(out.out);
    if (text.empty()) text = fmt::format("exit status {}", out.exit_code);
    return text;
}

std::string trim_answer(std::string s) {
    while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' ')) s.pop_back();
    const auto first = s.find_first_not_of(" \t\r\n");
    return first == std::string::npos ? std::string{} : s.substr(first);
}

}  // namespace joulebench::environments
