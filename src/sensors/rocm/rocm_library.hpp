#pragma once
/// The ROCm SMI entry-point table and the loaded library that owns it (as nvml_library.hpp).
///
/// RocmApi is a plain table of function pointers built from rocm_smi_api.def; a null pointer means
/// the symbol is absent. RocmLibrary dlopen's librocm_smi64 (or takes a table built by hand, for
/// tests), calls rsmi_init on construction and rsmi_shut_down on destruction. Sensors share one
/// RocmLibrary through a shared_ptr, so ROCm SMI stays initialised while any of them lives.

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "joulebench/error.hpp"
#include "sensors/api_table.hpp"
#include "sensors/rocm/rocm_smi_types.hpp"

namespace joulebench::rocm {

/// One function pointer per entry of rocm_smi_api.def, named like the ROCm SMI function;
/// nullptr when the library lacks the symbol.
struct RocmApi {
#define JOULEBENCH_ROCM_SMI_ENTRY(need, ret, name, params) ret(*name) params = nullptr;
#include "sensors/rocm/rocm_smi_api.def"
#undef JOULEBENCH_ROCM_SMI_ENTRY
};

/// Static facts about each entry of rocm_smi_api.def.
using RocmEntryPoint = ApiEntryPoint;
/// Every entry point we use, in .def order.
[[nodiscard]] const std::vector<RocmEntryPoint>& rocm_entry_points();

/// Where the library search starts: `explicit_path`, else $JOULEBENCH_ROCM_SMI_LIBRARY when set,
/// then `candidates` (searched by dlopen) only when one of `driver_markers` exists: ROCm SMI
/// reads the GPUs of the amdgpu driver's KFD (/sys/class/kfd, /dev/kfd); without them it has
/// nothing to report and the failed search would cost every start-up (see library_search.hpp).
struct RocmLibraryOptions {
    std::optional<std::string> explicit_path;
    std::vector<std::string> candidates{"librocm_smi64.so.1", "librocm_smi64.so"};
    std::vector<std::string> driver_markers{"/sys/class/kfd", "/dev/kfd"};
};

/// ROCm SMI's symbolic name of a status ("RSMI_STATUS_PERMISSION"), or "RSMI_STATUS_<n>".
[[nodiscard]] std::string status_name(rsmi_status_t status);

/// The category a ROCm SMI status maps to.
[[nodiscard]] ErrorCategory category_of(rsmi_status_t status);

class RocmLibrary {
public:
    /// dlopen's the first loadable library of the search order, resolves every entry point and
    /// calls rsmi_init(0). Throws Error: kNotFound when no library loads ("rocm: library not
    /// found: tried ..." naming each attempt and its dlerror), kNotSupported when a required
    /// symbol is missing, and the category of the rsmi_init failure ("rocm: rsmi_init failed:
    /// ...").
    static std::shared_ptr<RocmLibrary> load(const RocmLibraryOptions& options = {});

    /// dlopen's exactly `path` and resolves its symbols without calling rsmi_init (tests: a real
    /// table to check or edit). The handle stays open for the life of the process. Throws Error
    /// kNotFound when dlopen fails.
    static RocmApi resolve_table(const std::string& path);

    /// Takes a table built by hand (tests) and calls rsmi_init through it. Throws like load().
    static std::shared_ptr<RocmLibrary> from_table(const RocmApi& api, std::string description);

    RocmLibrary(const RocmLibrary&) = delete;
    RocmLibrary& operator=(const RocmLibrary&) = delete;
    /// Calls rsmi_shut_down and dlclose; never throws.
    ~RocmLibrary();

    [[nodiscard]] const RocmApi& api() const { return m_api; }
    /// The path or soname that was loaded, or the description given to from_table.
    [[nodiscard]] const std::string& description() const { return m_description; }
    /// Why earlier candidates of the search order did not load.
    [[nodiscard]] const std::vector<std::string>& search_notes() const { return m_search_notes; }
    /// Optional entry points the library lacks.
    [[nodiscard]] std::vector<std::string> missing_optional() const;

    /// rsmi_status_string's text (falls back to the symbolic name); never throws.
    [[nodiscard]] std::string error_string(rsmi_status_t status) const noexcept;

    /// An Error for a failed call: `rocm: <action>: <status text>`, category from category_of,
    /// a hint for RSMI_STATUS_PERMISSION.
    [[nodiscard]] Error make_error(rsmi_status_t status, const std::string& action) const;

private:
    RocmLibrary(const RocmApi& api, std::string description, std::vector<std::string> search_notes);

    void* m_handle = nullptr;    // dlopen handle, null for hand-built tables
    bool m_initialised = false;  // rsmi_init succeeded: the destructor shuts down
    RocmApi m_api;
    std::string m_description;
    std::vector<std::string> m_search_notes;
};

}  // namespace joulebench::rocm
