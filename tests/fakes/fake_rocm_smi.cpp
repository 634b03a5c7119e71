// A fake librocm_smi64.so.1 for tests, as fake_nvml.cpp is for NVML. It exports exactly the entry
// points of src/sensors/rocm/rocm_smi_api.def, with C linkage, and serves them from a JSON state
// file named by $JOULEBENCH_FAKE_ROCM_SMI_STATE (schema in docs/rocm.md, "Testing"):
//   - the file is read at every call, so a test can change a GPU while the code under test runs;
//     rsmi_dev_power_cap_set writes it back atomically (temporary file + rename);
//   - the energy accumulator advances with time: energy_count + power_uw * (now -
//     energy_anchor_ns) / resolution_uj, now on CLOCK_MONOTONIC, modulo 2^counter_bits (32 or
//     64, default 64); without energy_anchor_ns it does not advance;
//   - "errors": {"<function>": status} answers `status` (top level: every GPU; per GPU: that GPU);
//     "init_status" is what rsmi_init answers;
//   - every call but rsmi_init and rsmi_status_string answers RSMI_STATUS_INIT_ERROR before
//     rsmi_init or after the matching rsmi_shut_down, so a test sees use outside init.
// Missing symbols cannot be simulated by one .so; tests null entries of the loaded table instead.

#include <time.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>
#include <string>

#include "sensors/rocm/rocm_smi_types.hpp"

// Declaring every entry of the .def with C linkage and default visibility makes the compiler check
// each definition below against the one list (C linkage cannot overload), and -Wl,--no-undefined
// makes a missing definition a link error.
#define JOULEBENCH_ROCM_SMI_ENTRY(need, ret, name, params) \
    extern "C" __attribute__((visibility("default"))) ret name params;
#include "sensors/rocm/rocm_smi_api.def"
#undef JOULEBENCH_ROCM_SMI_ENTRY

namespace {

namespace rs = joulebench::rocm;
using nlohmann::json;

std::mutex g_mutex;
int g_init_count = 0;

std::int64_t monotonic_ns() {
    timespec ts{};
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return static_cast<std::int64_t>(ts.tv_sec) * 1000000000LL + ts.tv_nsec;
}

std::string state_path() {
    const char* path = std::getenv("JOULEBENCH_FAKE_ROCM_SMI_STATE");
    return path != nullptr ? std::string(path) : std::string();
}

// The state, or nullopt when the file is missing or malformed (every call then fails).
std::optional<json> read_state() {
    const std::string path = state_path();
    if (path.empty()) return std::nullopt;
    std::ifstream in(path);
    if (!in) return std::nullopt;
    try {
        return json::parse(in);
    } catch (...) {
        return std::nullopt;
    }
}

bool write_state(const json& doc) {
    const std::string path = state_path();
    const std::string tmp = path + ".tmp";
    {
        std::ofstream out(tmp, std::ios::trunc);
        if (!out) return false;
        out << doc.dump(2);
        if (!out.flush()) return false;
    }
    return std::rename(tmp.c_str(), path.c_str()) == 0;
}

// The status injected for `function` on `gpu` (per GPU first, then top level), or success.
rsmi_status_t injected(const json& doc, const json* gpu, const char* function) {
    if (gpu != nullptr && gpu->contains("errors") && gpu->at("errors").contains(function)) {
        return gpu->at("errors").at(function).get<rsmi_status_t>();
    }
    if (doc.contains("errors") && doc.at("errors").contains(function)) {
        return doc.at("errors").at(function).get<rsmi_status_t>();
    }
    return rs::kRsmiSuccess;
}

// Runs `body(doc, gpu)` for GPU `dv_ind` under the lock, after the init, state and injected-error
// checks common to every per-GPU call.
template <typename Body>
rsmi_status_t with_gpu(const char* function, std::uint32_t dv_ind, Body body) {
    const std::lock_guard lock(g_mutex);
    if (g_init_count == 0) return rs::kRsmiInitError;
    auto doc = read_state();
    if (!doc) return rs::kRsmiFileError;
    try {
        const json& gpus = doc->at("gpus");
        if (dv_ind >= gpus.size()) return rs::kRsmiInvalidArgs;
        json& gpu = (*doc)["gpus"][dv_ind];
        if (const rsmi_status_t rc = injected(*doc, &gpu, function); rc != rs::kRsmiSuccess) {
            return rc;
        }
        return body(*doc, gpu);
    } catch (...) {
        return rs::kRsmiInternalException;
    }
}

std::uint64_t u64(const json& gpu, const char* key, std::uint64_t fallback) {
    return gpu.contains(key) ? gpu.at(key).get<std::uint64_t>() : fallback;
}

}  // namespace

