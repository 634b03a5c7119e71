// A fake libnvidia-ml.so.1 for tests [DCGM nvml-injection]. It exports exactly the entry points of
// src/sensors/nvml/nvml_api.def, with C linkage, and serves them from a JSON state file named by
// $JOULEBENCH_FAKE_NVML_STATE (schema in docs/nvml.md; tests write it with
// tests/fakes/fake_nvml_builder.hpp):
//   - the file is re-read whenever it changes (inode, size or mtime), so a test can change a GPU
//     while the code under test runs; setters write back atomically (temporary file + rename);
//   - the energy counter advances with real time: energy_mj + power * (now - energy_anchor_ns),
//     now on CLOCK_MONOTONIC (system-wide, so another process sees the same counter); power is
//     power_mw, or min(demand_mw, enforced limit) while a load's "demand_mw" is set (the power
//     model of fake_nvml_power.hpp); a setter that changes the limit under a load first folds the
//     energy accrued at the old power into energy_mj;
//   - setters hold an flock on STATE.lock from reading the file to writing it back, as the builder
//     and the simulated workload do, so no process loses another's update;
//   - "supported": {"<function>": false} answers NVML_ERROR_NOT_SUPPORTED, "errors":
//     {"<function>": code} answers `code` (top level: every GPU; per GPU: that GPU);
//   - every setter call is appended to "calls" with its time, argument and result.
// Missing symbols cannot be simulated by one .so; tests null entries of the loaded table instead.

#include <fcntl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <array>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <mutex>
#include <optional>
#include <sstream>
#include <string>

#include <nlohmann/json.hpp>

#include "fakes/fake_nvml_power.hpp"
#include "sensors/nvml/nvml_types.hpp"

// The handle type is ours to define: a slot per GPU.
struct nvmlDevice_st {
    unsigned index;
};

// Declaring every entry of the .def with C linkage and default visibility makes the compiler check
// each definition below against the one list (C linkage cannot overload), and -Wl,--no-undefined
// plus the table at the end make a missing definition a link error.
#define JOULEBENCH_NVML_ENTRY(need, ret, name, params) \
    extern "C" __attribute__((visibility("default"))) ret name params;
#include "sensors/nvml/nvml_api.def"
#undef JOULEBENCH_NVML_ENTRY

