#pragma once
/// The NVML entry-point table and the loaded library that owns it.
///
/// NvmlApi is a plain table of function pointers built from nvml_api.def; a null pointer means the
/// symbol is absent. NvmlLibrary dlopen's libnvidia-ml (or takes a table built by hand, for tests),
/// calls nvmlInit_v2 on construction and nvmlShutdown on destruction. Sensors and the power capper
/// share one NvmlLibrary through a shared_ptr, so NVML stays initialised while any of them lives.

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "joulebench/error.hpp"
#include "sensors/api_table.hpp"
#include "sensors/nvml/nvml_types.hpp"

namespace joulebench::nvml {

/// One function pointer per entry of nvml_api.def, named like the NVML function (so a reader can
/// grep for it); nullptr when the library lacks the symbol.
struct NvmlApi {
#define JOULEBENCH_NVML_ENTRY(need, ret, name, params) ret(*name) params = nullptr;
#include "sensors/nvml/nvml_api.def"
#undef JOULEBENCH_NVML_ENTRY
};

/// Static facts about each entry of nvml_api.def.
using NvmlEntryPoint = ApiEntryPoint;
/// Every entry point we use, in .def order.
[[nodiscard]] const std::vector<NvmlEntryPoint>& nvml_entry_points();

/// Where the library search starts. `explicit_path` (a command-line override) wins; otherwise
/// $JOULEBENCH_NVML_LIBRARY when set; then each of `candidates` (sonames, searched by dlopen),
/// but only when one of `driver_markers` exists: without the NVIDIA kernel driver (its
/// /proc/driver/nvidia and /dev/nvidiactl; /dev/dxg is WSL2's GPU device) no libnvidia-ml can
/// initialise, and a failed dlopen search of the standard names costs every `measure` about
/// 0.1 ms of start-up (some 40 failed opens). The skip is said in the "not found" message.
struct NvmlLibraryOptions {
    std::optional<std::string> explicit_path;
    std::vector<std::string> candidates{"libnvidia-ml.so.1", "libnvidia-ml.so"};
    std::vector<std::string> driver_markers{"/proc/driver/nvidia", "/dev/nvidiactl", "/dev/dxg"};
};

/// NVML's symbolic name of a return code ("NVML_ERROR_NO_PERMISSION"), or "NVML_ERROR_<n>".
[[nodiscard]] std::string return_code_name(nvmlReturn_t code);

class NvmlLibrary {
public:
    /// dlopen's the first loadable library of the search order, resolves every entry point and
    /// calls nvmlInit_v2. Throws Error: kNotFound when no library loads ("nvml: library not found:
    /// tried ..." naming each attempt and its dlerror), kNotSupported when a required symbol is
    /// missing, and the category of the nvmlInit_v2 failure ("nvmlInit_v2 failed: Driver Not Loaded").
    static std::shared_ptr<NvmlLibrary> load(const NvmlLibraryOptions& options = {});

    /// dlopen's exactly `path` and resolves its symbols without calling nvmlInit_v2: for tests that
    /// want a real table to edit (null some entries) before handing it to `from_table`. The handle
    /// is kept open for the life of the process. Throws Error kNotFound when dlopen fails.
    static NvmlApi resolve_table(const std::string& path);

    /// Takes a table built by hand (tests) and calls nvmlInit_v2 through it. Throws like load()
    /// when a required entry is null or init fails.
    static std::shared_ptr<NvmlLibrary> from_table(const NvmlApi& api, std::string description);

    NvmlLibrary(const NvmlLibrary&) = delete;
    NvmlLibrary& operator=(const NvmlLibrary&) = delete;
    /// Calls nvmlShutdown and dlclose; never throws.
    ~NvmlLibrary();

    [[nodiscard]] const NvmlApi& api() const { return m_api; }
    /// The path or soname that was loaded, or the description given to from_table.
    [[nodiscard]] const std::string& description() const { return m_description; }
    /// Why earlier candidates of the search order did not load (empty when the first one did).
    [[nodiscard]] const std::vector<std::string>& search_notes() const { return m_search_notes; }
    /// Optional entry points the library lacks.
    [[nodiscard]] std::vector<std::string> missing_optional() const;

    /// nvmlErrorString(code) (falls back to the symbolic name); never throws, never null.
    [[nodiscard]] std::string error_string(nvmlReturn_t code) const noexcept;

    /// An Error for a failed NVML call: message `nvml: <action>: <nvmlErrorString>`; the category
    /// follows the code (NO_PERMISSION -> kNoPermission with a hint, NOT_SUPPORTED ->
    /// kNotSupported, GPU_IS_LOST -> kDeviceLost, INVALID_ARGUMENT -> kInvalidArgument, ...).
    [[nodiscard]] Error make_error(nvmlReturn_t code, const std::string& action) const;

private:
    NvmlLibrary(void* handle, const NvmlApi& api, std::string description,
                std::vector<std::string> search_notes);

    void* m_handle = nullptr;  // dlopen handle, null for hand-built tables
    bool m_initialised = false;  // nvmlInit_v2 succeeded: the destructor shuts down
    NvmlApi m_api;
    std::string m_description;
    std::vector<std::string> m_search_notes;
};

/// The category NVML's return code maps to.
[[nodiscard]] ErrorCategory category_of(nvmlReturn_t code);

}  // namespace joulebench::nvml