extern "C" {

rsmi_status_t rsmi_init(uint64_t init_flags) {
    const std::lock_guard lock(g_mutex);
    (void)init_flags;
    const auto doc = read_state();
    if (!doc) return rs::kRsmiInitError;
    if (doc->contains("init_status")) {
        const auto rc = doc->at("init_status").get<rsmi_status_t>();
        if (rc != rs::kRsmiSuccess) return rc;
    }
    ++g_init_count;
    return rs::kRsmiSuccess;
}

rsmi_status_t rsmi_shut_down(void) {
    const std::lock_guard lock(g_mutex);
    if (g_init_count == 0) return rs::kRsmiInitError;
    --g_init_count;
    return rs::kRsmiSuccess;
}

rsmi_status_t rsmi_status_string(rsmi_status_t status, const char** status_string) {
    if (status_string == nullptr) return rs::kRsmiInvalidArgs;
    // Texts in the style of the real library's (the symbolic name, then a sentence).
    switch (status) {
        case rs::kRsmiSuccess:
            *status_string = "RSMI_STATUS_SUCCESS: The function has been executed successfully.";
            break;
        case rs::kRsmiInvalidArgs:
            *status_string =
                "RSMI_STATUS_INVALID_ARGS: The provided arguments do not meet the "
                "preconditions required for input.";
            break;
        case rs::kRsmiNotSupported:
            *status_string =
                "RSMI_STATUS_NOT_SUPPORTED: This function is not supported in the "
                "current environment.";
            break;
        case rs::kRsmiPermission:
            *status_string =
                "RSMI_STATUS_PERMISSION: The user does not have permission to "
                "perform this operation.";
            break;
        case rs::kRsmiInitError:
            *status_string = "RSMI_STATUS_INIT_ERROR: An error occurred during initialization.";
            break;
        case rs::kRsmiFileError:
            *status_string = "RSMI_STATUS_FILE_ERROR: Problem accessing a file.";
            break;
        default:
            *status_string = "An unknown error occurred";
            break;
    }
    return rs::kRsmiSuccess;
}

rsmi_status_t rsmi_num_monitor_devices(uint32_t* num_devices) {
    const std::lock_guard lock(g_mutex);
    if (g_init_count == 0) return rs::kRsmiInitError;
    if (num_devices == nullptr) return rs::kRsmiInvalidArgs;
    const auto doc = read_state();
    if (!doc) return rs::kRsmiFileError;
    if (const rsmi_status_t rc = injected(*doc, nullptr, "rsmi_num_monitor_devices");
        rc != rs::kRsmiSuccess) {
        return rc;
    }
    *num_devices = doc->contains("gpus") ? static_cast<uint32_t>(doc->at("gpus").size()) : 0;
    return rs::kRsmiSuccess;
}

rsmi_status_t rsmi_dev_name_get(uint32_t dv_ind, char* name, size_t len) {
    return with_gpu("rsmi_dev_name_get", dv_ind, [&](json&, json& gpu) {
        if (name == nullptr || len == 0) return rs::kRsmiInvalidArgs;
        const std::string text = gpu.value("name", "AMD Radeon Graphics");
        std::snprintf(name, len, "%s", text.c_str());
        return text.size() < len ? rs::kRsmiSuccess : rs::kRsmiInsufficientSize;
    });
}

rsmi_status_t rsmi_dev_unique_id_get(uint32_t dv_ind, uint64_t* id) {
    return with_gpu("rsmi_dev_unique_id_get", dv_ind, [&](json&, json& gpu) {
        if (id == nullptr) return rs::kRsmiInvalidArgs;
        if (!gpu.contains("unique_id")) return rs::kRsmiNotSupported;
        *id = gpu.at("unique_id").get<std::uint64_t>();
        return rs::kRsmiSuccess;
    });
}

rsmi_status_t rsmi_dev_pci_id_get(uint32_t dv_ind, uint64_t* bdfid) {
    return with_gpu("rsmi_dev_pci_id_get", dv_ind, [&](json&, json& gpu) {
        if (bdfid == nullptr) return rs::kRsmiInvalidArgs;
        if (!gpu.contains("bdfid")) return rs::kRsmiNotSupported;
        *bdfid = gpu.at("bdfid").get<std::uint64_t>();
        return rs::kRsmiSuccess;
    });
}

rsmi_status_t rsmi_dev_energy_count_get(uint32_t dv_ind, uint64_t* power, float* counter_resolution,
                                        uint64_t* timestamp) {
    return with_gpu("rsmi_dev_energy_count_get", dv_ind, [&](json&, json& gpu) {
        if (power == nullptr || counter_resolution == nullptr || timestamp == nullptr) {
            return rs::kRsmiInvalidArgs;
        }
        if (!gpu.contains("energy_count")) return rs::kRsmiNotSupported;
        const double resolution_uj = gpu.value("resolution_uj", 15.3);
        const std::int64_t now = monotonic_ns();
        double counts = static_cast<double>(gpu.at("energy_count").get<std::uint64_t>());
        if (gpu.contains("energy_anchor_ns")) {
            const double elapsed_s =
                static_cast<double>(now - gpu.at("energy_anchor_ns").get<std::int64_t>()) * 1e-9;
            const double power_uw = static_cast<double>(u64(gpu, "power_uw", 0));
            if (elapsed_s > 0.0) counts += power_uw * elapsed_s / resolution_uj;
        }
        const auto bits = u64(gpu, "counter_bits", 64);
        auto value = static_cast<std::uint64_t>(counts);
        if (bits < 64) value &= (std::uint64_t{1} << bits) - 1U;
        *power = value;
        *counter_resolution = static_cast<float>(resolution_uj);
        *timestamp = static_cast<std::uint64_t>(now);
        return rs::kRsmiSuccess;
    });
}

rsmi_status_t rsmi_dev_power_ave_get(uint32_t dv_ind, uint32_t sensor_ind, uint64_t* power) {
    return with_gpu("rsmi_dev_power_ave_get", dv_ind, [&](json&, json& gpu) {
        if (power == nullptr || sensor_ind != 0) return rs::kRsmiInvalidArgs;
        if (!gpu.contains("power_uw")) return rs::kRsmiNotSupported;
        *power = gpu.at("power_uw").get<std::uint64_t>();
        return rs::kRsmiSuccess;
    });
}

rsmi_status_t rsmi_dev_power_cap_get(uint32_t dv_ind, uint32_t sensor_ind, uint64_t* cap) {
    return with_gpu("rsmi_dev_power_cap_get", dv_ind, [&](json&, json& gpu) {
        if (cap == nullptr || sensor_ind != 0) return rs::kRsmiInvalidArgs;
        if (!gpu.contains("cap_uw")) return rs::kRsmiNotSupported;
        *cap = gpu.at("cap_uw").get<std::uint64_t>();
        return rs::kRsmiSuccess;
    });
}

rsmi_status_t rsmi_dev_power_cap_range_get(uint32_t dv_ind, uint32_t sensor_ind, uint64_t* max,
                                           uint64_t* min) {
    return with_gpu("rsmi_dev_power_cap_range_get", dv_ind, [&](json&, json& gpu) {
        if (max == nullptr || min == nullptr || sensor_ind != 0) return rs::kRsmiInvalidArgs;
        if (!gpu.contains("cap_min_uw") || !gpu.contains("cap_max_uw")) {
            return rs::kRsmiNotSupported;
        }
        *max = gpu.at("cap_max_uw").get<std::uint64_t>();
        *min = gpu.at("cap_min_uw").get<std::uint64_t>();
        return rs::kRsmiSuccess;
    });
}

rsmi_status_t rsmi_dev_power_cap_default_get(uint32_t dv_ind, uint64_t* default_cap) {
    return with_gpu("rsmi_dev_power_cap_default_get", dv_ind, [&](json&, json& gpu) {
        if (default_cap == nullptr) return rs::kRsmiInvalidArgs;
        if (!gpu.contains("cap_default_uw")) return rs::kRsmiNotSupported;
        *default_cap = gpu.at("cap_default_uw").get<std::uint64_t>();
        return rs::kRsmiSuccess;
    });
}

rsmi_status_t rsmi_dev_power_cap_set(uint32_t dv_ind, uint32_t sensor_ind, uint64_t cap) {
    return with_gpu("rsmi_dev_power_cap_set", dv_ind, [&](json& doc, json& gpu) {
        if (sensor_ind != 0) return rs::kRsmiInvalidArgs;
        if (!gpu.contains("cap_uw")) return rs::kRsmiNotSupported;
        // The real library checks the range before writing (rocm_smi.h: "cap must be between
        // the minimum and maximum power cap values").
        if (cap < u64(gpu, "cap_min_uw", 0) || cap > u64(gpu, "cap_max_uw", UINT64_MAX)) {
            return rs::kRsmiInvalidArgs;
        }
        gpu["cap_uw"] = cap;
        return write_state(doc) ? rs::kRsmiSuccess : rs::kRsmiFileError;
    });
}

}  // extern "C"