namespace {

namespace nv = joulebench::nvml;
using nlohmann::json;

constexpr std::size_t kMaxGpus = 64;

struct FakeState {
    std::mutex mutex;
    int init_count = 0;
    std::string path;
    json doc;
    bool loaded = false;
    // Identity of the version of the file in `doc`.
    dev_t dev = 0;
    ino_t ino = 0;
    off_t size = -1;
    std::int64_t mtime_ns = -1;
    std::int64_t loaded_at_ns = 0;
    std::array<nvmlDevice_st, kMaxGpus> handles{};
};

FakeState& state() {
    static FakeState instance;  // the library's own global: one fake driver per process
    return instance;
}

using joulebench::fake_nvml::monotonic_ns;

void complain(const std::string& message) {
    std::fprintf(stderr, "fake nvml: %s\n", message.c_str());
}

// Re-reads the state file when it changed. False (with a message on stderr) when it cannot.
bool refresh(FakeState& s) {
    struct stat st {};
    if (stat(s.path.c_str(), &st) != 0) {
        complain("state file " + s.path + ": " + std::strerror(errno));
        return false;
    }
    const std::int64_t mtime_ns =
        static_cast<std::int64_t>(st.st_mtim.tv_sec) * 1000000000LL + st.st_mtim.tv_nsec;
    if (s.loaded && st.st_dev == s.dev && st.st_ino == s.ino && st.st_size == s.size &&
        mtime_ns == s.mtime_ns) {
        return true;
    }
    std::ifstream in(s.path);
    if (!in) {
        complain("state file " + s.path + ": cannot open");
        return false;
    }
    try {
        json doc = json::parse(in);
        if (!doc.is_object()) throw std::runtime_error("top level is not an object");
        if (doc.contains("gpus") && !doc["gpus"].is_array()) {
            throw std::runtime_error("\"gpus\" is not an array");
        }
        if (doc.value("gpus", json::array()).size() > kMaxGpus) {
            throw std::runtime_error("more than 64 GPUs");
        }
        s.doc = std::move(doc);
    } catch (const std::exception& e) {
        complain("state file " + s.path + ": " + e.what());
        return false;
    }
    s.loaded = true;
    s.dev = st.st_dev;
    s.ino = st.st_ino;
    s.size = st.st_size;
    s.mtime_ns = mtime_ns;
    s.loaded_at_ns = monotonic_ns();
    return true;
}

bool write_back(FakeState& s) {
    const std::string tmp = s.path + ".tmp." + std::to_string(getpid());
    {
        std::ofstream out(tmp, std::ios::trunc);
        out << s.doc.dump(2) << '\n';
        if (!out.flush()) {
            complain("write " + tmp + " failed");
            return false;
        }
    }
    // A strictly later mtime than the version we replace (see fake_nvml_builder.cpp for why).
    timespec now{};
    clock_gettime(CLOCK_REALTIME, &now);
    std::int64_t mtime = static_cast<std::int64_t>(now.tv_sec) * 1000000000LL + now.tv_nsec;
    if (mtime <= s.mtime_ns) mtime = s.mtime_ns + 1000;
    const timespec times[2] = {{0, UTIME_OMIT},
                               {static_cast<time_t>(mtime / 1000000000LL), mtime % 1000000000LL}};
    (void)utimensat(AT_FDCWD, tmp.c_str(), times, 0);
    if (std::rename(tmp.c_str(), s.path.c_str()) != 0) {
        complain("rename " + tmp + " to " + s.path + ": " + std::strerror(errno));
        return false;
    }
    s.loaded = false;  // re-read (and re-stat) on the next call
    return refresh(s);
}

json& gpus(FakeState& s) {
    if (!s.doc.contains("gpus")) s.doc["gpus"] = json::array();
    return s.doc["gpus"];
}

// The numeric value of `key` in `object`, or `fallback` when absent. Throws when not a number.
template <class T>
T number(const json& object, const char* key, T fallback) {
    const auto it = object.find(key);
    if (it == object.end()) return fallback;
    if (!it->is_number()) throw std::runtime_error(std::string("\"") + key + "\" is not a number");
    return it->get<T>();
}

// One NVML call: takes the lock, refreshes the state, applies injected errors and "supported"
// switches, and resolves the device handle to its JSON object. A setter (`writes`) also takes the
// state file's lock and re-reads the file under it, so its read-modify-write loses no update of
// another process.
class Call {
public:
    Call(const char* function, nvmlDevice_t device, bool needs_device, bool writes = false)
        : m_lock(state().mutex), m_function(function) {
        FakeState& s = state();
        if (s.init_count == 0) {
            m_rc = nv::kErrorUninitialized;
            return;
        }
        if (writes) {
            m_file_lock.emplace(s.path);
            if (!m_file_lock->ok()) {
                complain(m_file_lock->error());
                m_rc = nv::kErrorUnknown;
                return;
            }
            s.loaded = false;  // what another process wrote since the last call
        }
        if (!refresh(s)) {
            m_rc = nv::kErrorUnknown;
            return;
        }
        try {
            if (needs_device) {
                json& list = gpus(s);
                const auto* first = s.handles.data();
                if (device == nullptr || device < first || device >= first + kMaxGpus ||
                    device->index >= list.size()) {
                    m_rc = nv::kErrorInvalidArgument;
                    return;
                }
                m_gpu_index = device->index;
                m_gpu = &list[device->index];
                if (!m_gpu->is_object()) throw std::runtime_error("gpu entry is not an object");
                if (const int rc = injected(*m_gpu); rc != 0) {
                    m_rc = rc;
                    return;
                }
                const auto supported = m_gpu->find("supported");
                if (supported != m_gpu->end() && supported->is_object()) {
                    const auto flag = supported->find(function);
                    if (flag != supported->end() && flag->is_boolean() && !flag->get<bool>()) {
                        m_rc = nv::kErrorNotSupported;
                        return;
                    }
                }
            }
            if (const int rc = injected(s.doc); rc != 0) m_rc = rc;
        } catch (const std::exception& e) {
            fail(e);
        }
    }

