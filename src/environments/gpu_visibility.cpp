#include "environments/gpu_visibility.hpp"

#include <fmt/format.h>

#include <cstdlib>
#include <system_error>

#include "joulebench/error.hpp"
#include "sensors/device_identity.hpp"

namespace joulebench::environments {

namespace fs = std::filesystem;

namespace {

constexpr const char* kHidden = "-1";

EnvPairs env_for(const GpuIdentity& device, int local_index, bool as_only) {
    EnvPairs env;
    switch (device.vendor) {
        case GpuVendor::kNvidia:
            env.emplace_back("CUDA_VISIBLE_DEVICES", std::to_string(local_index));
            if (device.mixed && !as_only) env.emplace_back("HIP_VISIBLE_DEVICES", kHidden);
            break;
        case GpuVendor::kAmd:
            env.emplace_back("ROCR_VISIBLE_DEVICES", std::to_string(local_index));
            env.emplace_back("HIP_VISIBLE_DEVICES", "0");
            if (device.mixed && !as_only) env.emplace_back("CUDA_VISIBLE_DEVICES", kHidden);
            break;
        case GpuVendor::kIntel:
        case GpuVendor::kUnknown:
            if (device.mixed && !as_only) {
                env.emplace_back("CUDA_VISIBLE_DEVICES", kHidden);
                env.emplace_back("HIP_VISIBLE_DEVICES", kHidden);
            }
            break;
    }
    return env;
}

}  // namespace

EnvPairs gpu_visibility_env(std::optional<int> gpu, const std::optional<GpuIdentity>& device) {
    if (device) return env_for(*device, device->local_index(), false);
    if (gpu) return {{"CUDA_VISIBLE_DEVICES", std::to_string(*gpu)}};
    return {};
}

EnvPairs gpu_env_as_only_device(const GpuIdentity& device) { return env_for(device, 0, true); }

void set_only_device_env(EnvPairs& env, const std::optional<GpuIdentity>& device) {
    std::erase_if(env, [](const auto& kv) {
        return kv.first == "CUDA_VISIBLE_DEVICES" || kv.first == "HIP_VISIBLE_DEVICES" ||
               kv.first == "ROCR_VISIBLE_DEVICES";
    });
    const EnvPairs only = device ? gpu_env_as_only_device(*device)
                                 : EnvPairs{{"CUDA_VISIBLE_DEVICES", "0"}};
    env.insert(env.end(), only.begin(), only.end());
}

fs::path default_pci_root() {
    if (const char* v = std::getenv("JOULEBENCH_PCI_ROOT"); v != nullptr && *v != '\0') return v;
    return "/sys/bus/pci/devices";
}

std::string render_node_of(const std::string& pci_bus_id, const fs::path& pci_root) {
    const std::string identity = pci_identity(pci_bus_id);  // "pci:0000:03:00.0"
    const fs::path drm = pci_root / (identity.empty() ? pci_bus_id : identity.substr(4)) / "drm";
    std::error_code ec;
    std::string best;
    for (const auto& entry : fs::directory_iterator(drm, ec)) {
        const std::string name = entry.path().filename().string();
        if (name.rfind("renderD", 0) == 0 && (best.empty() || name < best)) best = name;
    }
    if (best.empty()) {
        throw Error(ErrorCategory::kNotFound,
                    fmt::format("run: GPU {}: no render node under {}{}", pci_bus_id, drm.string(),
                                ec ? ": " + ec.message() : std::string()),
                    "the amdgpu driver must be loaded for a container to use the GPU");
    }
    return "/dev/dri/" + best;
}

std::vector<std::string> container_gpu_flags(EnvironmentType engine, const GpuIdentity& device,
                                             const fs::path& pci_root) {
    const bool podman = engine == EnvironmentType::kPodman;
    const int local = device.local_index();
    switch (device.vendor) {
        case GpuVendor::kNvidia:
            if (podman) return {"--device", fmt::format("nvidia.com/gpu={}", local)};
            return {"--gpus", fmt::format("device={}", local)};
        case GpuVendor::kAmd:
            if (podman) return {"--device", fmt::format("amd.com/gpu={}", local)};
            return {"--device", "/dev/kfd", "--device", render_node_of(device.pci_bus_id, pci_root),
                    "--group-add", "video"};
        case GpuVendor::kIntel:
        case GpuVendor::kUnknown: break;
    }
    throw Error(ErrorCategory::kNotSupported,
                fmt::format("run: GPU {} ({}, {}): a container cannot be given a {} GPU",
                            device.index, device.name, device.pci_bus_id, to_string(device.vendor)),
                "containers get NVIDIA and AMD GPUs; run this slot bare");
}

}  // namespace joulebench::environments