    [[nodiscard]] bool ok() const { return m_rc == nv::kSuccess; }
    [[nodiscard]] nvmlReturn_t rc() const { return m_rc; }
    json& gpu() { return *m_gpu; }
    [[nodiscard]] bool has_gpu() const { return m_gpu != nullptr; }
    [[nodiscard]] unsigned gpu_index() const { return m_gpu_index; }

    // Reports a malformed state file, naming file, function and problem.
    nvmlReturn_t fail(const std::exception& e) {
        complain("state file " + state().path + ": " + m_function +
                 (m_gpu != nullptr ? " of gpus[" + std::to_string(m_gpu_index) + "]" : "") + ": " +
                 e.what());
        m_rc = nv::kErrorUnknown;
        return m_rc;
    }

private:
    [[nodiscard]] int injected(const json& object) const {
        const auto errors = object.find("errors");
        if (errors == object.end() || !errors->is_object()) return 0;
        const auto code = errors->find(m_function);
        if (code == errors->end()) return 0;
        if (!code->is_number_integer()) {
            throw std::runtime_error(std::string("errors.") + m_function + " is not an integer");
        }
        return code->get<int>();
    }

    std::lock_guard<std::mutex> m_lock;
    std::optional<joulebench::fake_nvml::StateFileLock> m_file_lock;  // setters only
    const char* m_function;
    nvmlReturn_t m_rc = nv::kSuccess;
    json* m_gpu = nullptr;
    unsigned m_gpu_index = 0;
};

nvmlReturn_t copy_string(const std::string& value, char* buffer, unsigned length) {
    if (buffer == nullptr) return nv::kErrorInvalidArgument;
    if (value.size() + 1 > length) return nv::kErrorInsufficientSize;
    std::memcpy(buffer, value.c_str(), value.size() + 1);
    return nv::kSuccess;
}

// A getter of one unsigned field of a GPU.
template <class T>
nvmlReturn_t get_field(const char* function, nvmlDevice_t device, T* out, const char* key,
                       T fallback) {
    Call call(function, device, true);
    if (!call.ok()) return call.rc();
    if (out == nullptr) return nv::kErrorInvalidArgument;
    try {
        *out = number<T>(call.gpu(), key, fallback);
    } catch (const std::exception& e) {
        return call.fail(e);
    }
    return nv::kSuccess;
}

json& limits_of(json& gpu) {
    if (!gpu.contains("limits")) gpu["limits"] = json::object();
    return gpu["limits"];
}

constexpr unsigned kDefaultLimitMw = 300000;

}  // namespace

extern "C" {

nvmlReturn_t nvmlInit_v2(void) {
    FakeState& s = state();
    const std::lock_guard lock(s.mutex);
    const char* path = std::getenv("JOULEBENCH_FAKE_NVML_STATE");
    if (path == nullptr || *path == 0) return nv::kErrorDriverNotLoaded;  // "no driver"
    if (s.init_count == 0 || s.path != path) {
        s.path = path;
        s.loaded = false;
    }
    if (!refresh(s)) return nv::kErrorUnknown;
    const auto errors = s.doc.find("errors");
    if (errors != s.doc.end() && errors->is_object()) {
        const auto code = errors->find("nvmlInit_v2");
        if (code != errors->end() && code->is_number_integer() && code->get<int>() != 0) {
            return code->get<int>();
        }
    }
    for (unsigned i = 0; i < kMaxGpus; ++i) s.handles[i].index = i;
    ++s.init_count;
    return nv::kSuccess;
}

nvmlReturn_t nvmlShutdown(void) {
    FakeState& s = state();
    const std::lock_guard lock(s.mutex);
    if (s.init_count == 0) return nv::kErrorUninitialized;
    --s.init_count;
    return nv::kSuccess;
}

const char* nvmlErrorString(nvmlReturn_t result) {
    // NVML's own texts.
    switch (result) {
        case nv::kSuccess: return "Success";
        case nv::kErrorUninitialized: return "Uninitialized";
        case nv::kErrorInvalidArgument: return "Invalid Argument";
        case nv::kErrorNotSupported: return "Not Supported";
        case nv::kErrorNoPermission: return "Insufficient Permissions";
        case nv::kErrorAlreadyInitialized: return "Already Initialized";
        case nv::kErrorNotFound: return "Not Found";
        case nv::kErrorInsufficientSize: return "Insufficient Size";
        case nv::kErrorInsufficientPower: return "Insufficient External Power";
        case nv::kErrorDriverNotLoaded: return "Driver Not Loaded";
        case nv::kErrorTimeout: return "Timeout";
        case nv::kErrorIrqIssue: return "Interrupt request issue";
        case nv::kErrorLibraryNotFound: return "NVML Shared Library Not Found";
        case nv::kErrorFunctionNotFound: return "Function Not Found";
        case nv::kErrorCorruptedInforom: return "Corrupted infoROM";
        case nv::kErrorGpuIsLost: return "GPU is lost";
        case nv::kErrorResetRequired: return "GPU requires restart";
        case nv::kErrorOperatingSystem: return "The operating system has blocked the request.";
        case nv::kErrorLibRmVersionMismatch: return "RM has detected an NVML/RM version mismatch.";
        case nv::kErrorInUse: return "In use by another client";
        case nv::kErrorMemory: return "Insufficient Memory";
        case nv::kErrorNoData: return "No data";
        default: return "Unknown Error";
    }
}

nvmlReturn_t nvmlDeviceGetCount_v2(unsigned int* deviceCount) {
    Call call("nvmlDeviceGetCount_v2", nullptr, false);
    if (!call.ok()) return call.rc();
    if (deviceCount == nullptr) return nv::kErrorInvalidArgument;
    *deviceCount = static_cast<unsigned>(gpus(state()).size());
    return nv::kSuccess;
}

nvmlReturn_t nvmlDeviceGetHandleByIndex_v2(unsigned int index, nvmlDevice_t* device) {
    Call call("nvmlDeviceGetHandleByIndex_v2", nullptr, false);
    if (!call.ok()) return call.rc();
    FakeState& s = state();
    if (device == nullptr || index >= gpus(s).size()) return nv::kErrorInvalidArgument;
    // Per-GPU injected errors for this call (e.g. a GPU outside the container).
    const json& gpu = gpus(s)[index];
    const auto errors = gpu.find("errors");
    if (errors != gpu.end() && errors->is_object()) {
        const auto code = errors->find("nvmlDeviceGetHandleByIndex_v2");
        if (code != errors->end() && code->is_number_integer()) return code->get<int>();
    }
    *device = &s.handles[index];
    return nv::kSuccess;
}

nvmlReturn_t nvmlDeviceGetName(nvmlDevice_t device, char* name, unsigned int length) {
    Call call("nvmlDeviceGetName", device, true);
    if (!call.ok()) return call.rc();
    try {
        return copy_string(call.gpu().value("name", std::string("NVIDIA Fake GPU")), name, length);
    } catch (const std::exception& e) {
        return call.fail(e);
    }
}

nvmlReturn_t nvmlDeviceGetUUID(nvmlDevice_t device, char* uuid, unsigned int length) {
    Call call("nvmlDeviceGetUUID", device, true);
    if (!call.ok()) return call.rc();
    try {
        const std::string fallback =
            "GPU-00000000-0000-0000-0000-" + std::to_string(100000000000 + call.gpu_index());
        return copy_string(call.gpu().value("uuid", fallback), uuid, length);
    } catch (const std::exception& e) {
        return call.fail(e);
    }
}

nvmlReturn_t nvmlDeviceGetMinorNumber(nvmlDevice_t device, unsigned int* minor) {
    Call call("nvmlDeviceGetMinorNumber", device, true);
    if (!call.ok()) return call.rc();
    if (minor == nullptr) return nv::kErrorInvalidArgument;
    try {
        // /dev/nvidiaN; by default N is the GPU's position in the state file.
        *minor = call.gpu().value("minor", static_cast<unsigned>(call.gpu_index()));
        return nv::kSuccess;
    } catch (const std::exception& e) {
        return call.fail(e);
    }
}

nvmlReturn_t nvmlSystemGetDriverVersion(char* version, unsigned int length) {
    Call call("nvmlSystemGetDriverVersion", nullptr, false);
    if (!call.ok()) return call.rc();
    try {
        return copy_string(state().doc.value("driver_version", std::string("550.54.15")), version,
                           length);
    } catch (const std::exception& e) {
        return call.fail(e);
    }
}

nvmlReturn_t nvmlDeviceGetPciInfo_v3(nvmlDevice_t device, nvmlPciInfo_t* pci) {
    Call call("nvmlDeviceGetPciInfo_v3", device, true);
    if (!call.ok()) return call.rc();
    if (pci == nullptr) return nv::kErrorInvalidArgument;
    try {
        const std::string bus_id = call.gpu().value("pci_bus_id", std::string());
        unsigned domain = 0;
        unsigned bus = 0;
        unsigned dev = 0;
        unsigned function = 0;
        if (std::sscanf(bus_id.c_str(), "%x:%x:%x.%x", &domain, &bus, &dev, &function) != 4 ||
            bus_id.size() >= sizeof(pci->busId)) {
            throw std::runtime_error("pci_bus_id '" + bus_id + "' is not domain:bus:device.function");
        }
        *pci = nvmlPciInfo_t{};
        std::snprintf(pci->busIdLegacy, sizeof(pci->busIdLegacy), "%04X:%02X:%02X.%X",
                      domain & 0xFFFFU, bus & 0xFFU, dev & 0xFFU, function & 0xFU);
        std::memcpy(pci->busId, bus_id.c_str(), bus_id.size() + 1);
        pci->domain = domain;
        pci->bus = bus;
        pci->device = dev;
        pci->pciDeviceId = 0x20B010DE;  // an A100's device/vendor id
        pci->pciSubSystemId = 0x134F10DE;
    } catch (const std::exception& e) {
        return call.fail(e);
    }
    return nv::kSuccess;
}

nvmlReturn_t nvmlDeviceGetTotalEnergyConsumption(nvmlDevice_t device, unsigned long long* energy) {
    // The time first, then the state (fake_nvml_power.hpp, read_energy_mj): the counter never
    // steps back when a workload changes the power between the two.
    std::optional<Call> call;
    try {
        const auto mj = joulebench::fake_nvml::read_energy_mj(&monotonic_ns, [&] {
            call.emplace("nvmlDeviceGetTotalEnergyConsumption", device, true);
            if (!call->ok() || energy == nullptr) return joulebench::fake_nvml::GpuView{};
            return joulebench::fake_nvml::GpuView{&call->gpu(), state().loaded_at_ns};
        });
        if (!call->ok()) return call->rc();
        if (energy == nullptr) return nv::kErrorInvalidArgument;
        *energy = static_cast<unsigned long long>(*mj);
    } catch (const std::exception& e) {
        return call ? call->fail(e) : nv::kErrorUnknown;
    }
    return nv::kSuccess;
}

nvmlReturn_t nvmlDeviceGetPowerUsage(nvmlDevice_t device, unsigned int* power) {
    Call call("nvmlDeviceGetPowerUsage", device, true);
    if (!call.ok()) return call.rc();
    if (power == nullptr) return nv::kErrorInvalidArgument;
    try {
        *power = static_cast<unsigned>(joulebench::fake_nvml::power_now_mw(call.gpu()));
    } catch (const std::exception& e) {
        return call.fail(e);
    }
    return nv::kSuccess;
}

nvmlReturn_t nvmlDeviceGetTemperature(nvmlDevice_t device, nvmlTemperatureSensors_t sensorType,
                                      unsigned int* temp) {
    if (sensorType != nv::kTemperatureGpu) return nv::kErrorInvalidArgument;
    return get_field<unsigned>("nvmlDeviceGetTemperature", device, temp, "temperature_c", 40U);
}

nvmlReturn_t nvmlDeviceGetClockInfo(nvmlDevice_t device, nvmlClockType_t type, unsigned int* clock) {
    if (type != nv::kClockSm) return nv::kErrorNotSupported;  // the fake models the SM clock only
    return get_field<unsigned>("nvmlDeviceGetClockInfo", device, clock, "sm_clock_mhz", 1410U);
}

nvmlReturn_t nvmlDeviceGetUtilizationRates(nvmlDevice_t device, nvmlUtilization_t* utilization) {
    Call call("nvmlDeviceGetUtilizationRates", device, true);
    if (!call.ok()) return call.rc();
    if (utilization == nullptr) return nv::kErrorInvalidArgument;
    try {
        utilization->gpu = number<unsigned>(call.gpu(), "utilization_gpu", 0U);
        utilization->memory = number<unsigned>(call.gpu(), "utilization_memory", 0U);
    } catch (const std::exception& e) {
        return call.fail(e);
    }
    return nv::kSuccess;
}

nvmlReturn_t nvmlDeviceGetCurrentClocksEventReasons(nvmlDevice_t device,
                                                    unsigned long long* clocksEventReasons) {
    return get_field<unsigned long long>("nvmlDeviceGetCurrentClocksEventReasons", device,
                                         clocksEventReasons, "clocks_event_reasons", 0ULL);
}

nvmlReturn_t nvmlDeviceGetCurrentClocksThrottleReasons(nvmlDevice_t device,
                                                       unsigned long long* clocksThrottleReasons) {
    return get_field<unsigned long long>("nvmlDeviceGetCurrentClocksThrottleReasons", device,
                                         clocksThrottleReasons, "clocks_event_reasons", 0ULL);
}

nvmlReturn_t nvmlDeviceGetEnforcedPowerLimit(nvmlDevice_t device, unsigned int* limit) {
    Call call("nvmlDeviceGetEnforcedPowerLimit", device, true);
    if (!call.ok()) return call.rc();
    if (limit == nullptr) return nv::kErrorInvalidArgument;
    try {
        *limit = number<unsigned>(limits_of(call.gpu()), "enforced_mw", kDefaultLimitMw);
    } catch (const std::exception& e) {
        return call.fail(e);
    }
    return nv::kSuccess;
}

nvmlReturn_t nvmlDeviceGetPowerManagementLimit(nvmlDevice_t device, unsigned int* limit) {
    Call call("nvmlDeviceGetPowerManagementLimit", device, true);
    if (!call.ok()) return call.rc();
    if (limit == nullptr) return nv::kErrorInvalidArgument;
    try {
        *limit = number<unsigned>(limits_of(call.gpu()), "current_mw", kDefaultLimitMw);
    } catch (const std::exception& e) {
        return call.fail(e);
    }
    return nv::kSuccess;
}

nvmlReturn_t nvmlDeviceGetPowerManagementLimitConstraints(nvmlDevice_t device,
                                                          unsigned int* minLimit,
                                                          unsigned int* maxLimit) {
    Call call("nvmlDeviceGetPowerManagementLimitConstraints", device, true);
    if (!call.ok()) return call.rc();
    if (minLimit == nullptr || maxLimit == nullptr) return nv::kErrorInvalidArgument;
    try {
        const json& limits = limits_of(call.gpu());
        *minLimit = number<unsigned>(limits, "min_mw", kDefaultLimitMw / 3);
        *maxLimit = number<unsigned>(limits, "max_mw", kDefaultLimitMw);
    } catch (const std::exception& e) {
        return call.fail(e);
    }
    return nv::kSuccess;
}

nvmlReturn_t nvmlDeviceGetPowerManagementDefaultLimit(nvmlDevice_t device,
                                                      unsigned int* defaultLimit) {
    Call call("nvmlDeviceGetPowerManagementDefaultLimit", device, true);
    if (!call.ok()) return call.rc();
    if (defaultLimit == nullptr) return nv::kErrorInvalidArgument;
    try {
        *defaultLimit = number<unsigned>(limits_of(call.gpu()), "default_mw", kDefaultLimitMw);
    } catch (const std::exception& e) {
        return call.fail(e);
    }
    return nv::kSuccess;
}

nvmlReturn_t nvmlDeviceSetPowerManagementLimit(nvmlDevice_t device, unsigned int limit) {
    Call call("nvmlDeviceSetPowerManagementLimit", device, true, true);
    FakeState& s = state();
    nvmlReturn_t rc = call.rc();
    try {
        if (call.ok()) {
            json& limits = limits_of(call.gpu());
            const auto min_mw = number<unsigned>(limits, "min_mw", kDefaultLimitMw / 3);
            const auto max_mw = number<unsigned>(limits, "max_mw", kDefaultLimitMw);
            if (limit < min_mw || limit > max_mw) {
                rc = nv::kErrorInvalidArgument;
            } else {
                // Under a load the power follows the limit: the energy so far is kept.
                if (joulebench::fake_nvml::has_demand(call.gpu())) {
                    joulebench::fake_nvml::fold_energy(call.gpu(), monotonic_ns(), s.loaded_at_ns);
                }
                limits["current_mw"] = limit;
                limits["enforced_mw"] = limit;
            }
        }
        // Log every call that reached a device, successful or not, so tests can check the order.
        if (call.has_gpu()) {
            if (!s.doc.contains("calls")) s.doc["calls"] = json::array();
            s.doc["calls"].push_back({{"function", "nvmlDeviceSetPowerManagementLimit"},
                                      {"gpu", call.gpu_index()},
                                      {"value", limit},
                                      {"result", rc},
                                      {"monotonic_ns", monotonic_ns()}});
            if (!write_back(s)) return nv::kErrorUnknown;
        }
    } catch (const std::exception& e) {
        return call.fail(e);
    }
    return rc;
}

nvmlReturn_t nvmlDeviceGetPersistenceMode(nvmlDevice_t device, nvmlEnableState_t* mode) {
    Call call("nvmlDeviceGetPersistenceMode", device, true);
    if (!call.ok()) return call.rc();
    if (mode == nullptr) return nv::kErrorInvalidArgument;
    try {
        const auto it = call.gpu().find("persistence_mode");
        const bool on = it == call.gpu().end() || it->get<bool>();
        *mode = on ? nv::kFeatureEnabled : nv::kFeatureDisabled;
    } catch (const std::exception& e) {
        return call.fail(e);
    }
    return nv::kSuccess;
}

}  // extern "C"

// Taking the address of every entry of the .def makes a missing definition a link error.
namespace {
[[gnu::used]] const void* const kEntryPoints[] = {
#define JOULEBENCH_NVML_ENTRY(need, ret, name, params) reinterpret_cast<const void*>(&name),
#include "sensors/nvml/nvml_api.def"
#undef JOULEBENCH_NVML_ENTRY
};
}  // namespace
